"""`python -m novosky.dashboard` driven as a trader drives it: in a pseudo-terminal of a fixed size, as the terminal's
foreground job, stopped with Ctrl-C. The screen must show the store's figures (equity, the open position, the closed
trades, the heartbeat's age), redraw, pick up rows a running bot keeps writing, and give the terminal back as it was."""
import fcntl, json, os, re, select, sqlite3, struct, subprocess, sys, termios, time
from pathlib import Path
import pytest
from conftest import ROOT

ROWS, COLS = 40, 120
ANSI = re.compile(r"\x1b(\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(\x07|\x1b\\)|[()][0-9A-Za-z]|[=>78DEHM])")
TITLE = "NOVOSKY dashboard"


@pytest.fixture(scope="module")
def home(tmp_path_factory):
    "A project folder of its own, its config and models linked from the repository: the bots here log to its runs/."
    h = tmp_path_factory.mktemp("home")
    for name in ("config.json", "ml_config.json", "config", "models"): (h / name).symlink_to(ROOT / name)
    return h


def environ(home):
    e = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES", "NO_COLOR", "FORCE_COLOR", "TTY_COMPATIBLE", "TTY_INTERACTIVE")}
    return dict(e, NOVOSKY_HOME=str(home), TERM="xterm-256color")


def bot(home, d, name, *args):
    "`python -m novosky.bot` replaying from the sample's first bar into d/<name>.sqlite (a Popen; its output in d/<name>.out)."
    with open(d / f"{name}.out", "w") as out:
        return subprocess.Popen([sys.executable, "-m", "novosky.bot", "--from", "start", "--onnx", "--no-progress", "--store", d / f"{name}.sqlite",
                                 "--state", d / f"{name}.json", *map(str, args)], cwd=ROOT, env=environ(home), stdout=out, stderr=subprocess.STDOUT)

def finished(b, d, name, timeout=120, term=None):
    "Wait for bot `b` to end (reading `term` meanwhile, so the dashboard is never blocked on a full terminal); it must succeed."
    end = time.monotonic() + timeout
    while b.poll() is None and time.monotonic() < end:
        if term: term.read(0.1)
        else: time.sleep(0.1)
    assert b.poll() == 0, (d / f"{name}.out").read_text()[-3000:]


def _own_terminal():
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)             # after setsid: the pty becomes the controlling terminal, so ^C reaches us


class Terminal:
    "A ROWS x COLS pseudo-terminal running `args` as its foreground job; keeps every byte the job printed."
    def __init__(self, args, env):
        self.master, self.slave = os.openpty()
        fcntl.ioctl(self.slave, termios.TIOCSWINSZ, struct.pack("HHHH", ROWS, COLS, 0, 0))
        self.modes = termios.tcgetattr(self.slave)
        self.out = b""
        self.proc = subprocess.Popen([sys.executable, "-m", "novosky.dashboard", *map(str, args)], cwd=ROOT, env=env,
                                     stdin=self.slave, stdout=self.slave, stderr=self.slave, start_new_session=True,
                                     preexec_fn=_own_terminal)

    def read(self, seconds):
        end = time.monotonic() + seconds
        while (left := end - time.monotonic()) > 0:
            if select.select([self.master], [], [], min(left, 0.05))[0]:
                try: self.out += os.read(self.master, 1 << 16)
                except OSError: return

    def wait_for(self, pattern, timeout, start=0):
        "Read until `pattern` shows in the screen text (`flat`) after position `start`; the match."
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            m = re.compile(pattern).search(self.flat, start)
            if m: return m
            if self.proc.poll() is not None: self.read(0.2); break
            self.read(0.1)
        m = re.compile(pattern).search(self.flat, start)
        assert m, f"{pattern!r} not on the screen within {timeout} s; the screen:\n{self.text[-4000:]}"
        return m

    @property
    def text(self): return ANSI.sub("", self.out.decode("utf-8", "replace"))

    @property
    def flat(self): return re.sub(r"\s+", " ", self.text)          # lines joined: a message wrapped on the screen reads whole

    def frames(self): return [TITLE + f.replace("^C", "") for f in self.text.split(TITLE)[1:]]    # ^C: the terminal's echo

    def ctrl_c(self, timeout=30):
        "Type Ctrl-C; the exit status (a loaded machine may take seconds to schedule the exit)."
        os.write(self.master, b"\x03")
        end = time.monotonic() + timeout
        while self.proc.poll() is None and time.monotonic() < end: self.read(0.1)
        self.read(0.3)
        return self.proc.wait(5)

    def close(self):
        if self.proc.poll() is None: self.proc.kill(); self.proc.wait()
        os.close(self.master); os.close(self.slave)


