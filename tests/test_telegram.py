"""End-to-end tests of novosky.telegram against a local fake Telegram Bot API server (127.0.0.1, no real network).

The fake serves getMe (as @novosky_test_bot), getUpdates (scripted updates, long-poll), sendMessage (records replies), deleteWebhook and
answers any other method with ok; it can be switched to return 500s, 429s, 401s or drop connections (an outage)."""
import importlib.util, json, logging, threading, time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs
import pytest

from novosky.telegram import CommandRouter, TelegramBot, TelegramNotifier

needs_ptb = pytest.mark.skipif(importlib.util.find_spec("telegram") is None,
                               reason='needs python-telegram-bot: pip install "python-telegram-bot>=22,<23"')

TOKEN = "424242:FAKE-test-token"          # short on purpose: not shaped like a real token
ALLOWED, FOREIGN = 111, 999


class FakeBotApi:
    "A minimal Telegram Bot API on 127.0.0.1 in a thread. `mode`: ok | 500 | 429 | 401 | 403 | close | hang."
    def __init__(self, token=TOKEN):
        self.token, self.mode = token, "ok"
        self.updates, self.sent, self.calls = [], [], []
        self.cv = threading.Condition()
        self._next_update = 1
        api = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            def log_message(self, *a): pass
            def do_GET(self): self.do_POST()
            def do_POST(self):
                n = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(n) if n else b""
                parts = self.path.split("/")                  # ['', 'bot<TOKEN>', '<method>']
                method = parts[-1] if len(parts) >= 3 else ""
                status, body = api.route(parts[1] if len(parts) > 1 else "", method, api.parse(raw, self.headers))
                if status is None: self.close_connection = True; return         # drop the connection, no answer
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json"); self.send_header("Content-Length", str(len(data)))
                self.end_headers(); self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.base_url = f"http://127.0.0.1:{self.port}/bot"
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs=dict(poll_interval=0.05), daemon=True)
        self.thread.start()

    @staticmethod
    def parse(raw, headers):
        if not raw: return {}
        if "json" in (headers.get("Content-Type") or ""): return json.loads(raw)
        out = {}
        for k, v in parse_qs(raw.decode(), keep_blank_values=True).items():
            try: out[k] = json.loads(v[0]) if k != "text" else v[0]
            except ValueError: out[k] = v[0]
        return out

    def route(self, token_part, method, p):
        with self.cv: self.calls.append(method)
        mode = self.mode
        if mode == "close": return None, None
        if mode == "hang": time.sleep(2.0); return None, None
        if mode == "500": return 500, {"ok": False, "error_code": 500, "description": "Internal Server Error"}
        if mode == "429": return 429, {"ok": False, "error_code": 429, "description": "Too Many Requests: retry after 1",
                                       "parameters": {"retry_after": 0.2}}
        if mode == "401" or token_part != "bot" + self.token:
            return 401, {"ok": False, "error_code": 401, "description": "Unauthorized"}
        if mode == "403" and method == "sendMessage":
            return 403, {"ok": False, "error_code": 403, "description": "Forbidden: bot was blocked by the user"}
        if method == "getMe":
            return 200, {"ok": True, "result": {"id": 424242, "is_bot": True, "first_name": "NOVOSKY test",
                                                "username": "novosky_test_bot", "can_join_groups": False,
                                                "can_read_all_group_messages": False, "supports_inline_queries": False}}
        if method == "deleteWebhook":
            if p.get("drop_pending_updates") in (True, "true", "True"):
                with self.cv: self.updates.clear()
            return 200, {"ok": True, "result": True}
        if method == "getUpdates":
            offset, wait = int(p.get("offset") or 0), min(float(p.get("timeout") or 0), 0.3)
            with self.cv:
                self.updates = [u for u in self.updates if u["update_id"] >= offset]
                if not self.updates and wait > 0: self.cv.wait(wait)
                out = [u for u in self.updates if u["update_id"] >= offset]
            return 200, {"ok": True, "result": out}
        if method == "sendMessage":
            chat_id, text = int(p["chat_id"]), str(p["text"])
            with self.cv:
                self.sent.append((chat_id, text)); self.cv.notify_all()
                mid = len(self.sent)
            return 200, {"ok": True, "result": {"message_id": 1000 + mid, "date": int(time.time()), "text": text,
                                                "chat": {"id": chat_id, "type": "private"}}}
        return 200, {"ok": True, "result": True}

    def push(self, chat_id, text, kind="message", user_id=None, chat_type=None, sender_chat=None):
        """Queue an incoming message (as Telegram would deliver it) for getUpdates. A private chat by default (the sender is
        the chat); a negative `chat_id` is a supergroup. `sender_chat`: the message was sent on behalf of that chat."""
        chat_type = chat_type or ("private" if chat_id > 0 else "supergroup")
        chat = {"id": chat_id, "type": chat_type, **({"first_name": "op"} if chat_type == "private" else {"title": "desk"})}
        msg = {"message_id": self._next_update, "date": int(time.time()), "text": text, "chat": chat,
               "from": {"id": user_id or chat_id, "is_bot": False, "first_name": "op"}}
        if sender_chat is not None: msg["sender_chat"] = {"id": sender_chat, "type": "supergroup", "title": "desk"}
        if text.startswith("/"): msg["entities"] = [{"type": "bot_command", "offset": 0, "length": len(text.split()[0])}]
        if kind == "edited_message": msg["edit_date"] = int(time.time())
        with self.cv:
            self.updates.append({"update_id": self._next_update, kind: msg}); self._next_update += 1
            self.cv.notify_all()

    def wait_sent(self, n, timeout=10.0):
        "Wait until at least `n` messages were sent; returns the list."
        end = time.monotonic() + timeout
        with self.cv:
            while len(self.sent) < n and time.monotonic() < end: self.cv.wait(0.05)
            return list(self.sent)

    def close(self):
        self.server.shutdown(); self.server.server_close()


