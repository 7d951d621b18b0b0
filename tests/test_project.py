"""Project-level checks: README in step, sample shipped with its licence, no secrets tracked."""
import json, re, subprocess, sys
from conftest import ROOT


def test_readme_in_step_with_index():
    r = subprocess.run([sys.executable, str(ROOT / ".ci/readme.py"), "--check"], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout


def test_sample_and_licence_ship_in_the_package():
    import novosky.data as d
    assert d.sample_path().is_file() and (d.sample_path().parent / "EURUSD_H1.LICENSE").is_file()
    assert "MIT License" in (d.sample_path().parent / "EURUSD_H1.LICENSE").read_text()


def test_no_secret_values_in_tracked_files():
    files = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True).stdout.split()
    pat = re.compile(r"(\d{8,10}:[A-Za-z0-9_-]{35})|(hf_[A-Za-z0-9]{30,})|(eyJ[A-Za-z0-9_-]{20,}\.[A-Za-z0-9_-]{20,})")
    for f in files:
        p = ROOT / f
        if p.suffix in (".csv", ".parquet", ".onnx", ".pkl", ".png") or not p.is_file(): continue
        assert not pat.search(p.read_text(errors="ignore")), f"{f} looks like it holds a token"


def test_tracked_configs_validate():
    from novosky.config import load_all
    s = load_all(ROOT)
    assert len(s.ml.features) == 59
    b = json.loads((ROOT / "config/brokers.json").read_text())
    for broker in b["brokers"].values():
        assert {"EURUSD", "XAUUSD", "GBPUSD", "USDJPY", "BTCUSD"} <= set(broker["symbols"])


def test_a_module_imports_only_from_lower_numbered_notebooks():
    "The notebook map's rule: 11d1_refit may import 11d_tune, never the reverse (imports inside functions included)."
    import re
    from pathlib import Path
    order = lambda nb: [(int(t) if t.isdigit() else t) for t in re.findall(r"\d+|[a-z]+", nb.split("_")[0])]
    made = {}
    for f in (ROOT / "novosky").glob("*.py"):
        m = re.search(r"File to edit: \.\./nbs/([^.]+)\.ipynb", f.read_text())
        if m: made[f.stem] = m.group(1)
    assert len(made) > 30
    wrong = [(mod, imp) for mod, nb in made.items()
             for imp in set(re.findall(r"^\s*(?:from|import) (?:\.|novosky\.)(\w+)", (ROOT / "novosky" / f"{mod}.py").read_text(), re.M))
             if imp in made and imp != mod and order(made[imp]) >= order(nb)]
    assert not wrong, f"modules importing from a notebook at or after their own: {wrong}"
