"""The operator's tools end to end, as a user runs them: `python -m novosky.notify` against a local imitation of the
Telegram Bot API, `python -m novosky.compare_configs` on the committed config and variants of it, and
`python -m novosky.config_sync` between two clones of a repository with a bare remote (and from a registry folder)."""
import json, os, shutil, subprocess, sys, threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
import pytest
from conftest import ROOT

TRACKED = ("config.json", "ml_config.json", "config/brokers.json")
TOKEN = "123456:TEST-TOKEN-not-a-secret"


def run(mod, *args, cwd=None, env=None, unset=(), stdin=None):
    "`python -m mod args…` with `env` added and the variables in `unset` removed; returns CompletedProcess."
    e = {k: v for k, v in os.environ.items() if k not in unset and k != "NOVOSKY_TELEGRAM_TOKEN"}
    e.update(env or {})
    return subprocess.run([sys.executable, "-m", mod, *map(str, args)], cwd=cwd or ROOT, env=e, input=stdin,
                          capture_output=True, text=True, timeout=120)


def project(d: Path, **changes) -> Path:
    "A copy of the project's three config files in `d`, models pointing at the committed set; `changes`: {'section.key': value}."
    for rel in TRACKED:
        (d / rel).parent.mkdir(parents=True, exist_ok=True); shutil.copy(ROOT / rel, d / rel)
    edit(d / "config.json", **{"paths.models_dir": str(ROOT / "models"), **changes})
    return d


def edit(path: Path, **changes):
    d = json.loads(path.read_text())
    for k, v in changes.items():
        *sec, key = k.split(".")
        (d[sec[0]] if sec else d)[key] = v
    path.write_text(json.dumps(d, indent=2) + "\n")


# ---------------------------------------------------------------- notify

class BotApi(ThreadingHTTPServer):
    "sendMessage only: 200 for known chats, Telegram's 400 'chat not found' for the chat ids in `unknown`."
    daemon_threads = True
    def __init__(self):
        super().__init__(("127.0.0.1", 0), BotApiHandler)
        self.sent, self.unknown, self.lock = [], {999}, threading.Lock()
    @property
    def url(self): return f"http://127.0.0.1:{self.server_address[1]}/bot"

class BotApiHandler(BaseHTTPRequestHandler):
    def log_message(self, *a): pass
    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
        if self.path != f"/bot{TOKEN}/sendMessage": code, out = 401, {"ok": False, "error_code": 401, "description": "Unauthorized"}
        elif int(body["chat_id"]) in self.server.unknown:
            code, out = 400, {"ok": False, "error_code": 400, "description": "Bad Request: chat not found"}
        else:
            with self.server.lock: self.server.sent.append((int(body["chat_id"]), body["text"]))
            code, out = 200, {"ok": True, "result": {"message_id": 1, "chat": {"id": body["chat_id"]}, "text": body["text"]}}
        data = json.dumps(out).encode()
        self.send_response(code); self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data))); self.end_headers(); self.wfile.write(data)

@pytest.fixture
def api():
    srv = BotApi(); th = threading.Thread(target=srv.serve_forever, daemon=True); th.start()
    yield srv
    srv.shutdown(); srv.server_close(); th.join(5)


def test_notify_console_when_telegram_is_off():
    r = run("novosky.notify", "VPS", "restarts", "at", "22:00")
    assert r.returncode == 0, r.stderr
    assert r.stdout.rstrip().endswith("info: VPS restarts at 22:00") and "console only" in r.stderr
    r = run("novosky.notify", "--help")
    assert r.returncode == 0 and "allow-listed" in r.stdout and "NOVOSKY_TELEGRAM_TOKEN" in r.stdout
    r = run("novosky.notify", " ")
    assert r.returncode == 1 and "the message is empty" in r.stderr


def test_notify_sends_to_the_allow_listed_chats_only(api, tmp_path):
    cfg = project(tmp_path, **{"telegram.enabled": True, "telegram.allowed_chat_ids": [111, -100222],
                               "telegram.allowed_user_ids": [333]}) / "config.json"
    env = {"NOVOSKY_TELEGRAM_TOKEN": TOKEN}
    r = run("novosky.notify", "--config", cfg, "--api-url", api.url, "new model set live", env=env)
    assert r.returncode == 0, r.stderr
    assert sorted(api.sent) == [(-100222, "new model set live"), (111, "new model set live")]
    assert "sent to 2 chat(s): 111, -100222" in r.stdout

    api.sent.clear()                                      # --chat narrows; a person on allowed_user_ids counts
    r = run("novosky.notify", "--config", cfg, "--api-url", api.url, "--chat", "333", "-", env=env, stdin="from stdin\n")
    assert r.returncode == 0 and api.sent == [(333, "from stdin")], r.stderr

    r = run("novosky.notify", "--config", cfg, "--api-url", api.url, "--chat", "444", "hello", env=env)
    assert r.returncode == 1 and "--chat 444: not on config.json telegram.allowed_chat_ids (111, -100222)" in r.stderr
    assert "Nothing was sent" in r.stderr and api.sent == [(333, "from stdin")]

    r = run("novosky.notify", "--config", cfg, "--api-url", api.url, "--dry-run", "hello", env=env)
    assert r.returncode == 0 and "would send 5 characters to 2 chat(s)" in r.stdout and len(api.sent) == 1

    r = run("novosky.notify", "--config", cfg, "--api-url", api.url, "hello")          # no token anywhere
    assert r.returncode == 1 and "NOVOSKY_TELEGRAM_TOKEN: not set" in r.stderr
    (tmp_path / ".env").write_text(f"NOVOSKY_TELEGRAM_TOKEN={TOKEN}\n")                 # ... in the untracked .env
    r = run("novosky.notify", "--config", cfg, "--api-url", api.url, "--chat", "111", "from .env")
    assert r.returncode == 0 and api.sent[-1] == (111, "from .env"), r.stderr


