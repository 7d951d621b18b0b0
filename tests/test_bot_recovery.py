"""The bot survives SIGKILL at random points: restarted from its state file, it ends with the trades of an
uninterrupted run, and the store holds every record exactly once."""
import json, os, signal, sqlite3, subprocess, sys, time
import numpy as np
import pandas as pd
import pytest
from conftest import ROOT
from novosky.data import sample

COLS = ["id", "group", "direction", "lots", "entry_time", "entry_price", "exit_time", "exit_price", "reason"]


def bot_cmd(replay, state, store, speed=0):
    # crash safety is about the mechanics, not the figures: replay these (in-sample) bars from the first one
    return [sys.executable, "-m", "novosky.bot", "--onnx", "--no-progress", "--replay", str(replay), "--state", str(state),
            "--store", str(store), "--speed", str(speed), "--from", "start"]


def trades(store):
    with sqlite3.connect(store) as c:
        return pd.read_sql("SELECT * FROM trades ORDER BY id", c)


@pytest.fixture(scope="module")
def replay(tmp_path_factory):
    d = tmp_path_factory.mktemp("replay")
    p = d / "EURUSD_H1_part.csv"
    bars = sample().iloc[:3200]
    lines = (ROOT / "novosky/sample/EURUSD_H1.csv").read_text().splitlines()[: len(bars) + 1]
    p.write_text("\n".join(lines) + "\n")
    ref_state, ref_store = d / "ref.json", d / "ref.sqlite"
    r = subprocess.run(bot_cmd(p, ref_state, ref_store), cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    return p, trades(ref_store)


@pytest.mark.slow
def test_sigkill_at_20_random_points_then_restart(replay, tmp_path):
    p, ref = replay
    assert len(ref) > 5
    state, store = tmp_path / "state.json", tmp_path / "store.sqlite"
    rng = np.random.default_rng(2026)
    kills = 0
    for k in range(20):
        # paced at ~10 ms a bar so every kill lands mid-replay (processing, writing state or the store, or waiting)
        proc = subprocess.Popen(bot_cmd(p, state, store, speed=360_000), cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(float(rng.uniform(2.0, 3.0)))                      # start-up (imports, models) takes ~1.5 s
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL); kills += 1
        proc.wait(timeout=60)
    r = subprocess.run(bot_cmd(p, state, store), cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    assert "(finished)" in r.stdout
    assert kills >= 18, f"only {kills} kills landed mid-run"
    got = trades(store)
    pd.testing.assert_frame_equal(got[COLS].reset_index(drop=True), ref[COLS].reset_index(drop=True))
    with sqlite3.connect(store) as c:
        n, distinct = c.execute("SELECT COUNT(*), COUNT(DISTINCT client_id) FROM orders").fetchone()
    assert n == distinct                                               # no duplicate order records


def test_sigterm_finishes_the_bar_and_saves(replay, tmp_path):
    p, _ = replay
    state, store = tmp_path / "state.json", tmp_path / "store.sqlite"
    proc = subprocess.Popen(bot_cmd(p, state, store), cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(3.0)
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert "stopped; run again to resume" in out
    saved = json.loads(state.read_text())
    assert 0 < saved["next_i"] < 3200


def test_bad_input_fails_before_any_order(tmp_path):
    cfg = json.loads((ROOT / "config.json").read_text()); cfg["symbol"] = "EURGBP"
    (tmp_path / "config.json").write_text(json.dumps(cfg))
    (tmp_path / "ml_config.json").write_text((ROOT / "ml_config.json").read_text())
    (tmp_path / "config").mkdir(); (tmp_path / "config/brokers.json").write_text((ROOT / "config/brokers.json").read_text())
    r = subprocess.run([sys.executable, "-m", "novosky.bot", "--config", str(tmp_path / "config.json"), "--no-progress"],
                       cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert r.returncode == 1 and "'EURGBP' is not listed for broker" in r.stderr
    cfg["symbol"] = "EURUSD"; cfg["broker"] = "nobroker"; (tmp_path / "config.json").write_text(json.dumps(cfg))
    r = subprocess.run([sys.executable, "-m", "novosky.bot", "--config", str(tmp_path / "config.json"), "--no-progress"],
                       cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert r.returncode == 1 and "broker 'nobroker' is not in config/brokers.json" in r.stderr
    st = tmp_path / "state.json"; st.write_text("{broken")
    r = subprocess.run([sys.executable, "-m", "novosky.bot", "--state", str(st), "--store", str(tmp_path / "s.sqlite"), "--no-progress"],
                       cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert r.returncode == 1 and "state file is corrupt" in r.stderr
    db = tmp_path / "s.sqlite"
    if db.exists():                                                     # nothing was traded or recorded
        with sqlite3.connect(db) as c:
            assert c.execute("SELECT COUNT(*) FROM sqlite_master WHERE name='orders'").fetchone()[0] == 0 or \
                c.execute("SELECT COUNT(*) FROM orders").fetchone()[0] == 0
    ml = json.loads((ROOT / "ml_config.json").read_text()); ml["features"][0] = "ret_one"
    (tmp_path / "ml_config.json").write_text(json.dumps(ml))
    cfg["broker"] = "ecn_demo"; (tmp_path / "config.json").write_text(json.dumps(cfg))
    r = subprocess.run([sys.executable, "-m", "novosky.bot", "--config", str(tmp_path / "config.json"), "--models-dir", str(ROOT / "models"),
                        "--no-progress"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert r.returncode == 1 and "Retrain all four models" in r.stderr


@pytest.mark.slow
def test_sigkill_during_fast_replay(replay, tmp_path):
    "The --fast replay saves its state and store every 500 bars: killed anywhere, it redoes at most those and ends the same."
    p, ref = replay
    state, store = tmp_path / "state.json", tmp_path / "store.sqlite"
    rng = np.random.default_rng(7)
    kills = 0
    for k in range(10):
        cmd = bot_cmd(p, state, store, speed=180_000) + ["--fast"]                # ~20 ms a bar
        proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(float(rng.uniform(2.5, 6.0)))
        if proc.poll() is None: proc.send_signal(signal.SIGKILL); kills += 1
        proc.wait(timeout=60)
    r = subprocess.run(bot_cmd(p, state, store) + ["--fast"], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0 and "(finished)" in r.stdout, r.stderr
    assert kills >= 8
    got = trades(store)
    pd.testing.assert_frame_equal(got[COLS].reset_index(drop=True), ref[COLS].reset_index(drop=True))
    with sqlite3.connect(store) as c:
        n, distinct = c.execute("SELECT COUNT(*), COUNT(DISTINCT client_id) FROM orders").fetchone()
        eq = c.execute("SELECT COUNT(*) FROM equity").fetchone()[0]
    assert n == distinct and eq == 3200                                 # no duplicates; equity once per bar replayed
