"""The order path never waits on the trade store, and no record is lost: a remote that hangs, refuses and recovers
under a running bot; the outbox drained at shutdown (exit non-zero with the count if it cannot be); a store that
refuses the credentials is an error at start."""
import json, os, sys, threading, time
import numpy as np, pandas as pd
import pytest
from conftest import run_module, ROOT
from test_store import PgServer, pg_bin, APT_HINT
from novosky.store import OutboxStore, MemoryStore, StoreAuthError, PostgresStore, TABLES


class Moody(MemoryStore):
    "A remote that hangs (each call blocks `hang_s`, then times out), then refuses at once, then works."
    def __init__(self, hang_s=0.4):
        super().__init__(); self.mode, self.hang_s, self.calls = "hang", hang_s, 0
        self.lock = threading.Lock()
    def upsert(self, table, rows):
        self.calls += 1
        if self.mode == "hang": time.sleep(self.hang_s); raise TimeoutError("the server accepted the connection but never answered")
        if self.mode == "refuse": raise ConnectionRefusedError("connection refused")
        with self.lock: super().upsert(table, rows)


def test_soak_bot_against_a_store_that_hangs_refuses_and_recovers(tmp_path):
    from novosky.config import load_all
    from novosky.data import sample
    from novosky.backtest import load_chain
    from novosky.bot import Bot
    S = load_all()
    chain = load_chain(ROOT / "models", S.ml.features, S.config, sources=("onnx",))
    bars = sample().iloc[:2600]
    remote = Moody()
    store = OutboxStore(tmp_path / "local.sqlite", remote, retries=2, base_delay=0.05, max_delay=0.2, background=True, poll_s=0.02)
    ref = Bot(S, chain, bars).run()                                     # the same replay with no store at all
    bot = Bot(S, chain, bars, tmp_path / "state.json", store=store)
    def moods():                                                        # hang, then refuse, then recover, while the bot runs
        time.sleep(4); remote.mode = "refuse"; time.sleep(4); remote.mode = "ok"
    th = threading.Thread(target=moods, daemon=True); th.start()
    t0 = time.perf_counter(); res = bot.run(); took = time.perf_counter() - t0
    th.join()
    lat = res["latency_ms"]
    # the orders are never delayed by the store: same trades as without one, and no slow bar beyond the models' own cost
    pd.testing.assert_frame_equal(res["trades"], ref["trades"])
    assert np.percentile(lat, 99) < 100 and lat.max() < 300, (np.percentile(lat, 99), lat.max())
    assert remote.calls > 3                                             # the worker did meet the outage
    assert store.drain(timeout=30) == 0                                 # and nothing was lost once it recovered
    for t in TABLES:
        assert remote.rows(t) == store.rows(t), t
    assert len(remote.rows("trades")) == len(ref["trades"]) > 5
    store.close()
    print(f"{len(bars)} bars in {took:.1f} s; bar close -> submit p99 {np.percentile(lat, 99):.1f} ms, max {lat.max():.1f} ms")


@pytest.fixture
def pg():
    pytest.importorskip("psycopg")
    b = pg_bin()
    if b is None: pytest.skip(f"PostgreSQL server binaries not found; install them with: {APT_HINT}")
    srv = PgServer(b)
    try: yield srv
    finally: srv.cleanup()


def _project(tmp_path, kind="postgres"):
    cfg = json.loads((ROOT / "config.json").read_text())
    cfg["store"] = {**cfg["store"], "kind": kind, "sqlite_path": str(tmp_path / "local.sqlite")}
    cfg["paths"] = {**cfg["paths"], "runs_dir": str(tmp_path / "runs"), "models_dir": str(ROOT / "models")}
    (tmp_path / "config.json").write_text(json.dumps(cfg))
    (tmp_path / "ml_config.json").write_text((ROOT / "ml_config.json").read_text())
    (tmp_path / "config").mkdir(exist_ok=True); (tmp_path / "config/brokers.json").write_text((ROOT / "config/brokers.json").read_text())
    return tmp_path / "config.json"


def test_outbox_left_at_shutdown_exits_nonzero_and_the_next_start_sends_it(pg, tmp_path):
    import psycopg
    cfg = _project(tmp_path)
    env = {"NOVOSKY_POSTGRES_DSN": pg.dsn("postgres")}
    args = ("novosky.bot", "--config", cfg, "--no-progress", "--state", tmp_path / "state.json", "--drain-timeout", "2")
    # the server is down for the whole replay: the bot trades on, then says how many rows the remote did not get
    r = run_module(*args, env=env)
    assert r.returncode == 2, (r.stdout, r.stderr)
    assert "did not take" in r.stderr and "sent at the next start" in r.stderr and "(finished)" in r.stdout
    pg.start()
    r = run_module(*args, env=env)                                     # a finished replay: nothing to trade, the outbox goes out
    assert r.returncode == 0, r.stderr
    with psycopg.connect(pg.dsn("postgres")) as c:
        n_eq = c.execute('SELECT COUNT(*) FROM "equity"').fetchone()[0]
    import sqlite3
    with sqlite3.connect(tmp_path / "local.sqlite") as c:
        assert c.execute('SELECT COUNT(*) FROM "_outbox"').fetchone()[0] == 0
        assert n_eq == c.execute('SELECT COUNT(*) FROM "equity"').fetchone()[0] > 1000


def test_a_store_that_refuses_the_credentials_is_an_error_at_start(pg, tmp_path):
    pg.start()
    cfg = _project(tmp_path)
    for dsn, says in ((pg.dsn("no_such_db"), "refuses the connection settings"), ("this is not a dsn", "DSN")):
        r = run_module("novosky.bot", "--config", cfg, "--no-progress", "--state", tmp_path / "s.json", env={"NOVOSKY_POSTGRES_DSN": dsn})
        assert r.returncode == 1 and says in r.stderr and "Traceback" not in r.stderr, r.stderr
        assert not (tmp_path / "s.json").exists()                       # nothing ran
