"""`python -m novosky.train` and `python -m novosky.backtest` as a user runs them, on an MT5-format export."""
import json
import pandas as pd
from conftest import run_module, ROOT
from novosky.data import sample, to_mt5_csv


def test_train_then_backtest_an_mt5_export(tmp_path):
    src = tmp_path / "EURUSD_H1.csv"
    to_mt5_csv(sample(), src, utc_offset_hours=2)                       # as MT5 exports it: server time, tabs
    m = tmp_path / "models"
    r = run_module("novosky.train", "--data", src, "--utc-offset", 2, "--models-dir", m)
    assert r.returncode == 0, r.stderr
    assert "risk: done" in r.stdout and "signal OOS [ensemble]" in r.stdout
    man = json.loads((m / "model_compat.json").read_text())
    assert set(man["models"]) == {"signal", "position", "sltp", "risk"}
    r = run_module("novosky.backtest", "--data", src, "--utc-offset", 2, "--models-dir", m, "--json", tmp_path / "s.json",
                   "--plot", tmp_path / "eq.png", "--trades", tmp_path / "t.csv", "--no-progress")
    assert r.returncode == 0, r.stderr
    s = json.loads((tmp_path / "s.json").read_text())
    assert s["metrics"]["window"].startswith("2017-09-29") and s["baselines"]["random_entries"]["runs"] > 0
    assert (tmp_path / "eq.png").stat().st_size > 10_000
    assert len(pd.read_csv(tmp_path / "t.csv")) == s["metrics"]["fills"]


def test_train_refuses_out_of_order(tmp_path):
    r = run_module("novosky.train", "--models-dir", tmp_path / "m", "--steps", "sltp")
    assert r.returncode == 1 and "train signal first" in r.stderr and "Traceback" not in r.stderr


def test_backtest_refuses_models_of_another_feature_list(tmp_path):
    ml = json.loads((ROOT / "ml_config.json").read_text()); ml["features"][5] = "ret_64"
    for f in ("config.json",): (tmp_path / f).write_text((ROOT / f).read_text())
    (tmp_path / "ml_config.json").write_text(json.dumps(ml))
    (tmp_path / "config").mkdir(); (tmp_path / "config/brokers.json").write_text((ROOT / "config/brokers.json").read_text())
    r = run_module("novosky.backtest", "--config", tmp_path / "config.json", "--models-dir", ROOT / "models", "--no-progress")
    assert r.returncode == 1 and "Retrain all four models" in r.stderr


def test_backtest_help():
    r = run_module("novosky.backtest", "--help")
    assert r.returncode == 0 and "--window" in r.stdout
    r = run_module("novosky.train", "--help")
    assert r.returncode == 0 and "--steps" in r.stdout


def test_readme_backtest_command_on_the_sample(tmp_path):
    "The committed chain backtested on the bundled sample, out of sample, with a plot."
    r = run_module("novosky.backtest", "--plot", tmp_path / "equity.png", "--no-progress")
    assert r.returncode == 0, r.stderr
    assert "2017-09-29" in r.stdout and "random entries" in r.stdout and "calibrated-pickle" in r.stdout
    assert (tmp_path / "equity.png").stat().st_size > 10_000


def test_readme_main_command_the_bot_replays_the_sample(tmp_path):
    "The README's main job: the bot's embedded default (replay of the sample, PaperBroker, committed models)."
    r = run_module("novosky.bot", "--no-progress", "--state", tmp_path / "s.json", "--store", tmp_path / "s.sqlite", "--max-bars", "2500")
    assert r.returncode == 0, r.stderr
    assert "EURUSD replay: 2,500 of 6,225 bars" in r.stdout and "bar close -> orders" in r.stdout