class FakeControl:
    def __init__(self):
        self.calls, self.paused, self.risk = [], False, 1.0
        self.open = [dict(id=7, direction=1, lots=0.1, symbol="EURUSD", entry_price=1.085, sl=1.08, tp=1.095, pnl=12.3)]
    def status(self): return dict(state="paused" if self.paused else "trading", mode="paper", symbol="EURUSD", equity=10_000.0)
    def positions(self): return list(self.open)
    def profit(self, period): self.calls.append(("profit", period)); return dict(trades=2, wins=1, losses=1, pnl=-3.25)
    def pause(self): self.calls.append(("pause",)); self.paused = True
    def resume(self): self.calls.append(("resume",)); self.paused = False
    def close(self, target): self.calls.append(("close", target)); return f"Closing {target}."
    def set_risk(self, pct): self.calls.append(("risk", pct)); self.risk = pct; return f"Risk per trade is now {pct:g}%."
    def config_summary(self): return "mode=paper symbol=EURUSD"
    def logs(self, n): return [f"line {i}" for i in range(n)]


@pytest.fixture
def api():
    a = FakeBotApi()
    yield a
    a.close()


@needs_ptb
def test_bot_answers_the_allowed_chat_only(api, caplog):
    caplog.set_level(logging.DEBUG)
    ctl = FakeControl()
    router = CommandRouter(ctl, [ALLOWED], risk_bounds=(0.01, 2.0))
    api.push(ALLOWED, "/close all")                        # stale: sent while the bot was down, must be dropped
    bot = TelegramBot(TOKEN, router, base_url=api.base_url, poll_timeout=1)
    t0 = time.monotonic()
    try:
        assert bot.start(wait=10), "bot did not connect to the fake server"
        assert "getMe" in api.calls and "deleteWebhook" in api.calls
        api.push(FOREIGN, "/status"); api.push(FOREIGN, "/close all"); api.push(FOREIGN, "/risk 2")
        api.push(ALLOWED, "/close all", kind="edited_message")          # an edit is not a new command
        script = ["/status", "/positions", "/profit week", "/risk 5", "/risk 0.5", "/close 7", "/pause",
                  "/status@novosky_test_bot", "/frobnicate", "hello", "/logs 2", "/help"]
        for text in script: api.push(ALLOWED, text)
        sent = api.wait_sent(len(script))
        time.sleep(0.3)                                     # anything extra would show up now
        sent = list(api.sent)
    finally:
        bot.stop()
    assert not bot.running
    assert time.monotonic() - t0 < 20
    assert [c for c, _ in sent] == [ALLOWED] * len(script), sent
    replies = dict(zip(script, (t for _, t in sent)))
    assert replies["/status"].startswith("State: trading\nMode: paper\nSymbol: EURUSD\nEquity: 10,000.00")
    assert replies["/positions"] == "1 open position:\n#7 BUY 0.1 EURUSD at 1.085, SL 1.08, TP 1.095, P/L +12.30"
    assert replies["/profit week"] == "Profit this week: -3.25 from 2 closed trades (1 won, 1 lost)."
    assert replies["/risk 5"] == "Risk 5 is out of bounds: it must be between 0.01% and 2% of equity. Nothing changed."
    assert replies["/risk 0.5"] == "Risk per trade is now 0.5%."
    assert replies["/close 7"] == "Closing 7."
    assert replies["/pause"].startswith("Paused: no new trades")
    assert replies["/status@novosky_test_bot"].startswith("State: paused")
    assert replies["/frobnicate"].startswith("Unknown command /frobnicate.")
    assert replies["hello"] == replies["/help"] == router.help_text()
    assert replies["/logs 2"] == "Last 2 log lines:\nline 0\nline 1"
    # the foreign chat, the stale update and the edit executed nothing
    assert ctl.calls == [("profit", "week"), ("risk", 0.5), ("close", 7), ("pause",)]
    assert bot.handled == len(script) + 3
    assert "chat 999, which is not on the allow-list" in caplog.text
    assert TOKEN not in caplog.text


