"""`python -m novosky.train` and `python -m novosky.backtest` as a user runs them, on an MT5-format export."""
import pytest
import json
import pandas as pd
from conftest import run_module, ROOT
from novosky.data import sample, to_mt5_csv


@pytest.mark.slow
def test_train_then_backtest_an_mt5_export(tmp_path):
    src = tmp_path / "EURUSD_H1.csv"
    to_mt5_csv(sample(), src, utc_offset_hours=2)                       # as MT5 exports it: server time, tabs
    m = tmp_path / "models"
    r0 = r = run_module("novosky.train", "--data", src, "--utc-offset", 2, "--models-dir", m)
    assert r.returncode == 0, r.stderr
    assert "risk: done" in r.stdout and "signal OOS [ensemble]" in r.stdout
    man = json.loads((m / "model_compat.json").read_text())
    assert set(man["models"]) == {"signal", "position", "sltp", "risk"}
    r = run_module("novosky.backtest", "--data", src, "--utc-offset", 2, "--models-dir", m, "--json", tmp_path / "s.json",
                   "--plot", tmp_path / "eq.png", "--trades", tmp_path / "t.csv", "--no-progress")
    assert r.returncode == 0, r.stderr
    s = json.loads((tmp_path / "s.json").read_text())
    assert s["metrics"]["window"].startswith("2017-09-29") and s["window"] == "oos"
    assert s["cutoff"]["oos_from"].startswith("2017-09-29") and s["cutoff"]["seen_to"] < s["cutoff"]["oos_from"]
    rnd = s["baselines"]["random_entries"]
    if s["metrics"]["trades"]:      # random entries take exactly the strategy's trade count
        assert rnd["runs"] > 0 and rnd["target_trades"] == s["metrics"]["trades"] and set(rnd["trades_per_run"]) == {s["metrics"]["trades"]}
    # each model reports its out-of-sample figure beside its baseline, in the output and in the manifest
    for k in ("position", "sltp", "risk"):
        meta = man["models"][k]["meta"]
        assert isinstance(meta["enabled"], bool) and meta["reason"] and "oos" in meta["evaluation"]
    assert "verdict:" in r0.stdout and "always-HOLD" in r0.stdout and "fixed stop/target" in r0.stdout and "multiplier 1.0" in r0.stdout
    assert (tmp_path / "eq.png").stat().st_size > 10_000
    assert len(pd.read_csv(tmp_path / "t.csv")) == s["metrics"]["fills"]


def test_no_oos_figures_on_a_file_that_ends_inside_the_training_period(tmp_path):
    "OOS is anchored to the models' recorded cutoff, not to the file: a file of training bars has no OOS window."
    early = tmp_path / "early.csv"
    sample().iloc[:4000].to_csv(early)                                  # pandas CSV: the index is the time column
    r = run_module("novosky.backtest", "--data", early, "--no-progress")
    assert r.returncode == 1 and "no out-of-sample bars" in r.stderr and "2017-09-29" in r.stderr and "Traceback" not in r.stderr
    r = run_module("novosky.backtest", "--data", early, "--no-progress", "--window", "all", "--no-baselines", "--json", tmp_path / "a.json")
    assert r.returncode == 0, r.stderr
    s = json.loads((tmp_path / "a.json").read_text())
    assert s["window"] == "all" and "overstate" in r.stdout and "out-of-sample part" not in r.stdout and s["parts"] == {}
    r = run_module("novosky.bot", "--replay", early, "--no-progress", "--state", tmp_path / "s.json", "--store", tmp_path / "s.sqlite")
    assert r.returncode == 1 and "no bars after the models' training cutoff" in r.stderr and "--from start" in r.stderr
    r = run_module("novosky.bot", "--replay", early, "--from", "start", "--no-progress", "--state", tmp_path / "s2.json", "--store", tmp_path / "s2.sqlite")
    assert r.returncode == 0 and "in-sample part (bars the models were trained on" in r.stdout and "out-of-sample part" not in r.stdout


def test_bars_outside_the_news_calendar_are_reported(tmp_path):
    "A backtest whose bars fall outside the calendar's coverage says the news features and gate are off there."
    late = sample(); late.index = late.index + pd.DateOffset(years=13)   # 2030: after the bundled calendar and the cutoff
    late.to_csv(tmp_path / "late.csv")
    r = run_module("novosky.backtest", "--data", tmp_path / "late.csv", "--no-progress", "--no-baselines")
    assert r.returncode == 0, r.stderr
    assert "news calendar covers 2015-01-01" in r.stdout and "the news features and the news gate are off there" in r.stdout


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
    assert "out-of-sample: after the models' training cutoff — 2017-09-29" in r.stdout and "random entries" in r.stdout
    assert "'onnx'" in r.stdout and "monthly:" in r.stdout and "x sqrt(" in r.stdout
    assert (tmp_path / "equity.png").stat().st_size > 10_000


def test_readme_main_command_the_bot_replays_the_sample(tmp_path):
    "The README's main job: the bot's embedded default (replay of the sample, PaperBroker, committed models)."
    r = run_module("novosky.bot", "--no-progress", "--state", tmp_path / "s.json", "--store", tmp_path / "s.sqlite")
    assert r.returncode == 0, r.stderr
    assert "(finished)" in r.stdout and "traded only out-of-sample bars" in r.stdout and "out-of-sample part (after the models' cutoff)" in r.stdout
    assert "in-sample part" not in r.stdout and "bar close -> orders" in r.stdout
    r = run_module("novosky.bot", "--no-progress", "--state", tmp_path / "all.json", "--store", tmp_path / "all.sqlite", "--from", "start", "--fast")
    assert r.returncode == 0 and "in-sample part (bars the models were trained on: overstates" in r.stdout and "out-of-sample part" in r.stdout
