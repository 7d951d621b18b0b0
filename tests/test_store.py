"""TradeStore adapters: SQLite, outbox with a flaky remote, PostgreSQL against a real local server, Supabase against
a local imitation of the PostgREST endpoints supabase-py calls.

PostgreSQL needs the server binaries (Debian: `apt-get install -y postgresql-15`) and `pip install "psycopg[binary]"`;
Supabase needs `pip install supabase`. Missing pieces skip those tests with a message saying what to install."""
import json, logging, os, shutil, signal, socket, subprocess, tempfile, threading, time
from glob import glob
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit, parse_qs
import pytest

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:supabase")

from novosky.store import (TABLES, MemoryStore, OutboxStore, PostgresStore, SqliteStore, StoreError, SupabaseStore, record)

T0 = 1_700_000_000_000_000_000
H = 3_600_000_000_000

def trade(i, pnl=10.0):
    return dict(id=i, group=i, direction=1 if i % 2 else -1, lots=0.1, entry_time=T0 + i * H, entry_price=1.08 + i * 1e-4,
                exit_time=T0 + (i + 2) * H, exit_price=1.081 + i * 1e-4, sl=1.07, tp=1.09, reason="tp", gross=pnl + 0.7,
                commission=0.7, swap=0.0, pnl=pnl, r=pnl / 20)

def write_all(st, n0, n1):
    "Write rows n0..n1-1 of every table, each twice (the second time an update)."
    for i in range(n0, n1):
        st.save_order(dict(client_id=f"ns-{i}-open", time=T0 + i * H, kind="open", position_id=i, direction=1,
                           lots=0.1, reason="signal"), status="sent")
        st.save_order(dict(client_id=f"ns-{i}-open", time=T0 + i * H, kind="open", position_id=i, direction=1,
                           lots=0.1, reason="signal"), status="filled")
        st.save_trade(trade(i, pnl=-1.0)); st.save_trade(trade(i))
        st.save_equity(T0 + i * H, 10_000.0 + i, 10_000.0 + i - 0.5)
        st.save_event(T0 + i * H, "info", "bar", i=i, note="ok")
        st.save_event(T0 + i * H, "info", "bar", i=i, note="ok")

def expected(n):
    mem = MemoryStore(); write_all(mem, 0, n); return {t: mem.rows(t) for t in TABLES}

def assert_complete(st, n):
    exp = expected(n)
    for t in TABLES:
        got = st.rows(t)
        assert len(got) == n, (t, len(got), n)
        assert got == exp[t], t

# ---------------------------------------------------------------- SQLite

def test_sqlite_round_trip_and_idempotency(tmp_path):
    p = tmp_path / "runs" / "novosky.sqlite"
    with SqliteStore(p) as st:
        write_all(st, 0, 5); write_all(st, 0, 5)        # everything again: still one row per key
        assert_complete(st, 5)
        assert st.rows("orders")[0]["status"] == "filled"
    with SqliteStore(p) as st:                          # reopened from disk
        assert_complete(st, 5)
        assert st.rows("trades")[0] == record("trades", trade(0))

def test_sqlite_rejects_rows_without_a_key(tmp_path):
    with SqliteStore(tmp_path / "s.sqlite") as st:
        with pytest.raises(ValueError, match="client_id"): st.upsert("orders", [dict(time=1, kind="open")])
        with pytest.raises(KeyError, match="unknown table"): st.upsert("fills", [dict(id=1)])

# ---------------------------------------------------------------- outbox with a flaky remote

class Flaky(MemoryStore):
    "Fails `down` calls (optionally after applying the write: the answer is lost), then recovers; counts every call."
    def __init__(self, down, apply_then_fail=False):
        super().__init__(); self.down, self.apply_then_fail, self.calls, self.rows_received = down, apply_then_fail, 0, 0
    def upsert(self, table, rows):
        self.calls += 1
        if self.down > 0:
            self.down -= 1
            if self.apply_then_fail: super().upsert(table, rows)
            raise ConnectionError("remote store unavailable")
        self.rows_received += len(rows); super().upsert(table, rows)