@needs_ptb
def test_bot_keeps_trying_while_telegram_is_down(api, caplog):
    caplog.set_level(logging.DEBUG)
    api.mode = "500"
    bot = TelegramBot(TOKEN, CommandRouter(FakeControl(), [ALLOWED]), base_url=api.base_url, poll_timeout=1, retry_max=1)
    try:
        assert bot.start(wait=1.5) is False                  # no exception: it keeps retrying in the background
        assert bot.running
        api.mode = "ok"
        assert bot.ready.wait(10), "bot did not connect once Telegram came back"
        api.push(ALLOWED, "/status")
        assert api.wait_sent(1)[0][0] == ALLOWED
    finally:
        bot.stop()
    assert not bot.running
    assert "cannot reach Telegram" in caplog.text and TOKEN not in caplog.text


@needs_ptb
def test_bot_gives_up_on_an_invalid_token(api):
    bot = TelegramBot("1:WRONG", CommandRouter(FakeControl(), [ALLOWED]), base_url=api.base_url, poll_timeout=1)
    try:
        assert bot.start(wait=3) is False
        for _ in range(100):
            if not bot.running: break
            time.sleep(0.05)
        assert not bot.running
    finally:
        bot.stop()


@needs_ptb
def test_bot_stop_while_unreachable_is_prompt():
    import socket
    with socket.socket() as s: s.bind(("127.0.0.1", 0)); port = s.getsockname()[1]
    bot = TelegramBot(TOKEN, CommandRouter(FakeControl(), [ALLOWED]), base_url=f"http://127.0.0.1:{port}/bot")
    assert bot.start(wait=0.5) is False
    t0 = time.monotonic(); bot.stop(); assert time.monotonic() - t0 < 5 and not bot.running


