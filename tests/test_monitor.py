"""The performance monitor end to end. The paper bot (`python -m novosky.bot`, features from the trailing window as live)
writes a trade store; `python -m novosky.monitor` checks it against the replay of the same bars and against the backtest:
parity holds (exit 0), a tampered or dropped trade is reported (exit 3), a regression raises an alert through the notifier."""
import json, shutil, sqlite3, subprocess, sys, textwrap
from pathlib import Path
import pytest
from conftest import ROOT, run_module, CLIENT_LANE_BLOCK

FROM_START = 3100        # bars from the sample's first: ~17 in-sample trades, the last still open when the run stops
HOUR = 3_600_000_000_000


def _bot(*args):
    return subprocess.Popen([sys.executable, "-m", "novosky.bot", "--onnx", "--no-progress", *map(str, args)], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    "Two paper runs, side by side: the first 3,100 bars from the start, stopped there, with features from the trailing\n"\
    "window as live; and the default replay (every bar after the models' training cutoff to the end of the sample), --fast."
    d = tmp_path_factory.mktemp("runs")
    procs = {"start": _bot("--from", "start", "--max-bars", FROM_START, "--store", d / "start.sqlite", "--state", d / "start.json"),
             "oos": _bot("--fast", "--store", d / "oos.sqlite", "--state", d / "oos.json")}
    for k, p in procs.items():
        out, err = p.communicate(timeout=300)
        assert p.returncode == 0, f"bot run {k} failed:\n{err[-3000:]}"
    return {k: d / f"{k}.sqlite" for k in procs}


def altered(store, tmp_path, *sql):
    "A copy of `store` with each statement of `sql` applied."
    p = tmp_path / f"altered-{store.name}"
    shutil.copy(store, p)
    with sqlite3.connect(p) as c:
        for s in sql: c.execute(s)
    return p


class Captured:
    "A notifier that keeps what it is sent."
    def __init__(self): self.sent = []
    def notify(self, kind, text): self.sent.append((kind, text))


def test_parity_holds_on_the_client_lane(runs, tmp_path):
    "(a) The paper run is the replay: no differing trade, every bound holds, exit 0 — on a host without the training stack."
    code = CLIENT_LANE_BLOCK + textwrap.dedent(f"""
        from novosky.monitor import main
        sys.exit(main(["--store", {str(runs['start'])!r}, "--json", {str(tmp_path / 'rep.json')!r}]))
    """)
    r = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    rep = json.loads((tmp_path / "rep.json").read_text())
    p = rep["parity"]
    assert rep["ok"] and p["ok"] and rep["breaches"] == [] and p["live_trades"] >= 10
    assert p["open_at_end"] == 1 and [d["kind"] for d in p["differences"]] == ["open"]     # held when the run stopped
    assert rep["expectation"]["window"] == "is" and {c["status"] for c in rep["checks"]} == {"ok"}
    assert "parity: OK" in r.stdout and "verdict: OK" in r.stdout and "Traceback" not in r.stderr


def test_default_paper_run_holds_parity(runs):
    "(a) The bot's default replay (after the models' cutoff to the end: finished, nothing left open)."
    r = run_module("novosky.monitor", "--store", runs["oos"])
    assert r.returncode == 0, r.stdout + r.stderr
    assert "parity: OK. 3 closed live trade(s), 3 in the replay" in r.stdout and "small sample" in r.stdout


def test_tampered_and_dropped_trades_are_reported(runs, tmp_path):
    "(b) One fill altered, one trade missing from the store: both named, an alert on the console, exit 3."
    st = altered(runs["start"], tmp_path, "UPDATE trades SET exit_price = exit_price + 0.0005, pnl = pnl + 40 WHERE id = 7",
                 "DELETE FROM trades WHERE id = 9")
    r = run_module("novosky.monitor", "--store", st, "--json", tmp_path / "rep.json")
    assert r.returncode == 3, r.stdout + r.stderr
    rep = json.loads((tmp_path / "rep.json").read_text())
    bad = [d for d in rep["parity"]["differences"] if d["kind"] != "open"]
    assert sorted((d["kind"], d["live_id"] or d["replay_id"], d["field"]) for d in bad) == \
        [("differs", 7, "exit_price"), ("differs", 7, "pnl"), ("missing", 9, None)]
    assert rep["breaches"] == ["parity"] and rep["parity"]["differing_trades"] == 2
    assert "parity: DIFFERS" in r.stdout and "missing: the replay's trade #9" in r.stdout
    assert "error: EURUSD ALERT: parity beyond bounds" in r.stderr and "trade #7" in r.stderr     # the console notifier


def test_losing_trades_raise_an_alert(runs, tmp_path):
    "(c) Every trade after the third losing 3% of the account more, in the trades and in the equity: the Sharpe ratio and\n"\
    "drawdown bounds break, and the alert goes through the notifier."
    from novosky.monitor import main
    lost = f"300.0 * (SELECT COUNT(*) FROM trades t WHERE t.id > 3 AND t.exit_time + {HOUR} <= equity.time)"
    st = altered(runs["start"], tmp_path, f"UPDATE equity SET balance = balance - {lost}, equity = equity - {lost}",
                 "UPDATE trades SET pnl = pnl - 300.0 WHERE id > 3")
    cap = Captured()
    assert main(["--store", str(st), "--json", str(tmp_path / "rep.json")], notifier=cap) == 3
    rep = json.loads((tmp_path / "rep.json").read_text())
    assert {"sharpe", "drawdown"} <= set(rep["breaches"])
    assert len(cap.sent) == 1 and cap.sent[0][0] == "error"
    assert "sharpe: live Sharpe" in cap.sent[0][1] and "drawdown: live max drawdown" in cap.sent[0][1]


def test_a_run_that_falls_short_of_its_backtest_is_a_regression(runs, tmp_path):
    "(c) The default paper run makes exactly the replay's trades, yet held to the in-sample backtest it falls short on\n"\
    "every count: parity holds, the performance bounds break, and --no-alert leaves only the exit status."
    from novosky.monitor import main
    cap = Captured()
    assert main(["--store", str(runs["oos"]), "--expect", "is", "--json", str(tmp_path / "rep.json")], notifier=cap) == 3
    rep = json.loads((tmp_path / "rep.json").read_text())
    assert rep["parity"]["ok"] and "parity" not in rep["breaches"] and "sharpe" in rep["breaches"]
    assert cap.sent[0][1].startswith("EURUSD ALERT: sharpe")
    cap2 = Captured()
    assert main(["--store", str(runs["oos"]), "--expect", "is", "--no-alert"], notifier=cap2) == 3 and cap2.sent == []


def test_plain_errors(runs, tmp_path, capsys):
    "Exit 1 with the file, the field and what was expected; a DSN's password is never printed; --help exits 0."
    from novosky.monitor import main
    r = run_module("novosky.monitor", "--help")
    assert r.returncode == 0 and "--store" in r.stdout and "exit status: 0 every bound holds; 3" in " ".join(r.stdout.split())
    st = altered(runs["start"], tmp_path, "UPDATE trades SET lots = -1 WHERE id = 2")
    r = run_module("novosky.monitor", "--store", st)
    assert r.returncode == 1 and "trades row id 2: lots is -1.0; expected a size > 0" in r.stderr and "Traceback" not in r.stderr

    def fails(*args):
        assert main(list(map(str, args))) == 1
        return capsys.readouterr().err
    assert "nothing.csv" in fails("--store", runs["start"], "--bars", tmp_path / "nothing.csv")
    assert "--expect before: the out-of-sample bars before the run are fewer than 2 bars" in fails("--store", runs["oos"], "--expect", "before")
    err = fails("--store", "postgresql://monitor:s3cret@127.0.0.1:1/trades")
    assert "postgresql://monitor:***@127.0.0.1:1/trades: cannot read" in err and "s3cret" not in err
    assert "bounds.min_psr: 2.0 is out of range; allowed: 0 to 1" in fails("--store", runs["start"], "--min-psr", "2")


def test_reads_a_postgresql_store(runs):
    "The same run in PostgreSQL (as an OutboxStore forwards it), read by its DSN: the same verdict."
    from test_store import pg_database
    from novosky.store import SqliteStore, PostgresStore, TABLES
    from novosky.monitor import main
    for srv in pg_database("monitor_test"):
        dsn = f"postgresql://postgres@127.0.0.1:{srv.port}/monitor_test"
        src, dst = SqliteStore(runs["start"]), PostgresStore(dsn)
        dst.upsert_many({t: src.rows(t) for t in TABLES})
        src.close(); dst.close()
        assert main(["--store", dsn, "--no-alert"]) == 0