@pytest.mark.parametrize("apply_then_fail", [False, True])
def test_outbox_flaky_remote_loses_nothing_duplicates_nothing(tmp_path, caplog, apply_then_fail):
    remote, slept, now = Flaky(down=7, apply_then_fail=apply_then_fail), [], [0.0]
    ob = OutboxStore(tmp_path / "local.sqlite", remote, retries=3, base_delay=0.5, max_delay=4,
                     sleep=slept.append, clock=lambda: now[0])
    with caplog.at_level(logging.WARNING, logger="novosky.store"):
        write_all(ob, 0, 4)                              # never raises, although the remote is down
    assert slept[:2] == [0.5, 1.0]                       # exponential backoff inside one flush
    assert ob.pending() > 0 and ob.failures >= 1 and "unavailable" in ob.last_error
    assert any("kept in the outbox" in r.message for r in caplog.records)
    assert_complete(ob, 4)                               # the local copy is complete meanwhile
    for _ in range(5):
        now[0] += 100; ob.flush()
    assert ob.pending() == 0 and ob.failures == 0
    write_all(ob, 4, 6)                                  # recovered: forwarded at once
    assert ob.pending() == 0
    assert_complete(remote, 6); assert_complete(ob, 6)
    ob.close()

def test_outbox_survives_restart_of_the_process(tmp_path):
    "What waits in the outbox is on disk: a new OutboxStore over the same file delivers it."
    p = tmp_path / "local.sqlite"
    ob = OutboxStore(p, Flaky(down=10**6), retries=1, sleep=lambda s: None)
    write_all(ob, 0, 3); n = ob.pending(); ob.close()
    assert n == 3 * len(TABLES)                          # one outbox row per key: updates replaced waiting rows
    remote = MemoryStore()
    ob = OutboxStore(p, remote, sleep=lambda s: None)
    assert ob.pending() == n and ob.flush() == 0
    assert_complete(remote, 3); ob.close()

def test_outbox_cool_down_does_not_block_the_loop(tmp_path):
    remote, now = Flaky(down=10**6), [0.0]
    ob = OutboxStore(tmp_path / "l.sqlite", remote, retries=2, base_delay=1, max_delay=8, sleep=lambda s: None,
                     clock=lambda: now[0])
    ob.save_equity(1, 1.0, 1.0); calls = remote.calls
    for i in range(2, 20): ob.save_equity(i, 1.0, 1.0)   # still cooling down: no remote call per write
    assert remote.calls == calls and ob.pending() == 19
    now[0] = 100; ob.save_equity(20, 1.0, 1.0)
    assert remote.calls == calls + 2                     # past the cool-down: tried again (2 attempts)
    ob.flush(); assert remote.calls == calls + 4         # flush() always tries
    ob.close()

# ---------------------------------------------------------------- PostgreSQL, a real server on loopback

APT_HINT = "apt-get update && apt-get install -y postgresql-15"

def pg_bin():
    env = os.environ.get("NOVOSKY_PG_BIN")
    cands = ([env] if env else []) + sorted(glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(Path(p).parent.name), reverse=True)
    for d in cands:
        if d and (Path(d) / "initdb").exists() and (Path(d) / "postgres").exists(): return Path(d)
    if shutil.which("initdb") and shutil.which("postgres"): return Path(shutil.which("initdb")).parent
    return None

def free_port():
    with socket.socket() as s: s.bind(("127.0.0.1", 0)); return s.getsockname()[1]

