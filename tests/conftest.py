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
