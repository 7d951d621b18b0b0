"""The weekly pipeline, retrain and optimize as a researcher runs them, each in a scratch copy of the project (a fresh
git repository): a rejected retrain leaves the project untouched; optimize hands a candidate to the gate; a run killed
mid-phase resumes to the same decision; and the gate has power and size on seeded synthetic bars — a planted,
learnable trend is promoted, a random walk of the same length and volatility is not."""
import hashlib, json, os, signal, subprocess, sys, time
from pathlib import Path
import pytest
from conftest import run_module, ROOT


def scratch(tmp_path, name="proj", models=True):
    from novosky.pipeline import scratch_project
    return scratch_project(tmp_path / name, ROOT, models)


def digest(d):
    return {p.relative_to(d).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(Path(d).rglob("*"))
            if p.is_file() and "runs" not in p.parts and ".git" not in p.parts}


def commits(d): return subprocess.run(["git", "-C", str(d), "rev-list", "--count", "HEAD"], capture_output=True, text=True).stdout.strip()


def in_project(proj, *args, timeout=900):
    return subprocess.run([sys.executable, *args], cwd=proj, env=dict(os.environ, NOVOSKY_HOME=str(proj)), capture_output=True, text=True, timeout=timeout)


@pytest.mark.slow
def test_retrain_rejected_leaves_the_project_untouched(tmp_path):
    proj = scratch(tmp_path); before, n = digest(proj), commits(proj)
    r = in_project(proj, "-m", "novosky.retrain", "--promote", "--run-id", "rt")
    assert r.returncode == 0, r.stderr + r.stdout
    d = json.loads((proj / "runs/retrain/rt/decision.json").read_text())
    assert d["promote"] is False and "holdout trades" in d["failed_gates"], d
    assert "decision: REJECT" in r.stdout and all(s in ("passed", "skipped") for s in d["phases"].values()), d["phases"]
    assert digest(proj) == before and commits(proj) == n                         # models/, config.json, ml_config.json untouched
    assert not (proj / "runs/retrain/.lock").exists()                              # the lock is released


def test_weekly_refuses_a_dirty_tree_and_bad_parameters(tmp_path):
    proj = scratch(tmp_path)
    (proj / "config.json").write_text((proj / "config.json").read_text() + "\n")
    r = in_project(proj, "-m", "novosky.retrain", "--run-id", "d")
    assert r.returncode == 1 and "preflight" in r.stderr, r.stdout + r.stderr
    assert "uncommitted changes" in json.loads((proj / "runs/retrain/d/01-preflight.json").read_text())["reason"]
    r = in_project(proj, "-m", "novosky.retrain", "--holdout-weeks", "0")
    assert r.returncode == 1 and "holdout_weeks: expected a whole number" in r.stderr, r.stderr


@pytest.mark.slow
def test_optimize_hands_a_candidate_to_the_gate(tmp_path):
    proj = scratch(tmp_path)
    r = in_project(proj, "-m", "novosky.optimize", "--name", "opt", "--minutes", "0.05", "--chunk", "1", "--max-trials", "1")
    assert r.returncode == 0, r.stderr + r.stdout
    cand = proj / "runs/optimize/opt/candidate"
    params = json.loads((cand / "params.json").read_text())["params"]
    assert {k.split(".")[0] for k in params} == {"training", "position"} and (cand / "config.candidate.json").is_file()
    led = proj / "runs/ledger"
    code = (f"from novosky.pipeline import Params, run_weekly; run = run_weekly(Params(run_id='w', candidate={str(cand)!r}, signal_trials=0, "
            "position_trials=0, sweep_grid={}, progress=False))")
    r = in_project(proj, "-c", code)
    assert r.returncode == 0, r.stderr
    rec = json.loads((proj / "runs/weekly/w/08-refit.json").read_text())
    assert rec["outputs"]["params"] == params                                       # the candidate's parameters were refit
    st = json.loads((proj / "runs/weekly/w/11-statistics.json").read_text())
    assert st["outputs"]["n_trials"] >= 2 + 6                                      # optimize's trials count in the deflated Sharpe ratio
    assert sorted(p.name for p in led.rglob("*.parquet"))


@pytest.mark.slow
def test_a_run_killed_mid_phase_resumes_to_the_same_decision(tmp_path):
    proj = scratch(tmp_path)
    code = ("import sys; from novosky.pipeline import Params, run_weekly; run_weekly(Params(run_id=sys.argv[1], ledger='runs/ledger-' + sys.argv[1], "
            "resume=True, progress=False))")
    env = dict(os.environ, NOVOSKY_HOME=str(proj))
    p = subprocess.Popen([sys.executable, "-c", code, "k"], cwd=proj, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    rec6 = proj / "runs/weekly/k/06-tune_signal.json"
    t0 = time.time()
    while not rec6.exists() and p.poll() is None and time.time() - t0 < 600: time.sleep(0.2)
    time.sleep(6)                                                                   # inside phase 7: training the signal, or tuning
    p.send_signal(signal.SIGKILL); p.wait()
    assert p.returncode == -signal.SIGKILL and not (proj / "runs/weekly/k/12-decision.json").exists()
    r = in_project(proj, "-c", code, "k")                                           # resumed: the lock of the killed run is taken over
    assert r.returncode == 0, r.stderr
    r = in_project(proj, "-c", code, "u")                                           # the same run, never interrupted
    assert r.returncode == 0, r.stderr
    k, u = (json.loads((proj / f"runs/weekly/{x}/12-decision.json").read_text())["outputs"] for x in ("k", "u"))
    assert (k["promote"], k["failed"]) == (u["promote"], u["failed"])
    for key in ("trades", "dd", "dsr", "pbo", "spa_p"): assert k["figures"][key] == pytest.approx(u["figures"][key], rel=1e-9, abs=1e-12), key
    rk, ru = (json.loads((proj / f"runs/weekly/{x}/08-refit.json").read_text())["outputs"]["params"] for x in ("k", "u"))
    assert rk == ru


@pytest.mark.slow
@pytest.mark.parametrize("drift,promoted", [(0.3, True), (0.0, False)])
def test_the_gate_promotes_a_planted_edge_and_rejects_a_random_walk(tmp_path, drift, promoted):
    from novosky.data import synthetic_ohlcv
    from novosky.pipeline import Params, run_weekly
    proj = scratch(tmp_path, models=False)                                          # no incumbent: the absolute gates decide
    data = tmp_path / "bars.parquet"
    synthetic_ohlcv(10_000, seed=11, drift=drift, start="2019-01-06 22:00").to_parquet(data)
    run = run_weekly(Params(root=str(proj), data=str(data), run_id="p", holdout_weeks=20, allow_mismatch=True, progress=False,
                            sweep_grid={"filters.min_confidence": [0.35, 0.45, 0.55, 0.65], "positions.max_adds": [0, 1]}), log=lambda *a: None)
    d = json.loads((run.dir / "decision.json").read_text())
    assert all(v == "passed" for v in d["phases"].values()), d["phases"]          # the gate decides, not a broken phase
    h = run.records[10]["outputs"]["challenger"]["metrics"]; st = run.records[11]["outputs"]
    print(f"drift {drift}: {'promote' if d['promote'] else 'reject'} {d['failed_gates']}; holdout {h}; DSR {st['dsr']:.3f} "
          f"over {st['n_trials']} trials, PBO {st['pbo']}, SPA p {st['spa_p']:.3f}")
    assert d["promote"] is promoted, d["failed_gates"]
    assert (proj / "models/model_compat.json").is_file() is promoted