class PgServer:
    "A throwaway PostgreSQL cluster in a temp dir, run as user `postgres` when we are root, on 127.0.0.1:<free port>."
    def __init__(self, bindir):
        import pwd
        self.bin, self.port, self.proc = bindir, free_port(), None
        self.dir = Path(tempfile.mkdtemp(prefix="novosky-pg-"))
        self.data, self.sock, self.logf = self.dir / "data", self.dir / "sock", self.dir / "server.log"
        self.sock.mkdir()
        self.user = None
        if os.geteuid() == 0:
            try: pw = pwd.getpwnam("postgres")
            except KeyError: pytest.skip(f"running as root and there is no 'postgres' user to run the server ({APT_HINT})")
            self.user = "postgres"
            for p in [self.dir, self.sock]: os.chown(p, pw.pw_uid, pw.pw_gid)
        r = subprocess.run([str(self.bin / "initdb"), "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8",
                            "--no-sync"], user=self.user, capture_output=True, text=True, timeout=120)
        if r.returncode: raise RuntimeError(f"initdb failed:\n{r.stdout}\n{r.stderr}")

    def dsn(self, db="postgres"):
        return f"host=127.0.0.1 port={self.port} user=postgres dbname={db} connect_timeout=2"

    def start(self, timeout=30):
        import psycopg
        self.out = open(self.logf, "ab")
        os.chown(self.logf, *((os.stat(self.dir).st_uid, os.stat(self.dir).st_gid)))
        self.proc = subprocess.Popen([str(self.bin / "postgres"), "-D", str(self.data), "-c", "listen_addresses=127.0.0.1",
                                      "-p", str(self.port), "-k", str(self.sock), "-c", "fsync=off"],
                                     user=self.user, stdout=self.out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        t_end = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"postgres exited with {self.proc.returncode}:\n{self.logf.read_text()[-3000:]}")
            try:
                with psycopg.connect(self.dsn(), connect_timeout=1): return
            except psycopg.OperationalError:
                if time.monotonic() > t_end: raise RuntimeError(f"postgres not ready after {timeout}s:\n{self.logf.read_text()[-3000:]}")
                time.sleep(0.1)

    def stop(self):
        "Fast shutdown (SIGINT to the postmaster: clients are disconnected); wait for it."
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try: self.proc.wait(20)
            except subprocess.TimeoutExpired: self.proc.kill(); self.proc.wait(10)
        self.proc = None
        if getattr(self, "out", None): self.out.close(); self.out = None

    def cleanup(self):
        self.stop(); shutil.rmtree(self.dir, ignore_errors=True)

def pg_database(name):
    "A throwaway PostgreSQL server on loopback holding an empty database `name`: yields the server, then removes it (the\n"\
    "body of a fixture; skips when psycopg or the server binaries are missing)."
    pytest.importorskip("psycopg", reason='psycopg 3 is not installed: pip install "psycopg[binary]"')
    import psycopg
    b = pg_bin()
    if b is None: pytest.skip(f"PostgreSQL server binaries (initdb, postgres) not found; install them with: {APT_HINT}")
    srv = PgServer(b)
    try:
        srv.start()
        with psycopg.connect(srv.dsn(), autocommit=True) as c: c.execute(f"CREATE DATABASE {name}")
        yield srv
    finally:
        srv.cleanup()

@pytest.fixture(scope="module")
def pg(): yield from pg_database("novosky_test")

def test_postgres_round_trip_and_idempotency(pg):
    import psycopg
    with psycopg.connect(pg.dsn(), autocommit=True) as c: c.execute("CREATE DATABASE rt")
    with PostgresStore(pg.dsn("rt")) as st:
        write_all(st, 0, 5); write_all(st, 0, 5)
        assert_complete(st, 5)
    with PostgresStore(pg.dsn("rt")) as st:
        assert st.rows("trades")[3] == record("trades", trade(3))
        assert "dbname" not in repr(st)

def test_postgres_outage_through_outbox(pg, caplog):
    remote = PostgresStore(pg.dsn("novosky_test"), connect_timeout=2)
    ob = OutboxStore(pg.dir / "outbox.sqlite", remote, retries=2, base_delay=0.01, sleep=lambda s: None)
    write_all(ob, 0, 3)
    assert ob.pending() == 0
    pg.stop()                                            # the server goes away mid-run
    with caplog.at_level(logging.WARNING, logger="novosky.store"):
        write_all(ob, 3, 6)                              # keeps writing; nothing raises
        ob.flush()
    assert ob.pending() == 3 * len(TABLES)
    assert any("refused" in r.message for r in caplog.records)
    assert_complete(ob, 6)                               # the local copy is complete
    pg.start()                                           # back (same data, same port)
    assert ob.flush() == 0
    write_all(ob, 6, 8); assert ob.pending() == 0
    with PostgresStore(pg.dsn("novosky_test")) as check: assert_complete(check, 8)
    import psycopg
    with psycopg.connect(pg.dsn("novosky_test")) as c:   # no duplicates (and the keys really are primary keys)
        for t, tb in TABLES.items():
            k = ", ".join(f'"{c_}"' for c_ in tb.key)
            n, d = c.execute(f'SELECT COUNT(*), COUNT(DISTINCT ({k})) FROM "{t}"').fetchone()
            assert n == d == 8, t
    ob.close()

