"""`python -m novosky.tune` as a user runs it: a study shared by two worker processes through one journal file, the
research ledger, best_params.json, and `python -m novosky.train --params` retraining with the best trial."""
import json, os, signal, subprocess, sys, time
import pytest
from conftest import run_module, ROOT

# A narrow space of tiny members: each trial is a few seconds on the bundled sample.
SPACE = {"training.n_estimators": {"type": "int", "lo": 20, "hi": 30, "step": 10},
         "training.rf_max_depth": {"type": "int", "lo": 3, "hi": 4}}


def journal_study(path, name):
    import optuna
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend
    return optuna.load_study(study_name=name, storage=JournalStorage(JournalFileBackend(str(path))))


def test_two_workers_share_a_journal_study_and_train_uses_its_best(tmp_path):
    """3 trials in 2 worker processes on one journal file; the study, the ledger and best_params.json agree; then the full
    chain is trained with the best parameters. The slowest test here (about 45 s on 2 shared cores: ~20 s of tuning, then
    a full `train` with these tiny members): it is the end-to-end path a researcher runs."""
    from novosky.tune import Ledger
    (tmp_path / "space.json").write_text(json.dumps(SPACE))
    journal, run = tmp_path / "study.journal", tmp_path / "run"
    r = run_module("novosky.tune", "signal", "--study", "cli", "--storage", journal, "--n-trials", 3, "--workers", 2, "--seed", 5,
                   "--run-dir", run, "--ledger", tmp_path / "ledger", "--space", tmp_path / "space.json", "--no-progress")
    assert r.returncode == 0, r.stderr + r.stdout
    st = journal_study(journal, "cli")
    assert len(st.trials) == 3 and all(t.state.is_finished() for t in st.trials), [t.state for t in st.trials]
    led = Ledger(tmp_path / "ledger").read()
    assert sorted(led.trial) == [0, 1, 2] and set(led.study) == {"cli"}
    assert set(led.worker) == {0, 1} and set(led.seed) == {5, 6}                  # both workers ran, each with its own seed
    assert (led.days > 0).all() and led.data_fingerprint.nunique() == 1 and led.code_version.str.len().gt(0).all()
    assert all(len(json.loads(f)) == 3 for f in led.fold_values[led.state == "COMPLETE"])
    assert (run / "worker-0.log").is_file() and (run / "worker-1.log").is_file()
    bp = json.loads((run / "best_params.json").read_text())
    assert bp["trial"] == st.best_trial.number and bp["params"] == st.best_trial.params and bp["value"] == st.best_trial.value
    assert set(bp["params"]) == set(SPACE) and bp["data_fingerprint"] == led.data_fingerprint[0]
    assert "top trials" in r.stdout and "best trial" in r.stdout and "luck (deflated Sharpe ratio over the 3 scored trial(s)" in r.stdout
    assert "small sample" in r.stdout or "no Sharpe ratio to deflate" in r.stdout

    cfg = (ROOT / "ml_config.json").read_bytes()
    m = tmp_path / "models"
    r = run_module("novosky.train", "--params", run / "best_params.json", "--models-dir", m)
    assert r.returncode == 0, r.stderr
    assert "override ml_config.json for this run only" in r.stdout
    man = json.loads((m / "model_compat.json").read_text())
    assert set(man["models"]) == {"signal", "position", "sltp", "risk"}
    for k in man["models"]: assert man["models"][k]["meta"]["ml_overrides"]["params"] == bp["params"]
    assert (ROOT / "ml_config.json").read_bytes() == cfg                                # tuning and --params never write it

    r = run_module("novosky.tune", "ledger", "--ledger", tmp_path / "ledger", "--export", tmp_path / "ledger.parquet")
    assert r.returncode == 0, r.stderr
    assert "3 trial(s) in 1 study" in r.stdout and "cli" in r.stdout and (tmp_path / "ledger.parquet").is_file()


@pytest.mark.parametrize("args,field", [
    (["signal", "--metric", "pnl"], "--metric"),
    (["signal", "--n-trials", "0"], "--n-trials: must be at least 1"),
    (["signal", "--workers", "0"], "--workers: must be at least 1"),
    (["signal", "--timeout", "-5"], "--timeout: must be at least"),
    (["signal", "--storage", "mysql://tuner@db/optuna"], "--storage: the scheme 'mysql' is not supported"),
    (["signal", "--storage", "sqlite:///{tmp}/s.db", "--workers", "2"], "SQLite is for one process only"),
    (["signal", "--until", "2017-11-01"], "out-of-sample (ml_config.json split) and are never used to tune"),
    (["position", "--until", "2017-12-20"], "never used to tune"),
    (["position", "--labels"], "unrecognized arguments: --labels"),
    (["signal", "--space", "{tmp}/nope.json"], "--space: {tmp}/nope.json not found"),
])
def test_bad_input_is_a_plain_error_naming_the_field(tmp_path, args, field):
    args = [a.replace("{tmp}", str(tmp_path)) for a in args]
    r = run_module("novosky.tune", *args, "--run-dir", tmp_path / "run", "--ledger", tmp_path / "ledger", "--no-progress")
    assert r.returncode in (1, 2), r.stdout
    assert field.replace("{tmp}", str(tmp_path)) in r.stderr and "Traceback" not in r.stderr, r.stderr
    assert not (tmp_path / "ledger").exists()                                         # nothing ran


