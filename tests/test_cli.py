"""The command-line entry points, run as a user runs them (subprocesses)."""
import json
import pandas as pd
from conftest import run_module, ROOT
from novosky.data import sample, to_mt5_csv, synthetic_ohlcv


def test_data_cli_summarises_the_sample():
    r = run_module("novosky.data")
    assert r.returncode == 0, r.stderr
    assert "format: dukascopy" in r.stdout and "6,225 kept of 6,225" in r.stdout and "timeframe: H1" in r.stdout


def test_data_cli_reads_an_mt5_export(tmp_path):
    p = tmp_path / "EURUSD_H1.csv"
    to_mt5_csv(sample().iloc[:1000], p, utc_offset_hours=2)
    r = run_module("novosky.data", p, "--utc-offset", 2, "--json")
    assert r.returncode == 0, r.stderr
    rep = json.loads(r.stdout)
    assert rep["format"] == "mt5" and rep["rows_out"] == 1000 and rep["start"] == "2017-01-01 22:00:00"


def test_data_cli_refuses_an_unusable_file(tmp_path):
    p = tmp_path / "notes.csv"
    p.write_text("Time,Open,High,Low,Close\n02.01.2017 00:00:00.000,1.05,oops,1.04,1.05\n")
    r = run_module("novosky.data", p)
    assert r.returncode == 1
    assert "line 2, field 'High': 'oops' is not a number" in r.stderr
    assert "Traceback" not in r.stderr


def test_data_cli_strict_fails_on_repairs(tmp_path):
    lines = (ROOT / "novosky/sample/EURUSD_H1.csv").read_text().splitlines()[:50]
    lines.insert(10, lines[9])                                   # duplicate bar
    p = tmp_path / "dup.csv"; p.write_text("\n".join(lines) + "\n")
    assert run_module("novosky.data", p).returncode == 0
    r = run_module("novosky.data", p, "--strict")
    assert r.returncode == 1 and "duplicate timestamp" in r.stderr


def test_config_cli(tmp_path):
    r = run_module("novosky.config")
    assert r.returncode == 0 and "features: 59" in r.stdout, r.stderr
    cfg = json.loads((ROOT / "config.json").read_text()); cfg["risk"]["risk_pct"] = 50
    (tmp_path / "config.json").write_text(json.dumps(cfg))
    r = run_module("novosky.config", "--config", tmp_path / "config.json", "--root", ROOT)
    assert r.returncode == 1 and "risk.risk_pct: 50 is out of range" in r.stderr


def test_help_on_every_command():
    for mod in ("novosky.data", "novosky.config"):
        r = run_module(mod, "--help")
        assert r.returncode == 0 and "usage:" in r.stdout


def test_config_found_via_novosky_home(tmp_path):
    "Running from elsewhere works when NOVOSKY_HOME points at the project."
    r = run_module("novosky.config", cwd=tmp_path, env={"NOVOSKY_HOME": str(ROOT)})
    assert r.returncode == 0, r.stderr