# ---------------------------------------------------------------- Supabase, a local imitation of PostgREST

KEY = "test-anon-key-not-a-secret"

class FakePostgrest(ThreadingHTTPServer):
    daemon_threads = True
    def __init__(self):
        super().__init__(("127.0.0.1", 0), PostgrestHandler)
        self.tables, self.requests, self.fail, self.problems, self.lock = {}, [], 0, [], threading.Lock()

class PostgrestHandler(BaseHTTPRequestHandler):
    def log_message(self, *a): pass
    def _reply(self, code, body=None):
        data = b"" if body is None else json.dumps(body).encode()
        self.send_response(code)
        if data: self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data))); self.end_headers(); self.wfile.write(data)

    def _check(self):
        srv = self.server; u = urlsplit(self.path); q = {k: v[-1] for k, v in parse_qs(u.query).items()}
        parts = u.path.strip("/").split("/")
        if parts[:2] != ["rest", "v1"] or len(parts) != 3 or parts[2] not in TABLES:
            srv.problems.append(f"bad path {u.path}"); return self._reply(404, dict(message="not found")), None, None
        if self.headers.get("apikey") != KEY or self.headers.get("Authorization") != f"Bearer {KEY}":
            srv.problems.append(f"bad auth headers {dict(self.headers)}"); return self._reply(401, dict(message="no api key")), None, None
        return None, parts[2], q

    def do_POST(self):
        srv = self.server
        bad, table, q = self._check()
        if table is None: return
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        with srv.lock:
            srv.requests.append(dict(method="POST", table=table, query=q, prefer=self.headers.get("Prefer", ""),
                                     ctype=self.headers.get("Content-Type", ""), body=body))
            if srv.fail > 0:
                srv.fail -= 1
                return self._reply(503, dict(code="PGRST000", message="database unavailable", details=None, hint=None))
            key = ("run_id", *TABLES[table].key)                 # every table is keyed by run first
            cols = {"run_id", *TABLES[table].columns}
            prefer = [p.strip() for p in self.headers.get("Prefer", "").split(",")]
            rows = json.loads(body)
            ok = ("resolution=merge-duplicates" in prefer and q.get("on_conflict") == ",".join(key)
                  and self.headers.get("Content-Type", "").startswith("application/json") and isinstance(rows, list)
                  and all(set(r) == cols and r["run_id"] for r in rows)
                  and set(q.get("columns", "").replace('"', "").split(",")) == cols)
            if not ok:
                srv.problems.append(f"bad upsert request {q} {prefer}")
                return self._reply(400, dict(code="PGRST100", message="bad upsert", details=None, hint=None))
            t = srv.tables.setdefault(table, {})
            for r in rows: t[tuple(r[k] for k in key)] = r
        self._reply(201)

    def do_GET(self):
        srv = self.server
        bad, table, q = self._check()
        if table is None: return
        with srv.lock:
            srv.requests.append(dict(method="GET", table=table, query=q))
            cols = q.get("select", "*").split(",")
            rows = [srv.tables.get(table, {})[k] for k in sorted(srv.tables.get(table, {}))]
            if "run_id" in q:                                    # PostgREST filter run_id=eq.<id>
                op, _, val = q["run_id"].partition(".")
                if op != "eq": srv.problems.append(f"bad filter {q}")
                rows = [r for r in rows if r["run_id"] == val]
            off, lim = int(q.get("offset", 0)), int(q.get("limit", 10**9))
            rows = [{c: r[c] for c in cols} if cols != ["*"] else r for r in rows[off:off + lim]]
        self._reply(200, rows)

@pytest.fixture
def postgrest():
    pytest.importorskip("supabase", reason="supabase-py is not installed: pip install supabase")
    srv = FakePostgrest()
    th = threading.Thread(target=srv.serve_forever, daemon=True); th.start()
    yield srv
    srv.shutdown(); srv.server_close(); th.join(5)

def sb_url(srv): return f"http://127.0.0.1:{srv.server_address[1]}"