def test_notifier_delivers_to_every_allowed_chat(api):
    n = TelegramNotifier(TOKEN, [ALLOWED, 222], base_url=api.base_url, timeout=2)
    n.trade_opened(dict(id=1, direction=-1, lots=0.2, symbol="EURUSD", entry_price=1.1, sl=1.105, tp=1.09))
    n.breaker("daily loss 3.10% >= 3.0%")
    assert n.flush(5)
    assert api.sent == [(ALLOWED, "Opened #1 SELL 0.2 EURUSD at 1.1, SL 1.105, TP 1.09"), (222, "Opened #1 SELL 0.2 EURUSD at 1.1, SL 1.105, TP 1.09"),
                        (ALLOWED, "Circuit breaker: daily loss 3.10% >= 3.0%"), (222, "Circuit breaker: daily loss 3.10% >= 3.0%")]
    assert n.stats == dict(sent=4, dropped=0, failed=0, queued=0)
    n.close()


@pytest.mark.parametrize("mode", ["500", "close", "429"])
def test_notifier_survives_an_outage_and_catches_up(api, mode, caplog):
    caplog.set_level(logging.DEBUG)
    n = TelegramNotifier(TOKEN, [ALLOWED], base_url=api.base_url, timeout=1, retry_min=0.05, retry_max=0.2)
    api.mode = mode
    t0 = time.monotonic()
    for i in range(5): n.error(f"problem {i}")               # must neither raise nor block
    assert time.monotonic() - t0 < 0.2
    assert n.flush(0.5) is False
    assert n.stats["queued"] == 5 and n.stats["failed"] >= 1 and api.sent == []
    api.mode = "ok"
    assert n.flush(10)
    assert [t for _, t in api.sent] == [f"Error: problem {i}" for i in range(5)]     # nothing lost, in order
    n.close()
    assert TOKEN not in caplog.text


def test_notifier_bounded_queue_and_dead_server(api, caplog):
    caplog.set_level(logging.DEBUG)
    n = TelegramNotifier(TOKEN, [ALLOWED], base_url=api.base_url, timeout=0.5, max_queue=3, retry_min=0.05, retry_max=0.1)
    api.close()                                              # Telegram gone entirely: connection refused
    for i in range(10): n.restart(f"attempt {i}")
    assert n.flush(0.5) is False
    st = n.stats
    assert st["queued"] == 3 and st["dropped"] == 7 and st["sent"] == 0
    t0 = time.monotonic(); n.close(timeout=0.2); assert time.monotonic() - t0 < 3
    n.restart("after close")                                 # a no-op, still no exception
    assert "dropped the oldest message" in caplog.text and TOKEN not in caplog.text
    api.close = lambda: None                                 # the fixture's close is already done


def test_notifier_drops_what_retrying_cannot_fix(api):
    n = TelegramNotifier(TOKEN, [ALLOWED], base_url=api.base_url, timeout=1, retry_min=0.05)
    api.mode = "403"
    n.error("one"); assert n.flush(5)
    assert n.stats["failed"] == 1 and n.stats["queued"] == 0 and api.sent == []
    api.mode = "ok"
    n.error("two"); assert n.flush(5)
    assert api.sent == [(ALLOWED, "Error: two")]
    n.close()


def test_notifier_never_blocks_on_a_hanging_server(api):
    n = TelegramNotifier(TOKEN, [ALLOWED], base_url=api.base_url, timeout=0.5, retry_min=0.05, retry_max=0.1)
    api.mode = "hang"
    t0 = time.monotonic()
    for i in range(20): n.trade_closed(dict(id=i, direction=1, pnl=1.0))
    assert time.monotonic() - t0 < 0.2
    n.close(timeout=0)


# --- who may do what: user allow-list, group chats, other bots' commands, /close all + /confirm ---------------------------
GROUP, OPERATOR, MEMBER = -100500, 4242, 4343


