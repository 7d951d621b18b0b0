"""`python -m novosky.sweep config` as a user runs it: a grid study shared by two worker processes through one journal file
(every point exactly once, every point in the research ledger), reproducible with one worker, the out-of-sample window
refused, a bad grid refused with its key and value named, config.json never written."""
import hashlib, json
import pandas as pd
import pytest
from conftest import run_module, ROOT

GRID = {"risk.risk_pct": [0.5, 1, 2], "filters.min_confidence": [0.4, 0.5], "positions.max_adds": [0, 1]}     # 12 points


def journal_study(path, name):
    import optuna
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend
    return optuna.load_study(study_name=name, storage=JournalStorage(JournalFileBackend(str(path))))


def sweep(tmp_path, name, *args):
    (tmp_path / "grid.json").write_text(json.dumps(GRID))
    return run_module("novosky.sweep", "config", "--grid", tmp_path / "grid.json", "--study", name, "--run-dir", tmp_path / name,
                      "--ledger", tmp_path / "ledger", "--no-progress", *args)


def digest(p): return hashlib.sha256(p.read_bytes()).hexdigest()


def test_two_workers_run_every_point_once_and_the_ledger_holds_them(tmp_path):
    from novosky.tune import Ledger
    from novosky.config import from_dict, Config
    before = {f: digest(ROOT / f) for f in ("config.json", "ml_config.json")}
    journal = tmp_path / "sweep.journal"
    r = sweep(tmp_path, "two", "--workers", 2, "--storage", journal, "--seed", 3)
    assert r.returncode == 0, r.stderr + r.stdout
    st = journal_study(journal, "two")
    pts = sorted(json.dumps(t.params, sort_keys=True) for t in st.trials)
    assert len(st.trials) == 12 and all(t.state.name == "COMPLETE" for t in st.trials)
    assert len(set(pts)) == 12                                                   # every grid point exactly once
    led = Ledger(tmp_path / "ledger").read()
    assert len(led) == 12 and set(led.kind) == {"sweep"} and set(led.study) == {"two"} and sorted(led.trial) == list(range(12))
    assert set(led.worker) == {0, 1}                                             # both workers ran points
    assert sorted(led.params) == pts and (led.days > 0).all() and led.data_fingerprint.nunique() == 1
    res = pd.read_parquet(tmp_path / "two" / "results.parquet")
    assert len(res) == 12 and not res.duplicated(list(GRID)).any()
    assert pd.read_csv(tmp_path / "two" / "results.csv").shape == res.shape
    R = pd.read_parquet(tmp_path / "two" / "returns.parquet")
    assert R.shape[1] == 12 and len(R) == led.days.iloc[0]
    assert (tmp_path / "two" / "sweep.png").stat().st_size > 10_000
    assert "probability of backtest overfitting" in r.stdout and "deflated Sharpe ratio over the 12 scored trial(s)" in r.stdout
    assert "top points" in r.stdout and "out-of-fold votes" in r.stdout
    cand = json.loads((tmp_path / "two" / "config.candidate.json").read_text())
    cfg = from_dict(Config, cand, "config.candidate.json")                       # valid
    best = st.best_trial.params
    assert cfg.risk.risk_pct == best["risk.risk_pct"] and cfg.filters.min_confidence == best["filters.min_confidence"]
    assert cfg.positions.max_adds == best["positions.max_adds"]
    assert {f: digest(ROOT / f) for f in before} == before                       # config.json untouched
    assert not (tmp_path / "two" / "config.json").exists()
    r = sweep(tmp_path, "two", "--workers", 2, "--storage", journal, "--seed", 3)   # continued: nothing left to run
    assert r.returncode == 0, r.stderr
    assert "0 of 12 grid point(s) to run" in r.stdout and len(journal_study(journal, "two").trials) == 12


def test_same_seed_one_worker_same_results(tmp_path):
    runs = []
    for name in ("a", "b"):
        r = sweep(tmp_path, name, "--seed", 1)
        assert r.returncode == 0, r.stderr
        runs.append(pd.read_parquet(tmp_path / name / "results.parquet").drop(columns="seconds"))
    pd.testing.assert_frame_equal(runs[0], runs[1])
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "a" / "returns.parquet"), pd.read_parquet(tmp_path / "b" / "returns.parquet"))


def test_out_of_sample_window_refused(tmp_path):
    r = sweep(tmp_path, "oos", "--until", "2018-06-01")
    assert r.returncode == 1 and "out-of-sample" in r.stderr and "never used" in r.stderr, r.stderr
    assert not (tmp_path / "ledger").exists()
    from novosky.sweep import sweep_data
    from novosky.tune import TuneWindowError
    with pytest.raises(TuneWindowError): sweep_data(GRID, until="2018-06-01")


@pytest.mark.parametrize("grid,says", [({"risk.risk_pct": [1, 50]}, "risk.risk_pct = 50"),
                                       ({"risk.bogus": [1]}, "risk.bogus: unknown key"),
                                       ({"mt5.port": [1]}, "mt5.port: not a sweepable config.json key"),
                                       ({"filters.sessions": ["london,moon"]}, 'filters.sessions = "london,moon"'),
                                       ({"positions.max_adds": "1"}, "positions.max_adds: expected a non-empty list")])
def test_bad_grid_is_a_plain_error(tmp_path, grid, says):
    (tmp_path / "g.json").write_text(json.dumps(grid))
    r = run_module("novosky.sweep", "config", "--grid", tmp_path / "g.json", "--run-dir", tmp_path / "run", "--ledger", tmp_path / "ledger")
    assert r.returncode == 1 and says in r.stderr and "Traceback" not in r.stderr, r.stderr