def test_help_names_the_stores_and_the_dashboard():
    r = run_module("novosky.tune", "--help")
    assert r.returncode == 0 and "optuna-dashboard" in r.stdout and "best_params.json" in r.stdout
    r = run_module("novosky.tune", "signal", "--help")
    assert r.returncode == 0 and "postgresql://" in r.stdout and "sqlite:///" in r.stdout and "--workers" in r.stdout


# ---------------------------------------------------------------- PostgreSQL: the study store for many hosts

@pytest.fixture(scope="module")
def pg_url():
    "A throwaway PostgreSQL server on loopback (the store tests' helper); the URL of an empty database."
    from test_store import pg_database
    for srv in pg_database("optuna_test"): yield f"postgresql://postgres@127.0.0.1:{srv.port}/optuna_test"


@pytest.mark.slow
def test_postgres_study_survives_a_killed_worker(pg_url, tmp_path):
    """Through PostgreSQL (how hosts share a study): a worker SIGKILLed mid-trial leaves its trial RUNNING only until its
    heartbeat is stale; the next command's workers fail it and run its parameters again, and the study goes on."""
    import optuna
    from optuna.storages import RDBStorage
    from novosky.tune import Ledger
    (tmp_path / "space.json").write_text(json.dumps(SPACE))
    common = ["--study", "pg", "--storage", pg_url, "--heartbeat", "1", "--seed", "11", "--run-dir", tmp_path / "run",
              "--ledger", tmp_path / "ledger", "--space", tmp_path / "space.json", "--no-progress"]
    env = dict(os.environ)
    victim = subprocess.Popen([sys.executable, "-m", "novosky.tune", "signal", "--n-trials", "1", *map(str, common)], cwd=ROOT, env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = pg_url.replace("postgresql://", "postgresql+psycopg://")
    try:
        t_end, running = time.monotonic() + 120, []
        while not running and time.monotonic() < t_end and victim.poll() is None:
            time.sleep(0.3)
            try: running = [t for t in optuna.load_study(study_name="pg", storage=url).trials if t.state.name == "RUNNING" and t.params]
            except KeyError: pass                                                   # the study is not created yet
        assert running, "the first worker never started a trial"
        time.sleep(1)                                                               # well into its folds
        victim.send_signal(signal.SIGKILL); victim.wait(10)
    finally:
        if victim.poll() is None: victim.kill(); victim.wait(10)
    time.sleep(4)                                                                   # > grace period (3 heartbeats)
    r = run_module("novosky.tune", "signal", "--n-trials", 2, "--workers", 2, *common)
    assert r.returncode == 0, r.stderr + r.stdout
    trials = optuna.load_study(study_name="pg", storage=RDBStorage(url)).trials
    states = sorted(t.state.name for t in trials)
    assert states == ["COMPLETE", "COMPLETE", "FAIL"], states
    killed = next(t for t in trials if t.state.name == "FAIL")
    retried = [t for t in trials if t.system_attrs.get("failed_trial") == killed.number]
    assert len(retried) == 1 and retried[0].params == killed.params and retried[0].state.name == "COMPLETE"
    led = Ledger(tmp_path / "ledger").read()
    assert sorted(led.state) == ["COMPLETE", "COMPLETE"] and "postgresql+psycopg://postgres@127.0.0.1" in led.storage[0]


def test_same_seed_one_worker_same_study(tmp_path):
    "Reproducible: the same seed with one worker samples the same parameters, scores them the same and picks the same best."
    (tmp_path / "space.json").write_text(json.dumps(SPACE))
    out = []
    for k in (1, 2):
        run = tmp_path / f"run{k}"
        r = run_module("novosky.tune", "signal", "--study", "rep", "--storage", tmp_path / f"j{k}.journal", "--n-trials", 2,
                       "--seed", 11, "--run-dir", run, "--ledger", tmp_path / f"ledger{k}", "--space", tmp_path / "space.json",
                       "--no-progress")
        assert r.returncode == 0, r.stderr + r.stdout
        st = journal_study(tmp_path / f"j{k}.journal", "rep")
        out.append(([t.params for t in st.trials], [t.value for t in st.trials], json.loads((run / "best_params.json").read_text())["params"]))
    assert out[0] == out[1]