def updates(term): return [int(n) for n in re.findall(r"· update (\d+) ·", term.text)]


def rows_of(store):
    with sqlite3.connect(f"file:{store}?mode=ro", uri=True) as c:
        eq = c.execute("SELECT equity FROM equity ORDER BY time DESC LIMIT 1").fetchone()[0]
        trades = c.execute("SELECT id, direction, lots, reason, pnl FROM trades ORDER BY exit_time DESC").fetchall()
        n = c.execute("SELECT COUNT(*) FROM equity").fetchone()[0]
    return eq, trades, n


def row(*cells): return re.compile(" +".join(map(re.escape, cells)))


def left_cleanly(term):
    "Exit status 0, the alternate screen left, the cursor shown again, the terminal's modes as they were, no traceback."
    tail = term.out[term.out.rfind(b"\x1b[?1049h"):]                  # from the switch to the alternate screen on
    assert b"\x1b[?1049l" in tail and b"\x1b[?25h" in tail[tail.find(b"\x1b[?1049l") - 20:], tail[-300:]
    assert termios.tcgetattr(term.slave) == term.modes
    assert "Traceback" not in term.text


def test_shows_a_finished_run_and_stops_on_ctrl_c(home, tmp_path):
    "A paper run stopped at bar 1,375 (four trades closed, #5 open); its log's last heartbeat 2 minutes old."
    finished(bot(home, tmp_path, "done", "--max-bars", 1375, "--fast"), tmp_path, "done")
    store = tmp_path / "done.sqlite"
    now = time.time()
    log = tmp_path / "quiet.log"
    log.write_text(json.dumps({"time": time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime(now - 125)), "event": "heartbeat"}) + "\n")
    os.utime(store, (now - 1000, now - 1000))
    eq, trades, n = rows_of(store)
    t = Terminal(["--store", store, "--refresh", "0.5", "--log", log], environ(home))
    try:
        t.wait_for(r"· update 3 ·", 20)
        with sqlite3.connect(store) as c: c.execute("UPDATE trades SET direction = 5 WHERE id = 3")   # a row it cannot read...
        m = t.wait_for(r"error: \S*done.sqlite: trades row id 3: direction is 5; expected 1 \(buy\) or -1 \(sell\)", 10)
        with sqlite3.connect(store) as c: c.execute("UPDATE trades SET direction = -1 WHERE id = 3")  # ...said on the screen, until fixed
        t.wait_for(r"Recent trades \(4 of 4\)", 10, m.end())
        code = t.ctrl_c()
        assert code == 0, t.text[-3000:]
        left_cleanly(t)
        assert len(set(updates(t))) >= 5                                    # drawn, then redrawn again and again
        f = next(f for f in t.frames() if "· update 3 ·" in f)              # before the store was touched
        assert max(len(l) for l in f.splitlines()) <= COLS and f.count("\n") < ROWS
        assert f"Equity   {eq:,.2f}" in f and f"{n:,} bars" in f
        assert "Open positions (1)" in f and re.search(r"#5 +SELL +[\d.]+ +\d{4}-\d\d-\d\d \d\d:\d\d +[\d.]+ +[\d.]+ +open", f)
        assert f"Recent trades ({len(trades)} of {len(trades)})" in f and [i for i, *_ in trades] == [4, 3, 2, 1]
        for i, d, lots, reason, pnl in trades:
            assert row(f"#{i}", "SELL" if d < 0 else "BUY", f"{lots:g}").search(f) and row(reason, f"{pnl:+,.2f}").search(f), i
        m = re.search(r"Heartbeat STALE · 2m (\d\d)s ago \(bot log: heartbeat\)", f)   # the log, not the store read 1000 s ago
        assert m and 5 <= int(m.group(1)) <= 40, f
    finally:
        t.close()


