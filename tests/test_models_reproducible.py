"""The committed model set is reproducible by the README's command (same data, config and seed -> same bytes)."""
import json
import pytest
from conftest import run_module, ROOT
from novosky.models import library_versions, sha256_file


@pytest.mark.slow
def test_committed_models_are_reproducible(tmp_path):
    man = json.loads((ROOT / "models/model_compat.json").read_text())
    if man["versions"] != library_versions():
        pytest.skip(f"library versions differ from those the models were trained with: {man['versions']} vs {library_versions()}")
    r = run_module("novosky.train", "--models-dir", tmp_path)
    assert r.returncode == 0, r.stderr
    for model in man["models"].values():
        for rel, sha in model["artifacts"].items():
            assert sha256_file(tmp_path / rel) == sha, f"{rel} differs from the committed artifact"