def test_supabase_upsert_requests_and_round_trip(postgrest):
    st = SupabaseStore(sb_url(postgrest), KEY, page=3)        # small page: rows() must paginate
    write_all(st, 0, 5); write_all(st, 0, 5)
    assert postgrest.problems == []
    posts = [r for r in postgrest.requests if r["method"] == "POST"]
    assert len(posts) == 5 * 7 * 2
    assert all("return=minimal" in r["prefer"] and "resolution=merge-duplicates" in r["prefer"] for r in posts)
    assert {r["table"]: r["query"]["on_conflict"] for r in posts} == dict(orders="run_id,client_id", trades="run_id,id",
                                                                         equity="run_id,time", events="run_id,id")
    assert json.loads(posts[2]["body"]) == [dict(run_id=st.run_id, **record("trades", trade(0, pnl=-1.0)))]
    assert_complete(st, 5)
    assert KEY not in repr(st)

def test_supabase_bad_key_is_refused(postgrest):
    st = SupabaseStore(sb_url(postgrest), "wrong-key")
    with pytest.raises(Exception): st.save_equity(1, 1.0, 1.0)
    postgrest.problems.clear()

def test_supabase_outage_through_outbox(postgrest, tmp_path):
    remote = SupabaseStore(sb_url(postgrest), KEY)
    ob = OutboxStore(tmp_path / "l.sqlite", remote, retries=3, base_delay=0.01, sleep=lambda s: None)
    postgrest.fail = 10**6                                    # 503s until further notice
    write_all(ob, 0, 3)
    assert ob.pending() > 0
    postgrest.fail = 0
    assert ob.flush() == 0
    write_all(ob, 3, 5)
    assert postgrest.problems == [] and ob.pending() == 0
    assert_complete(remote, 5)
    ob.close()

# ---------------------------------------------------------------- run ids: several runs in one database

LEGACY_DDL = {   # the tables as stores wrote them before run ids (no run_id column, keyed by the row's own key)
    "orders": '"client_id" TEXT NOT NULL, "time" INTEGER, "kind" TEXT, "position_id" INTEGER, "direction" INTEGER, "lots" REAL, '
              '"sl" REAL, "tp" REAL, "reason" TEXT, "status" TEXT, PRIMARY KEY ("client_id")',
    "trades": '"id" INTEGER NOT NULL, "group" INTEGER, "direction" INTEGER, "lots" REAL, "entry_time" INTEGER, "entry_price" REAL, '
              '"exit_time" INTEGER, "exit_price" REAL, "sl" REAL, "tp" REAL, "reason" TEXT, "gross" REAL, "commission" REAL, '
              '"swap" REAL, "pnl" REAL, "r" REAL, PRIMARY KEY ("id")',
    "equity": '"time" INTEGER NOT NULL, "balance" REAL, "equity" REAL, PRIMARY KEY ("time")',
    "events": '"id" TEXT NOT NULL, "time" INTEGER, "level" TEXT, "event" TEXT, "fields" TEXT, PRIMARY KEY ("id")'}

def write_legacy(execute, n, ph="?"):
    "Create the pre-run-id tables through `execute(sql, params=None)` and fill them with rows 0..n-1 of `expected`."
    for t, cols in LEGACY_DDL.items():
        if ph != "?": cols = cols.replace("INTEGER", "BIGINT").replace("REAL", "DOUBLE PRECISION")
        execute(f'CREATE TABLE "{t}" ({cols})')
        for r in expected(n)[t]:
            execute(f'INSERT INTO "{t}" ({", ".join(chr(34) + c + chr(34) for c in r)}) VALUES ({", ".join([ph] * len(r))})',
                    tuple(r.values()))