def test_follows_a_bot_that_is_still_writing(home, tmp_path):
    "A replay writing ~40 bars a second: each redraw shows more bars, the trade appears when it closes (bar 302), then the stop."
    b = bot(home, tmp_path, "live", "--max-bars", 340, "--speed", 3600 * 50)
    store, t = tmp_path / "live.sqlite", None
    try:
        end = time.monotonic() + 60
        while time.monotonic() < end:                       # the bot has written its first bars
            try:
                with sqlite3.connect(f"file:{store}?mode=ro", uri=True) as c:
                    if c.execute("SELECT COUNT(*) FROM equity").fetchone()[0] >= 30: break
            except sqlite3.Error: pass                      # not there yet
            assert b.poll() is None, (tmp_path / "live.out").read_text()[-3000:]
            time.sleep(0.1)
        t = Terminal(["--store", store, "--refresh", "0.5"], environ(home))
        t.wait_for(r"Heartbeat ok · \d s ago \((bot log: \w+|store written)\)", 20)   # alive: its log (home/runs/bot.log), its store
        finished(b, tmp_path, "live", term=t)
        eq, trades, n = rows_of(store)
        mark = len(t.flat)
        t.wait_for(rf"{n:,} bars", 10, mark)
        t.wait_for(r"Heartbeat STALE · \d+ s ago \(bot log: stop\)|Heartbeat STOPPED", 10, mark)
        assert t.ctrl_c() == 0
        left_cleanly(t)
        seen = [int(x.replace(",", "")) for x in re.findall(r"· ([\d,]+) bars", t.text)]
        assert len(set(seen)) >= 3 and seen == sorted(seen) and seen[0] < n == seen[-1], seen    # new rows on each redraw
        closed = [int(x) for x in re.findall(r"Recent trades \(\d+ of (\d+)\)", t.text)]
        assert closed[0] == 0 and closed[-1] == len(trades) == 1 and closed == sorted(closed), closed   # the trade appears as it closes
        f = t.frames()[-1]
        assert f"Equity   {eq:,.2f}" in f and "Open positions (0)" in f
        for i, d, lots, reason, pnl in trades: assert row(f"#{i}", "SELL" if d < 0 else "BUY", f"{lots:g}").search(f), i
    finally:
        if b.poll() is None: b.kill(); b.wait()
        if t: t.close()


def test_plain_errors_and_help(home, tmp_path):
    run = lambda *a: subprocess.run([sys.executable, "-m", "novosky.dashboard", *map(str, a)], cwd=ROOT, env=environ(home),
                                    capture_output=True, text=True, timeout=60)
    r = run("--store", tmp_path / "nowhere.sqlite")
    assert r.returncode == 1 and f"error: {tmp_path / 'nowhere.sqlite'}: no such trade store file" in r.stderr and "Traceback" not in r.stderr
    r = run("--help")
    assert r.returncode == 0 and "--refresh SECONDS" in r.stdout and "--once" in r.stdout and "PostgreSQL DSN" in r.stdout


def test_once_on_a_postgresql_store(home, tmp_path):
    "The same screen from a PostgreSQL store, by its DSN (the password never shown)."
    from test_store import pg_database
    from novosky.store import SqliteStore, PostgresStore, TABLES
    finished(bot(home, tmp_path, "pg", "--max-bars", 800, "--fast"), tmp_path, "pg")
    eq, trades, n = rows_of(tmp_path / "pg.sqlite")
    for srv in pg_database("dashboard_test"):
        dsn = f"postgresql://postgres:pw@127.0.0.1:{srv.port}/dashboard_test"
        src, dst = SqliteStore(tmp_path / "pg.sqlite"), PostgresStore(dsn)
        dst.upsert_many({t: src.rows(t) for t in TABLES}); src.close(); dst.close()
        r = subprocess.run([sys.executable, "-m", "novosky.dashboard", "--store", dsn, "--once"], cwd=ROOT,
                           env=dict(environ(home), COLUMNS="120"), capture_output=True, text=True, timeout=60)
        assert r.returncode == 0, r.stderr
        assert f"postgresql://postgres:***@127.0.0.1:{srv.port}/dashboard_test" in r.stdout and ":pw@" not in r.stdout
        assert f"Equity   {eq:,.2f}" in r.stdout and f"{n:,} bars" in r.stdout and f"Recent trades ({len(trades)} of {len(trades)})" in r.stdout