def test_notify_reports_a_chat_telegram_refuses(api, tmp_path):
    cfg = project(tmp_path, **{"telegram.enabled": True, "telegram.allowed_chat_ids": [111, 999]}) / "config.json"
    r = run("novosky.notify", "--config", cfg, "--api-url", api.url, "--timeout", "5", "hello", env={"NOVOSKY_TELEGRAM_TOKEN": TOKEN})
    assert r.returncode == 1 and api.sent == [(111, "hello")]
    assert "reached 1 of 2 chat(s)" in r.stderr and "chat 999" in r.stderr and "chat not found" in r.stderr
    assert TOKEN not in r.stderr + r.stdout
    r = run("novosky.notify", "--config", cfg, "--api-url", api.url, "hello", env={"NOVOSKY_TELEGRAM_TOKEN": "1:wrong"})
    assert r.returncode == 1 and "Unauthorized" in r.stderr and "1:wrong" not in r.stderr


# ---------------------------------------------------------------- compare_configs

def test_compare_configs_in_words_and_side_by_side(tmp_path):
    a = ROOT / "config.json"
    b = project(tmp_path, **{"risk.risk_pct": 2.0, "filters.sessions": ["london"], "mode": "mt5"}) / "config.json"
    edit(b, **{"paths.models_dir": "models"})
    r = run("novosky.compare_configs", a, b)
    assert r.returncode == 0, r.stderr
    assert "~ risk.risk_pct: 1 → 2" in r.stdout and "risk per trade doubles" in r.stdout
    assert "no longer trades the newyork session(s)" in r.stdout and "trades REAL orders through MetaTrader 5" in r.stdout
    assert "backtest" not in r.stdout
    r = run("novosky.compare_configs", a, a)
    assert r.returncode == 0 and "no differences" in r.stdout

    r = run("novosky.compare_configs", a, b, "--data", "--json", tmp_path / "cmp.json")     # the bundled sample
    assert r.returncode == 0, r.stderr
    assert "out-of-sample" in r.stdout and "the same for both" in r.stdout
    rows = {l.split()[0]: l.split()[1:] for l in r.stdout.splitlines() if l.startswith("  trades") or l.startswith("  Sharpe")}
    assert len(rows["trades"]) == 2 and len(rows["Sharpe"]) == 2
    doc = json.loads((tmp_path / "cmp.json").read_text())
    assert doc["figures"]["a"]["trades"] > 0 and doc["figures"]["a"]["window"] == doc["figures"]["b"]["window"]


def test_compare_configs_refuses_a_bad_file(tmp_path):
    bad = project(tmp_path, **{"risk.risk_pct": 50}) / "config.json"
    r = run("novosky.compare_configs", ROOT / "config.json", bad)
    assert r.returncode == 1 and str(bad) in r.stderr and "risk.risk_pct: 50 is out of range" in r.stderr
    r = run("novosky.compare_configs", ROOT / "config.json", tmp_path / "missing.json")
    assert r.returncode == 1 and "missing.json" in r.stderr and "file not found" in r.stderr
    r = run("novosky.compare_configs", "--help")
    assert r.returncode == 0 and "--data" in r.stdout


# ---------------------------------------------------------------- config_sync

GIT_ENV = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@t",
           "GIT_CONFIG_GLOBAL": "/dev/null", "GIT_CONFIG_NOSYSTEM": "1"}

