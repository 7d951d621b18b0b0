"""`python -m novosky.sweep {config,signal,position}` as a user runs it: a grid study shared by two worker processes through one journal file
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
                                       ({"mt5.port": [1]}, "mt5.port: not a key the config sweep varies"),
                                       ({"filters.sessions": ["london,moon"]}, 'filters.sessions = "london,moon"'),
                                       ({"positions.max_adds": "1"}, "positions.max_adds: expected a non-empty list")])
def test_bad_grid_is_a_plain_error(tmp_path, grid, says):
    (tmp_path / "g.json").write_text(json.dumps(grid))
    r = run_module("novosky.sweep", "config", "--grid", tmp_path / "g.json", "--run-dir", tmp_path / "run", "--ledger", tmp_path / "ledger")
    assert r.returncode == 1 and says in r.stderr and "Traceback" not in r.stderr, r.stderr


def small_trees(tmp_path):
    "A config folder like the project's, with 20 trees a member (refits in seconds); the project's models."
    import shutil
    d = tmp_path / "cfg"; (d / "config").mkdir(parents=True, exist_ok=True)
    shutil.copy(ROOT / "config.json", d); shutil.copy(ROOT / "config" / "brokers.json", d / "config")
    ml = json.loads((ROOT / "ml_config.json").read_text()); ml["training"]["n_estimators"] = 20
    (d / "ml_config.json").write_text(json.dumps(ml))
    return ["--config", d / "config.json", "--models-dir", ROOT / "models"]


def test_signal_sweep_two_workers_refit_each_label_set_once(tmp_path):
    "Two workers on a signal sweep share the refit cache: one file per label set, none half-written, the points each once;\n"\
    "the best point's label values go to params.candidate.json, which train --params reads; the config files are untouched."
    before = {f: digest(ROOT / f) for f in ("config.json", "ml_config.json")}
    grid = {"labels.horizon": [12, 24], "filters.min_confidence": [0.4, 0.5], "filters.min_agreement": [2, 3]}
    (tmp_path / "g.json").write_text(json.dumps(grid))
    r = run_module("novosky.sweep", "signal", "--grid", tmp_path / "g.json", "--run-dir", tmp_path / "sig", "--ledger", tmp_path / "ledger",
                   "--cache", tmp_path / "cache", "--workers", 2, "--no-progress", *small_trees(tmp_path))
    assert r.returncode == 0, r.stderr + r.stdout
    assert sorted(p.name.split("-")[0] for p in (tmp_path / "cache").glob("*.pkl")) == ["signal", "signal"]
    assert not [p for p in (tmp_path / "cache").iterdir() if ".tmp-" in p.name]
    res = pd.read_parquet(tmp_path / "sig" / "results.parquet")
    assert len(res) == 8 and not res.duplicated(list(grid)).any()
    from novosky.train import load_params
    best = res.loc[res.value.idxmax()]
    assert load_params(tmp_path / "sig" / "params.candidate.json") == {"labels.horizon": int(best["labels.horizon"])}
    assert {f: digest(ROOT / f) for f in before} == before
    r2 = run_module("novosky.sweep", "signal", "--grid", tmp_path / "g.json", "--study", "again", "--run-dir", tmp_path / "sig2",
                    "--ledger", tmp_path / "ledger", "--cache", tmp_path / "cache", "--no-progress", *small_trees(tmp_path))
    assert r2.returncode == 0, r2.stderr                                              # a new study on the same cache: no refit,
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "sig2" / "results.parquet").drop(columns=["seconds", "trial"]).sort_values(list(grid)).reset_index(drop=True),
                                  res.drop(columns=["seconds", "trial"]).sort_values(list(grid)).reset_index(drop=True))   # the same scores


@pytest.mark.parametrize("kind,grid", [("signal", {"labels.horizon": [12]}), ("position", {"position.exit_margin_r": [0.25]})])
def test_model_sweeps_refuse_the_out_of_sample_window(tmp_path, kind, grid):
    (tmp_path / "g.json").write_text(json.dumps(grid))
    r = run_module("novosky.sweep", kind, "--grid", tmp_path / "g.json", "--run-dir", tmp_path / "run", "--ledger", tmp_path / "ledger",
                   "--cache", tmp_path / "cache", "--until", "2018-06-01", *small_trees(tmp_path))
    assert r.returncode == 1 and "out-of-sample" in r.stderr, r.stderr
    assert not (tmp_path / "cache").exists() and not (tmp_path / "ledger").exists()


def test_position_sweep_refuses_signal_keys(tmp_path):
    (tmp_path / "g.json").write_text(json.dumps({"labels.horizon": [12, 24]}))
    r = run_module("novosky.sweep", "position", "--grid", tmp_path / "g.json", "--run-dir", tmp_path / "run")
    assert r.returncode == 1 and "labels.horizon: not a key the position sweep varies" in r.stderr, r.stderr
