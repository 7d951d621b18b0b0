"""`python -m novosky.onboard` driven as a trader drives it: in a pseudo-terminal (the controlling terminal, so the
password and token prompts really have echo off), on a scratch copy of the project, with a loopback stand-in for the
Telegram Bot API. Then the non-interactive form, and refusals that must leave config.json as it was."""
import fcntl, http.server, json, os, re, select, shutil, stat, subprocess, sys, termios, threading, time
from pathlib import Path
import pytest
from conftest import ROOT
from novosky.config import load_all, read_dotenv

TOKEN = "123456:ABCDEFGHIJKLMNOPQRSTuvwxyz"
PASSWORD = "pty-s3cret-pass"
ANSI = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]")


@pytest.fixture
def home(tmp_path):
    "A scratch project: copies of the three config files (the wizard writes here, never in the repository)."
    for rel in ("config.json", "ml_config.json", "config/brokers.json"):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True); shutil.copy(ROOT / rel, tmp_path / rel)
    return tmp_path


@pytest.fixture
def bot_api():
    "A loopback Bot API that knows TOKEN; yields (base URL, the paths it was asked)."
    seen = []
    class Api(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            seen.append(self.path)
            ok = self.path == f"/bot{TOKEN}/getMe"
            body = json.dumps({"ok": True, "result": {"id": 7, "is_bot": True, "username": "fake_novosky_bot"}} if ok else
                              {"ok": False, "error_code": 401, "description": "Unauthorized"}).encode()
            self.send_response(200 if ok else 401); self.send_header("Content-Length", str(len(body))); self.end_headers()
            self.wfile.write(body)
        def log_message(self, *a): pass
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Api)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{srv.server_address[1]}/bot", seen
    srv.shutdown(); srv.server_close()


def environ(home, **extra):
    "This environment without any NOVOSKY secret or run id, pointed at `home`."
    e = {k: v for k, v in os.environ.items() if not k.startswith("NOVOSKY_") and k != "HF_TOKEN"}
    return dict(e, NOVOSKY_HOME=str(home), PYTHONPATH=str(ROOT), TERM="dumb", **extra)


def onboard(home, *args, **env):
    return subprocess.run([sys.executable, "-m", "novosky.onboard", *map(str, args)], cwd=ROOT, env=environ(home, **env),
                          capture_output=True, text=True, timeout=120)


def _own_terminal():
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)          # after setsid: the pty is the controlling terminal (/dev/tty for getpass)


class Terminal:
    "`python -m novosky.onboard args` in a pseudo-terminal; `expect` a prompt, `send` a line."
    def __init__(self, args, env):
        self.master, slave = os.openpty()
        self.proc = subprocess.Popen([sys.executable, "-m", "novosky.onboard", *map(str, args)], cwd=ROOT, env=env, stdin=slave,
                                     stdout=slave, stderr=slave, start_new_session=True, preexec_fn=_own_terminal)
        os.close(slave)
        self.out, self.pos = b"", 0

    def _read(self, seconds):
        if select.select([self.master], [], [], seconds)[0]:
            try: self.out += os.read(self.master, 1 << 16)
            except OSError: time.sleep(seconds)   # the job ended and closed the terminal

    @property
    def text(self): return ANSI.sub("", self.out.decode("utf-8", "replace")).replace("\r", "")

    def expect(self, pattern, timeout=30):
        "Read until `pattern` shows after what was matched before; the match."
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            m = re.compile(pattern).search(self.text, self.pos)
            if m: self.pos = m.end(); return m
            if self.proc.poll() is not None: self._read(0.2); break
            self._read(0.05)
        m = re.compile(pattern).search(self.text, self.pos)
        assert m, f"{pattern!r} did not show within {timeout} s; the screen:\n{self.text[-3000:]}"
        self.pos = m.end(); return m

    def send(self, line): os.write(self.master, line.encode() + b"\r")

    def answer(self, prompt, line, timeout=30): self.expect(prompt, timeout); self.send(line)

    def close(self):
        if self.proc.poll() is None: self.proc.kill()
        self.proc.wait(10); os.close(self.master)