def git(d, *args):
    r = subprocess.run(["git", *args], cwd=d, env={**os.environ, **GIT_ENV}, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    return r.stdout

@pytest.fixture
def machines(tmp_path):
    "A bare remote, the research clone that pushes config changes, and the trading host that syncs them."
    remote, research, host = tmp_path / "remote.git", tmp_path / "research", tmp_path / "host"
    git(tmp_path, "init", "--quiet", "--bare", "-b", "main", remote)
    research.mkdir(); git(research, "init", "--quiet", "-b", "main")
    for rel in TRACKED:
        (research / rel).parent.mkdir(parents=True, exist_ok=True); shutil.copy(ROOT / rel, research / rel)
    (research / ".gitignore").write_text("models/\n")
    git(research, "add", "."); git(research, "commit", "--quiet", "-m", "configs")
    git(research, "remote", "add", "origin", remote); git(research, "push", "--quiet", "origin", "main")
    git(tmp_path, "clone", "--quiet", remote, host)
    for d in (research, host):                               # each machine has the model set (untracked): its manifest
        (d / "models").mkdir(); shutil.copy(ROOT / "models" / "model_compat.json", d / "models")
    return research, host

def push(research, msg, **changes):
    for k, v in changes.items():
        f, key = k.split(":")
        edit(research / f, **{key: v})
    git(research, "commit", "--quiet", "-am", msg); git(research, "push", "--quiet", "origin", "main")

def sync(host, *args):
    return run("novosky.config_sync", *args, cwd=host, env={**GIT_ENV, "NOVOSKY_HOME": str(host)})


def test_config_sync_through_git(machines):
    research, host = machines
    push(research, "double risk", **{"config.json:risk.risk_pct": 2.0})
    before = (host / "config.json").read_bytes()
    r = sync(host, "--dry-run")
    assert r.returncode == 0, r.stderr
    assert "from origin/main (" in r.stdout and "risk per trade doubles" in r.stdout and "nothing was written" in r.stdout
    assert (host / "config.json").read_bytes() == before
    r = sync(host)
    assert r.returncode == 0 and "written (atomically): config.json" in r.stdout, r.stderr
    assert (host / "config.json").read_bytes() == (research / "config.json").read_bytes()
    assert not list(host.glob(".*.sync"))                                 # no temporary file left behind
    git(host, "pull", "--quiet", "origin", "main")                        # the index was updated: a pull goes through
    assert git(host, "status", "--porcelain", "--untracked-files=no") == ""
    r = sync(host)
    assert r.returncode == 0 and "nothing to do" in r.stdout


def test_config_sync_refuses_features_the_models_were_not_trained_on(machines):
    research, host = machines
    feats = json.loads((research / "ml_config.json").read_text())["features"]
    push(research, "drop a feature", **{"config.json:risk.risk_pct": 2.0})
    d = json.loads((research / "ml_config.json").read_text()); d["features"] = feats[:-1]
    (research / "ml_config.json").write_text(json.dumps(d, indent=1)); git(research, "commit", "--quiet", "-am", "features")
    git(research, "push", "--quiet", "origin", "main")
    before = {rel: (host / rel).read_bytes() for rel in TRACKED}
    r = sync(host)
    assert r.returncode == 1
    assert "feature hash" in r.stderr or "features with hash" in r.stderr
    assert "the bot would refuse to start" in r.stderr and "Nothing was written" in r.stderr
    assert {rel: (host / rel).read_bytes() for rel in TRACKED} == before       # config.json too: all or nothing


def test_config_sync_refuses_an_invalid_config_and_local_edits(machines):
    research, host = machines
    push(research, "too much risk", **{"config.json:risk.risk_pct": 50})
    r = sync(host)
    assert r.returncode == 1 and "origin/main (" in r.stderr and "config.json does not load: risk.risk_pct: 50 is out of range" in r.stderr
    push(research, "fine again", **{"config.json:risk.risk_pct": 0.5})
    edit(host / "config.json", **{"filters.min_confidence": 0.6})          # an uncommitted edit on the host
    r = sync(host)
    assert r.returncode == 1 and "config.json has local changes that are not committed" in r.stderr
    assert json.loads((host / "config.json").read_text())["filters"]["min_confidence"] == 0.6
    r = sync(host, "--force")
    assert r.returncode == 0, r.stderr
    assert json.loads((host / "config.json").read_text())["risk"]["risk_pct"] == 0.5
    r = sync(host, "--remote", "nowhere")
    assert r.returncode == 1 and "git fetch --quiet nowhere main failed" in r.stderr


def test_config_sync_from_a_registry_folder(machines, tmp_path):
    _, host = machines
    reg = tmp_path / "registry"; reg.mkdir()
    shutil.copy(ROOT / "config.json", reg / "config.json"); edit(reg / "config.json", **{"risk.risk_pct": 0.25})
    shutil.copy(ROOT / "models" / "model_compat.json", reg)               # the set the configs travel with
    r = sync(host, "--from", reg)
    assert r.returncode == 0 and "risk per trade falls to 0.25 ×" in r.stdout, r.stdout + r.stderr
    assert json.loads((host / "config.json").read_text())["risk"]["risk_pct"] == 0.25
    man = json.loads((reg / "model_compat.json").read_text()); man["feature_hash"] = "0" * 64
    (reg / "model_compat.json").write_text(json.dumps(man))                # a registry set trained on other features
    edit(reg / "config.json", **{"risk.risk_pct": 0.3})
    r = sync(host, "--from", reg)
    assert r.returncode == 1 and f"the model set in {reg}" in r.stderr
    assert json.loads((host / "config.json").read_text())["risk"]["risk_pct"] == 0.25
    r = sync(host, "--help")
    assert r.returncode == 0 and "--from DIR" in r.stdout and "--dry-run" in r.stdout