def test_sqlite_store_from_before_run_ids_is_migrated(tmp_path):
    import sqlite3
    p = tmp_path / "old.sqlite"
    with sqlite3.connect(p) as c:
        write_legacy(lambda sql, params=(): c.execute(sql, params), 4)
        c.execute('CREATE TABLE "_outbox" (seq INTEGER PRIMARY KEY AUTOINCREMENT, tbl TEXT NOT NULL, k TEXT NOT NULL, '
                  'row TEXT NOT NULL, created REAL, attempts INTEGER NOT NULL DEFAULT 0, last_error TEXT, UNIQUE (tbl, k))')
        c.execute('INSERT INTO "_outbox" (tbl, k, row) VALUES (?, ?, ?)', ("equity", "[99]", json.dumps(record("equity", time=99, balance=1.0, equity=1.0))))
    remote = MemoryStore()
    ob = OutboxStore(p, remote, sleep=lambda s: None)           # what a bot does at start: migrate, then deliver the outbox
    assert_complete(ob, 4)                                       # every old row kept, now under the file's run id
    assert ob.runs() == [ob.run_id] and remote.run_id == ob.run_id
    assert ob.flush() == 0 and [r["time"] for r in remote.rows("equity")] == [99]
    write_all(ob, 4, 6); assert_complete(ob, 6)
    ob.close()
    with SqliteStore(p) as st: assert st.run_id == ob.run_id and len(st.rows("trades")) == 6
    with sqlite3.connect(p) as c:
        cols = [r[1] for r in c.execute('PRAGMA table_info("trades")')]
        pk = [r[1] for r in sorted(c.execute('PRAGMA table_info("trades")'), key=lambda r: r[5]) if r[5]]
    assert cols[0] == "run_id" and pk == ["run_id", "id"]

def test_two_runs_share_one_postgres_database(pg, tmp_path):
    "Two bots, the same trade ids, one database: neither overwrites the other; a reader picks a run or is told to."
    import psycopg
    with psycopg.connect(pg.dsn(), autocommit=True) as c: c.execute("CREATE DATABASE shared")
    obs = [OutboxStore(tmp_path / f"{name}.sqlite", PostgresStore(pg.dsn("shared")), run_id=name, sleep=lambda s: None)
           for name in ("eurusd-h1-vps1", "xauusd-h1-vps2")]
    write_all(obs[0], 0, 3); write_all(obs[1], 0, 5)
    assert all(ob.pending() == 0 for ob in obs)
    obs[1].save_trade(trade(1, pnl=-99.0))                       # the second run's trade #1 changes; the first run's does not
    with PostgresStore(pg.dsn("shared"), run_id="eurusd-h1-vps1") as a: assert_complete(a, 3)
    with PostgresStore(pg.dsn("shared"), run_id="xauusd-h1-vps2") as b:
        assert len(b.rows("trades")) == 5 and b.rows("trades")[1]["pnl"] == -99.0
        assert b.runs() == ["eurusd-h1-vps1", "xauusd-h1-vps2"]
    with PostgresStore(pg.dsn("shared")) as anon:
        with pytest.raises(StoreError, match="holds 2 runs \\(eurusd-h1-vps1, xauusd-h1-vps2\\); name the one to read"):
            anon.rows("trades")
    for ob in obs: ob.close()

def test_postgres_tables_from_before_run_ids_are_migrated(pg):
    import psycopg
    with psycopg.connect(pg.dsn(), autocommit=True) as c: c.execute("CREATE DATABASE legacy")
    with psycopg.connect(pg.dsn("legacy"), autocommit=True) as c: write_legacy(lambda sql, params=None: c.execute(sql, params), 3, "%s")
    with PostgresStore(pg.dsn("legacy")) as reader:               # a reader with no run id: the old rows become one run
        assert_complete(reader, 3)
        old_run = reader.run_id
    with PostgresStore(pg.dsn("legacy"), run_id="newhost") as w: write_all(w, 0, 2)
    with PostgresStore(pg.dsn("legacy"), run_id=old_run) as r: assert_complete(r, 3)
    with psycopg.connect(pg.dsn("legacy")) as c:
        pk = c.execute("SELECT a.attname FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey) "
                       "WHERE i.indrelid = '\"trades\"'::regclass AND i.indisprimary").fetchall()
        assert sorted(x[0] for x in pk) == ["id", "run_id"]

def test_supabase_runs_are_kept_apart(postgrest):
    a, b = SupabaseStore(sb_url(postgrest), KEY, run_id="run-a"), SupabaseStore(sb_url(postgrest), KEY, run_id="run-b")
    write_all(a, 0, 2); write_all(b, 0, 4)
    assert_complete(a, 2); assert_complete(b, 4)
    with pytest.raises(StoreError, match="holds 2 runs"): SupabaseStore(sb_url(postgrest), KEY).rows("equity")
    assert postgrest.problems == []
