import os, sys
from pathlib import Path
import pytest

ROOT = Path(__file__).resolve().parent.parent

@pytest.fixture
def root(): return ROOT

def run_module(mod, *args, cwd=None, env=None):
    "Run `python -m mod args…` as a user would; returns CompletedProcess."
    import subprocess
    e = dict(os.environ, **(env or {}))
    return subprocess.run([sys.executable, "-m", mod, *map(str, args)], cwd=cwd or ROOT, env=e,
                          capture_output=True, text=True, timeout=300)


# Prepended to code run in a subprocess: the training stack, and what the lean install leaves to extras (pyarrow, the
# PostgreSQL/Supabase/Telegram clients), cannot be imported there, as on the client lane.
CLIENT_LANE_BLOCK = """
import sys, importlib.abc
class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name.split(".")[0] in {"sklearn", "lightgbm", "xgboost", "shap", "optuna", "skl2onnx", "onnxmltools",
                                    "pyarrow", "psycopg", "supabase", "telegram"}:
            raise ModuleNotFoundError(f"No module named {name!r} (blocked: client lane)")
sys.meta_path.insert(0, Block())
"""