def test_router_user_allow_list():
    "A private chat: the person on either list. A group: the group on allowed_chat_ids and, with a user list, the sender on it."
    ctl, STRANGER, OTHER_GROUP = FakeControl(), 4444, -100600
    r = CommandRouter(ctl, [ALLOWED, GROUP, MEMBER], allowed_user_ids=[ALLOWED, OPERATOR])
    for text in ("/status", "/close 7", "/close all", "/pause", "/risk 0.5"):
        assert r.handle(GROUP, text, MEMBER, "supergroup") is None      # a group member not on the user list
        assert r.handle(GROUP, text, None, "supergroup") is None        # sent on behalf of a chat: nobody
        assert r.handle(OTHER_GROUP, text, OPERATOR, "group") is None   # an allowed user in a group nobody allowed
        assert r.handle(STRANGER, text, STRANGER, "private") is None    # a private chat on neither list
        assert r.handle(STRANGER, text, OPERATOR, "private") is None    # a "private" chat that is not the user's own
    assert ctl.calls == []
    assert r.handle(GROUP, "/close 7", OPERATOR, "supergroup") == "Closing 7."
    assert r.handle(ALLOWED, "/pause").startswith("Paused")              # private chat: the chat id is the sender
    assert r.handle(OPERATOR, "/resume", OPERATOR, "private").startswith("Resumed")   # on the user list only
    assert r.handle(MEMBER, "/pause", MEMBER, "private").startswith("Paused")         # on the chat list only
    assert ctl.calls == [("close", 7), ("pause",), ("resume",), ("pause",)]
    with pytest.raises(ValueError, match="user ids are positive"):
        CommandRouter(ctl, [GROUP], allowed_user_ids=[GROUP])           # a chat id in the user list


def test_router_group_without_user_list_is_read_only(caplog):
    "No allowed_user_ids: an allowed group may read, but no member can pause, resume, close, confirm or set risk."
    ctl = FakeControl()
    with caplog.at_level(logging.WARNING, logger="novosky.telegram"):
        r = CommandRouter(ctl, [ALLOWED, GROUP], bot_username="novosky_test_bot")
    assert "group chats [-100500] are read-only" in caplog.text
    assert r.handle(GROUP, "/status", MEMBER, "supergroup").startswith("State: trading")
    for text in ("/close all", "/close 7", "/pause", "/resume", "/risk 0.5", "/confirm", "/pause@novosky_test_bot"):
        for ctype in ("group", "supergroup", None, "private"):           # a negative id is a group whatever the type says
            reply = r.handle(GROUP, text, OPERATOR, ctype)
            assert "not accepted in a group chat" in reply and "telegram.allowed_user_ids" in reply, (text, ctype, reply)
    assert ctl.calls == [] and not ctl.paused
    assert r.handle(GROUP, "good morning", MEMBER, "group") is None     # chatter in a group gets no help text
    assert r.handle(ALLOWED, "/pause").startswith("Paused")              # the private chat works as before


def test_router_ignores_commands_for_other_bots():
    ctl = FakeControl()
    r = CommandRouter(ctl, [ALLOWED])                                    # own name not known: no @-command is ours
    assert r.handle(ALLOWED, "/pause@otherbot") is None and r.handle(ALLOWED, "/status@novosky_test_bot") is None
    r.bot_username = "@NovoSky_Test_Bot"
    for text in ("/pause@otherbot", "/close@otherbot all", "/close@otherbot 7", "/risk@otherbot 0.5", "/frobnicate@otherbot"):
        assert r.handle(ALLOWED, text) is None, text
    assert ctl.calls == []
    assert r.handle(ALLOWED, "/pause@novosky_test_bot").startswith("Paused")
    assert r.handle(ALLOWED, "/RESUME@NOVOSKY_TEST_BOT").startswith("Resumed")
    assert r.handle(ALLOWED, "/pause").startswith("Paused")
    assert ctl.calls == [("pause",), ("resume",), ("pause",)]