def test_wizard_in_a_terminal(home, bot_api):
    api, seen = bot_api
    before = (home / "config.json").read_text()
    t = Terminal(["--telegram-api", api], environ(home))
    try:
        t.expect(r"1\. ecn_demo .*\n\s+2\. standard_demo")                        # the registry is listed
        t.answer(r"Broker \[ecn_demo\]: ", "standard_demo")
        t.answer(r"Symbol \[EURUSD\]: ", "4")                                    # by its number: XAUUSD
        t.answer(r"Timeframe \(M1 M5 M15 M30 H1 H4 D1\) \[H1\]: ", "m15")
        t.answer(r"Risk per trade, % of equity \(0\.01 to 10\) \[1\.0\]: ", "50")
        t.expect(r"! risk\.risk_pct: 50\.0 is out of range; allowed: 0\.01 to 10\.0\. Please answer again\.")
        t.answer(r"Risk per trade, % of equity \(0\.01 to 10\) \[1\.0\]: ", "0.5")   # asked again
        t.answer(r"Mode \[paper\]: ", "mt5-paper")
        t.answer(r"Login \(account number; 0 = .*\) \[0\]: ", "5001234")
        t.answer(r"Trade server, as the terminal names it \(e\.g\. Broker-Demo\): ", "Broker-Demo")
        t.answer(r"Password \(hidden, saved only in \.env; Enter: none\): ", PASSWORD)
        t.answer(r"mt5linux bridge host \[127\.0\.0\.1\]: ", "")
        t.answer(r"mt5linux bridge port \[18812\]: ", "18813")
        m = t.expect(r"MT5: (untested|failed|ok) — ([^\n]*)", 60)
        if m.group(1) == "untested": assert "cannot test it on this machine" in m.group(2)
        if m.group(1) == "failed": t.answer(r"Change the MT5 answers and test again\? \(yes/no\) \[yes\]: ", "no")
        t.answer(r"Telegram notifications and commands \(yes/no\) \[no\]: ", "yes")
        t.answer(r"Bot token from @BotFather \(hidden, saved only in \.env; required\): ", TOKEN)
        t.answer(r"Chat ids the bot reports to and answers \(comma-separated\) \[none\]: ", "111, -100222")
        t.answer(r"User ids allowed .* \[none\]: ", "333")
        t.expect(r"Telegram: ok — the token belongs to @fake_novosky_bot")
        t.answer(r"Store \[sqlite\]: ", "")
        t.answer(r"SQLite file \(relative to the project folder\) \[runs/novosky\.sqlite\]: ", "runs/onboard.sqlite")
        t.expect(r"store: ok — ")
        t.expect(r"config\.json  risk\.risk_pct: 1\.0 → 0\.5")
        t.expect(r"\.env         NOVOSKY_MT5_PASSWORD: new \(value hidden\)")
        t.answer(r"Write these files now\? \(yes/no\) \[yes\]: ", "")
        t.expect(r"wrote config\.json \(the previous one is config\.json\.bak\)")
        assert t.proc.wait(30) == 0, t.text[-3000:]
        t.expect(r"done: ")
    finally: t.close()
    screen = t.text
    assert PASSWORD not in screen and TOKEN not in screen, "a secret was echoed"

    c = load_all(root=home).config                                                # the project's loader takes it
    assert (c.broker, c.symbol, c.timeframe, c.risk.risk_pct, c.mode) == ("standard_demo", "XAUUSD", "M15", 0.5, "mt5-paper")
    assert (c.mt5.login, c.mt5.server, c.mt5.host, c.mt5.port) == (5001234, "Broker-Demo", "127.0.0.1", 18813)
    assert (c.telegram.enabled, c.telegram.allowed_chat_ids, c.telegram.allowed_user_ids) == (True, [111, -100222], [333])
    assert (c.store.kind, c.store.sqlite_path) == ("sqlite", "runs/onboard.sqlite") and (home / "runs/onboard.sqlite").is_file()
    text = (home / "config.json").read_text()
    assert PASSWORD not in text and TOKEN not in text                             # secrets only in .env
    assert read_dotenv(home / ".env") == {"NOVOSKY_MT5_PASSWORD": PASSWORD, "NOVOSKY_TELEGRAM_TOKEN": TOKEN}
    assert stat.S_IMODE((home / ".env").stat().st_mode) == 0o600
    assert (home / "config.json.bak").read_text() == before
    assert seen == [f"/bot{TOKEN}/getMe"]

    r = subprocess.run([sys.executable, "-m", "novosky.config"], cwd=ROOT, env=environ(home), capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr                                            # what live mode still lacks: not these any more
    assert not any(s in r.stderr for s in ("mt5.login", "mt5.server", "NOVOSKY_MT5_PASSWORD", "NOVOSKY_TELEGRAM_TOKEN")), r.stderr


def test_config_warns_what_live_mode_lacks(home):
    r = subprocess.run([sys.executable, "-m", "novosky.config"], cwd=ROOT, env=environ(home), capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and "note: a live mode (mt5, mt5-paper) would still lack" in r.stderr, r.stderr
    cfg = json.loads((home / "config.json").read_text()); cfg["mode"] = "mt5"; cfg["telegram"].update(enabled=True, allowed_chat_ids=[1])
    (home / "config.json").write_text(json.dumps(cfg))
    r = subprocess.run([sys.executable, "-m", "novosky.config"], cwd=ROOT, env=environ(home), capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and "warning: mode mt5 still lacks:" in r.stderr, r.stderr
    for s in ("mt5.login is 0", "mt5.server is empty", "NOVOSKY_MT5_PASSWORD is not set", "NOVOSKY_TELEGRAM_TOKEN is not set"): assert s in r.stderr


def test_non_interactive(home, bot_api):
    api, seen = bot_api
    (home / ".env").write_text("# mine\nOTHER=keep\n")
    args = ["--non-interactive", "--broker", "ecn_demo", "--symbol", "USDJPY", "--risk", "1.5", "--mode", "paper", "--telegram",
            "--telegram-chat", "42", "--telegram-api", api]
    r = onboard(home, *args, "--dry-run", NOVOSKY_TELEGRAM_TOKEN=TOKEN)
    assert r.returncode == 0 and "dry run: nothing was written" in r.stdout and "NOVOSKY_TELEGRAM_TOKEN: new" in r.stdout, r.stderr
    assert not (home / "config.json.bak").exists() and TOKEN not in r.stdout

    r = onboard(home, *args, NOVOSKY_TELEGRAM_TOKEN=TOKEN)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "Telegram: ok" in r.stdout and "MT5: skipped" in r.stdout and "store: ok" in r.stdout
    c = load_all(root=home).config
    assert (c.symbol, c.risk.risk_pct, c.mode, c.telegram.enabled, c.telegram.allowed_chat_ids) == ("USDJPY", 1.5, "paper", True, [42])
    assert read_dotenv(home / ".env") == {"OTHER": "keep", "NOVOSKY_TELEGRAM_TOKEN": TOKEN}
    assert (home / ".env").read_text().startswith("# mine\nOTHER=keep\n") and stat.S_IMODE((home / ".env").stat().st_mode) == 0o600
    assert seen == [f"/bot{TOKEN}/getMe"]


def test_refusals_leave_config_untouched(home, bot_api):
    api, _ = bot_api
    before = (home / "config.json").read_bytes()
    r = onboard(home, "--non-interactive", "--risk", "50")
    assert r.returncode == 1 and "--risk 50: risk.risk_pct: 50.0 is out of range; allowed: 0.01 to 10.0" in r.stderr, r.stderr
    r = onboard(home, "--non-interactive", "--symbol", "DOGEUSD")
    assert r.returncode == 1 and "'DOGEUSD' is not one of EURUSD" in r.stderr, r.stderr
    r = onboard(home, "--non-interactive", "--telegram", "--telegram-chat", "42", "--telegram-api", api,
                NOVOSKY_TELEGRAM_TOKEN="999:WRONGWRONGWRONGWRONGWRONG")
    assert r.returncode == 1 and "Telegram refuses the token (HTTP 401" in r.stdout and "the Telegram test failed" in r.stderr
    assert "WRONG" not in r.stdout + r.stderr
    assert (home / "config.json").read_bytes() == before
    assert not (home / "config.json.bak").exists() and not (home / ".env").exists()
    r = onboard(home, "--no-such-flag")
    assert r.returncode == 2 and "usage:" in r.stderr
    r = onboard(home, "--help")
    assert r.returncode == 0 and "--non-interactive" in r.stdout and "NOVOSKY_MT5_PASSWORD" in r.stdout


def test_runs_on_the_lean_client_lane(home):
    "The trading host has no training stack and none of the extras: the wizard still runs, MT5 adapter included."
    from conftest import CLIENT_LANE_BLOCK
    code = CLIENT_LANE_BLOCK + ("import sys\nfrom novosky.onboard import main\n"
                                "sys.exit(main(['--non-interactive', '--mode', 'mt5-paper', '--mt5-login', '5001234', '--mt5-server', 'Broker-Demo', '--ignore-failed-checks']))")
    r = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=environ(home, NOVOSKY_MT5_PASSWORD=PASSWORD),
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    assert re.search(r"MT5: (untested|failed|ok)", r.stdout) and "store: ok" in r.stdout and "blocked" not in r.stdout + r.stderr
    assert read_dotenv(home / ".env") == {"NOVOSKY_MT5_PASSWORD": PASSWORD}