def test_router_close_all_needs_a_confirm_from_the_same_user_in_the_same_chat():
    now = [0.0]
    ctl = FakeControl(); ctl.open = ctl.open * 3
    r = CommandRouter(ctl, [ALLOWED, OPERATOR, GROUP], allowed_user_ids=[ALLOWED, OPERATOR], clock=lambda: now[0])
    ask = r.handle(GROUP, "/close all", OPERATOR, "supergroup")
    assert ask == "This closes all 3 open positions. Send /confirm within 60 s to go ahead; nothing is closed until then."
    assert ctl.calls == []
    assert r.handle(GROUP, "/confirm", ALLOWED, "supergroup").startswith("Nothing to confirm from you here")   # another user
    assert r.handle(OPERATOR, "/confirm").startswith("Nothing to confirm from you here")                      # another chat
    assert r.handle(ALLOWED, "/confirm") == "Nothing to confirm: send /close all first. Nothing was closed."
    assert ctl.calls == []
    now[0] = 59.0
    assert r.handle(GROUP, "/confirm", OPERATOR, "supergroup") == "Closing all."
    assert r.handle(GROUP, "/confirm", OPERATOR, "supergroup").startswith("Nothing to confirm")              # used once
    assert ctl.calls == [("close", "all")]
    r.handle(ALLOWED, "/close all"); now[0] += 61
    assert r.handle(ALLOWED, "/confirm").startswith("Too late: your /close all expired after 60 s. Nothing was closed")
    assert r.handle(ALLOWED, "/close 7") == "Closing 7."                                                     # one: at once
    assert ctl.calls == [("close", "all"), ("close", 7)]
    ctl.open = []
    assert r.handle(ALLOWED, "/close all") == "No open positions: nothing to close."
    assert r.handle(ALLOWED, "/confirm").startswith("Nothing to confirm")


@needs_ptb
def test_bot_groups_users_other_bots_and_confirm(api):
    "End to end: the sender's id and the chat type reach the router, getMe's username tells our commands from others'."
    ctl = FakeControl()
    router = CommandRouter(ctl, [ALLOWED, GROUP], allowed_user_ids=[ALLOWED, OPERATOR])
    bot = TelegramBot(TOKEN, router, base_url=api.base_url, poll_timeout=1)
    script = [  # (chat, text, sender, sender_chat, expected reply or None)
        (ALLOWED, "/pause@otherbot", None, None, None),
        (GROUP, "/pause@otherbot", OPERATOR, None, None),
        (GROUP, "/close all", MEMBER, None, None),
        (GROUP, "/status", MEMBER, None, None),
        (GROUP, "/pause", OPERATOR, GROUP, None),                   # on behalf of the group: no person to check
        (GROUP, "hello all", OPERATOR, None, None),
        (GROUP, "/close all", OPERATOR, None,
         "This closes the 1 open position. Send /confirm within 60 s to go ahead; nothing is closed until then."),
        (GROUP, "/confirm", MEMBER, None, None),
        (ALLOWED, "/confirm", None, None, "Nothing to confirm: send /close all first. Nothing was closed."),
        (GROUP, "/confirm@novosky_test_bot", OPERATOR, None, "Closing all."),
        (ALLOWED, "/status@novosky_test_bot", None, None, "State: trading"),
    ]
    try:
        assert bot.start(wait=10), "bot did not connect to the fake server"
        assert router.bot_username == "novosky_test_bot"                # learnt from getMe
        for chat, text, user, sender_chat, _ in script: api.push(chat, text, user_id=user, sender_chat=sender_chat)
        want = [(chat, reply) for chat, _, _, _, reply in script if reply is not None]
        api.wait_sent(len(want))
        time.sleep(0.3)                                                 # anything extra would show up now
        sent = list(api.sent)
    finally:
        bot.stop()
    assert len(sent) == len(want), sent
    for (chat, text), (want_chat, want_text) in zip(sent, want):
        assert chat == want_chat and text.startswith(want_text), (chat, text)
    assert ctl.calls == [("close", "all")] and not ctl.paused
    assert bot.handled == len(script)
