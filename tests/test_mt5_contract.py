"""Contract tests for `Mt5Broker` against `FakeMT5` (no terminal, no network), and the fake against the real package.

The fake must look like the `MetaTrader5` package where the adapter touches it: the constants are compared with the
package's pure-Python `__init__.py` and the result types' field names with the ones compiled into its `_core` module,
both read from the `win_amd64` wheel (downloaded with pip when possible; skipped otherwise)."""
import ast, re, struct, subprocess, sys, tempfile, zipfile
from pathlib import Path

import pandas as pd
import pytest

from novosky.config import load_all
from novosky.data import sample
from novosky.engine import Order
from novosky.ports import Fill, Close, Partial, Reject
from novosky import mt5 as M
from novosky.fake_mt5 import FakeMT5
from novosky.mt5 import Mt5Broker, Mt5Error, MARKET_CLOSED_REASON

SYMBOL, MAGIC, LOGIN, PASSWORD, SERVER = "EURUSD", 2604, 5001234, "pw-for-tests", "Novosky-Demo"
START = 100          # the forming bar: on the sample, a 10/20-pip long from here reaches its target, a short its stop


@pytest.fixture(scope="module")
def spec(): return load_all().symbol_spec

@pytest.fixture(scope="module")
def bars(): return sample()

@pytest.fixture
def fake(bars, spec): return FakeMT5(bars, spec, SYMBOL, start=START, password=PASSWORD, server=SERVER)

class Waits(list):
    "An injectable sleep that records instead of sleeping."
    def __call__(self, s): self.append(s)

def as_tuple(e):
    "A typed broker event as a short tuple (kind, ...), the notation of the assertions below."
    if isinstance(e, Fill): return ("fill", e.order, e.price, e.sl, e.tp)
    if isinstance(e, Close): return ("close", e.position_id, e.pnl, e.reason)
    if isinstance(e, Partial): return ("partial", e.position_id, e.pnl, e.lots)
    if isinstance(e, Reject): return ("reject", e.order, e.reason)
    raise TypeError(f"not a typed broker event: {e!r}")

class TupleView(Mt5Broker):
    "Mt5Broker whose events read as tuples here (typed events are checked by tests/test_broker_contract.py)."
    def submit(self, orders): return [as_tuple(e) for e in super().submit(orders)]
    def sync(self, only=None): return [as_tuple(e) for e in super().sync(only)]
    def close_partial(self, *a, **kw): return [as_tuple(e) for e in super().close_partial(*a, **kw)]

def make_broker(fake, spec, **kw):
    kw = dict(login=LOGIN, password=PASSWORD, server=SERVER, sleep=Waits()) | kw
    return TupleView(fake, SYMBOL, spec, MAGIC, **kw)

@pytest.fixture
def broker(fake, spec): return make_broker(fake, spec).connect()

def opn(pid, d=1, lots=0.1, sl=0.0010, tp=0.0020):
    return Order("open", pid, d, lots, sl_dist=sl, tp_dist=tp, reason="test", client_id=f"nsk-{pid}")

def sends(fake, fn):
    "(what fn returned, how many order_send calls it made)"
    n0 = fake.calls["order_send"]; out = fn(); return out, fake.calls["order_send"] - n0

def ours(fake, comment): return [p for p in fake.positions_get(symbol=SYMBOL) if p.comment == comment]


# -- connecting ---------------------------------------------------------------------------------------------------------
def test_connect_through_transient_failure(fake, spec):
    b = make_broker(fake, spec)
    fake.inject("connection_lost", times=2)
    assert b.connect() is b
    assert fake.calls["initialize"] == 3 and b.sleep == [1.0, 2.0]            # exponential backoff, never really slept
    assert fake.account_info().login == LOGIN and fake.symbol_info(SYMBOL).visible
    assert PASSWORD not in repr(b) + " ".join(b.notes)

def test_connect_gives_up_after_bounded_attempts(fake, spec):
    b = make_broker(fake, spec, connect_attempts=4, backoff_s=2.0, backoff_max_s=5.0)
    fake.inject("connection_lost", times=100)
    with pytest.raises(Mt5Error, match="after 4 attempts"): b.connect()
    assert fake.calls["initialize"] == 4 and b.sleep == [2.0, 4.0, 5.0]

def test_wrong_password_is_not_retried(fake, spec):
    b = make_broker(fake, spec, password="wrong")
    with pytest.raises(Mt5Error, match="authorization failed") as e: b.connect()
    assert fake.calls["initialize"] == 1 and "wrong" not in str(e.value)


# -- bars ---------------------------------------------------------------------------------------------------------------
def test_closed_bars_are_the_standard_frame(broker, bars):
    df = broker.closed_bars(80)
    assert list(df.columns) == ["open", "high", "low", "close", "volume", "spread"]
    assert str(df.index.dtype) == "datetime64[ns, UTC]" and df.index.name == "time"
    assert df.index.equals(bars.index[START - 80:START])                       # position 1 = the last closed bar
    pd.testing.assert_frame_equal(df[["open", "high", "low", "close"]], bars.iloc[START - 80:START][["open", "high", "low", "close"]])
    assert (df.dtypes == "float64").all() and (df.spread == 2.0).all()        # 0.2 pips = 2 points
    assert len(broker.closed_bars(10_000)) == START                            # as the terminal: what history there is

def test_closed_bars_convert_server_time_to_utc(bars, spec):
    fake = FakeMT5(bars, spec, start=START, server_utc_offset_hours=2)
    df = make_broker(fake, spec, server_utc_offset_hours=2).closed_bars(10)
    assert df.index.equals(bars.index[START - 10:START])
    assert fake.symbol_info_tick(SYMBOL).time == bars.index[START].value // 10**9 + 7200


# -- orders, stops and targets ------------------------------------------------------------------------------------------
def test_long_and_short_fill_at_ask_and_bid_then_target_and_stop(broker, fake):
    t = fake.symbol_info_tick(SYMBOL)
    ev = broker.submit([opn(1, 1), opn(2, -1)])
    assert [e[0] for e in ev] == ["fill", "fill"]
    (_, o1, px1, sl1, tp1), (_, o2, px2, sl2, tp2) = ev
    assert (o1.position_id, px1, sl1, tp1) == (1, t.ask, round(t.ask - 0.001, 5), round(t.ask + 0.002, 5))
    assert (o2.position_id, px2, sl2, tp2) == (2, t.bid, round(t.bid + 0.001, 5), round(t.bid - 0.002, 5))
    for pid in (1, 2):
        p, = ours(fake, f"nsk-{pid}"); d, = fake.history_deals_get(position=p.ticket)
        assert (p.magic, d.magic, d.comment, d.entry) == (MAGIC, MAGIC, f"nsk-{pid}", M.DEAL_ENTRY_IN)
    assert sorted((p["position_id"], p["direction"]) for p in broker.positions()) == [(1, 1), (2, -1)]
    assert broker.sync() == []                                                  # nothing closed yet
    closes = []
    while broker.positions(): fake.advance(); closes += broker.sync()
    # 0.1 lot EURUSD: 1 USD a pip; commission 7 USD/lot round turn -> 0.70
    assert closes == [("close", 2, -10.7, "stop"), ("close", 1, 19.3, "target")]
    assert broker.sync() == [] and broker.account() == (10_008.6, 10_008.6)

def test_sl_first_when_both_inside_one_bar(spec):
    idx = pd.date_range("2017-03-07 10:00", periods=4, freq="h", tz="UTC", name="time")
    rows = [(1.06, 1.06, 1.06, 1.06), (1.0600, 1.0601, 1.0599, 1.0600), (1.0600, 1.0630, 1.0580, 1.0600), (1.06, 1.06, 1.06, 1.06)]
    fake = FakeMT5(pd.DataFrame(rows, columns=["open", "high", "low", "close"], index=idx).assign(volume=1.0, spread=0.0), spec, start=1)
    b = make_broker(fake, spec).connect()
    [(_, _, px, sl, tp)] = b.submit([opn(1, 1, lots=1.0)])
    fake.advance(); assert b.sync() == []
    fake.advance()
    assert b.sync() == [("close", 1, -107.0, "stop")]                           # 10 pips on 1 lot: -100 USD, -7 commission

def test_add_uses_the_groups_levels(broker, fake):
    [(_, _, px, sl, tp)] = broker.submit([opn(1, 1)])
    add = Order("add", 2, 1, 0.05, sl_price=sl, tp_price=tp, parent=1, client_id="nsk-2")
    [(kind, _, px2, sl2, tp2)] = broker.submit([add])
    assert kind == "fill" and (sl2, tp2) == (sl, tp) and ours(fake, "nsk-2")[0].volume == 0.05


# -- faults, kind by kind -----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("kind,code", [("requote", 10004), ("price_changed", 10020), ("off_quotes", 10021)])
def test_price_faults_retry_with_a_fresh_tick_then_give_up(broker, fake, kind, code):
    fake.inject(kind, times=2)
    ev, n = sends(fake, lambda: broker.submit([opn(1)]))
    assert ev[0][0] == "fill" and n == 3 and len(broker.sleep) == 2
    fake.inject(kind, times=10)
    ev, n = sends(fake, lambda: broker.submit([opn(2)]))
    assert n == broker.retries + 1 == 4                                        # bounded
    assert ev[0][0] == "reject" and ev[0][2].endswith("gave up after 4 attempts") and f"retcode {code}" in ev[0][2]
    assert ours(fake, "nsk-2") == []

@pytest.mark.parametrize("kind,start", [("no_money", "no money"), ("invalid_volume", "invalid volume"),
                                        ("invalid_stops", "invalid stops")])
def test_refusals_are_rejects_without_a_send(broker, fake, kind, start):
    fake.inject(kind)
    (ev,), n = sends(fake, lambda: broker.submit([opn(1)]))
    assert ev[0] == "reject" and ev[1].position_id == 1 and ev[2].startswith(start) and n == 0
    (ev,), n = sends(fake, lambda: broker.submit([opn(1)]))                  # the next bar: fine again
    assert ev[0] == "fill" and n == 1

def test_the_servers_own_refusals(broker, fake):
    ev = broker.submit([opn(1, lots=50.0), opn(2, lots=0.001), opn(3, sl=-0.0010)])
    assert [(e[0], e[2].split(":")[0]) for e in ev] == [("reject", "no money"), ("reject", "invalid volume"),
                                                        ("reject", "invalid stops")]
    assert fake.calls["order_send"] == 0

def test_market_closed_is_a_reject_not_an_exception(broker, fake):
    fake.inject("market_closed")
    (ev,), n = sends(fake, lambda: broker.submit([opn(1)]))
    assert ev == ("reject", opn(1), MARKET_CLOSED_REASON) and n == 0
    assert broker.submit([opn(1)])[0][0] == "fill"                             # the next bar: open again

def test_connection_lost_reconnects_with_backoff_then_sends_once(broker, fake):
    fake.inject("connection_lost", times=1)
    ev, n = sends(fake, lambda: broker.submit([opn(1)]))
    assert ev[0][0] == "fill" and n == 1 and len(ours(fake, "nsk-1")) == 1
    assert broker.sleep == [1.0] and any("reconnecting" in s for s in broker.notes)

class NoTradeServer(FakeMT5):
    "A terminal whose next `drops` order_send calls answer retcode 10031 (no connection with the trade server)."
    drops = 1
    def order_send(self, request):
        if self.drops > 0 and self.connected:
            self.drops -= 1; self.calls["order_send"] += 1
            return M.mt5_record(M.OrderSendResult, retcode=M.TRADE_RETCODE_CONNECTION, comment="No connection")
        return super().order_send(request)

def test_retcode_connection_reconnects_then_retries(bars, spec):
    fake = NoTradeServer(bars, spec, start=START, password=PASSWORD, server=SERVER)
    b = make_broker(fake, spec).connect()
    ev, n = sends(fake, lambda: b.submit([opn(1)]))
    assert ev[0][0] == "fill" and n == 2 and fake.calls["initialize"] == 2 and len(ours(fake, "nsk-1")) == 1

def test_timeout_executed_order_is_found_not_resent(broker, fake):
    fake.inject("timeout")
    ev, n = sends(fake, lambda: broker.submit([opn(1)]))
    p, = ours(fake, "nsk-1")
    assert n == 1 and ev == [("fill", opn(1), p.price_open, p.sl, p.tp)]

def test_reconnect_after_connection_lost_for_reads(broker, fake):
    fake.inject("connection_lost", times=2)
    assert len(broker.closed_bars(5)) == 5 and broker.account()[0] == 10_000.0
    assert broker.sleep == [1.0, 2.0]
    fake.inject("connection_lost", times=99)
    with pytest.raises(Mt5Error, match="could not connect"): broker.positions()


# -- idempotency --------------------------------------------------------------------------------------------------------
def test_same_client_id_is_sent_once(broker, fake):
    (e1, n1), (e2, n2) = sends(fake, lambda: broker.submit([opn(1)])), sends(fake, lambda: broker.submit([opn(1)]))
    assert (n1, n2) == (1, 0) and e1[0][0] == "fill" and e2 == [] and len(ours(fake, "nsk-1")) == 1

def test_a_restarted_bot_never_duplicates(broker, fake, spec):
    e1 = broker.submit([opn(1)])
    fresh = make_broker(fake, spec).connect()                                  # nothing in memory
    e2, n = sends(fake, lambda: fresh.submit([opn(1)]))
    assert n == 0 and e2 == e1 and len(ours(fake, "nsk-1")) == 1
    assert fresh.tickets[1] == broker.tickets[1]
    # closed while the bot was down: the fill is still reported, then sync() reports the close
    broker.submit([opn(2, sl=0.0002, tp=0.0002)])
    while ours(fake, "nsk-2"): fake.advance()
    fresh2 = make_broker(fake, spec).connect()
    (ev,), n = sends(fake, lambda: fresh2.submit([opn(2)]))
    assert n == 0 and ev[0] == "fill"
    assert [e[1] for e in fresh2.sync()] == [2]

def test_close_is_idempotent_too(broker, fake):
    broker.submit([opn(1)])
    x = Order("close", 1, -1, 0.1, reason="position model EXIT", client_id="nsk-1-x")
    (ev,), n = sends(fake, lambda: broker.submit([x]))
    assert ev[:2] == ("close", 1) and ev[3] == "position model EXIT" and n == 1
    assert sends(fake, lambda: broker.submit([x])) == ([], 0)
    assert broker.sync() == []


# -- closing ------------------------------------------------------------------------------------------------------------
def test_close_and_partial_close(broker, fake):
    [(_, _, px, sl, tp)] = broker.submit([opn(1, lots=0.3)])
    ticket = broker.tickets[1]
    [(kind, pid, pnl1, lots)] = broker.close_partial(1, 0.1, client_id="nsk-1-p1")
    assert (kind, pid, lots) == ("partial", 1, 0.1) and fake.positions_get(ticket=ticket)[0].volume == 0.2
    assert sends(fake, lambda: broker.close_partial(1, 0.1, client_id="nsk-1-p1")) == ([], 0)   # idempotent with an id
    fake.advance()
    [(kind, pid, pnl, reason)] = broker.submit([Order("close", 1, -1, 0.2, reason="exit", client_id="nsk-1-x")])
    deals = fake.history_deals_get(position=ticket)
    assert (kind, pid, reason) == ("close", 1, "exit") and len(deals) == 3
    assert pnl == pytest.approx(sum(d.profit + d.commission + d.swap for d in deals), abs=1e-9)  # the whole position
    assert broker.account()[0] == pytest.approx(10_000 + pnl, abs=1e-9) and fake.positions_get() == ()
    assert broker.close_partial(1, 0.1)[0][0] == "reject"

def test_partial_close_after_a_restart_is_not_repeated(broker, fake, spec):
    broker.submit([opn(1, lots=0.3)])
    broker.close_partial(1, 0.2, client_id="nsk-1-p1")                        # 0.1 left
    fresh = make_broker(fake, spec).connect()
    (ev,), n = sends(fake, lambda: fresh.close_partial(1, 0.2, client_id="nsk-1-p1"))
    assert n == 0 and ev[0] == "partial" and ours(fake, "nsk-1")[0].volume == 0.1

def test_a_close_racing_the_servers_stop_reports_the_stop(broker, fake):
    [(_, _, px, sl, tp)] = broker.submit([opn(1)])
    ticket = broker.tickets[1]
    pos = broker._position(1)
    broker._position = lambda pid: pos                                         # stale view: the server closes it first
    fake.positions[0]["sl"] = fake.symbol_info_tick(SYMBOL).bid + 0.5; fake.advance()
    [(kind, pid, pnl, reason)] = broker.submit([Order("close", 1, -1, 0.1, reason="exit", client_id="nsk-1-x")])
    assert (kind, pid, reason) == ("close", 1, "stop") and fake.history_deals_get(position=ticket)[-1].reason == M.DEAL_REASON_SL

def test_partial_close_of_everything_is_a_close(broker, fake):
    broker.submit([opn(1)])
    [(kind, pid, _, _)] = broker.close_partial(1, 0.5)
    assert (kind, pid) == ("close", 1) and fake.positions_get() == ()

def test_modify_sltp(broker, fake):
    [(_, _, px, sl, tp)] = broker.submit([opn(1)])
    assert broker.modify_sltp(1, px - 0.0005, px + 0.0040) == (True, "done")
    p, = ours(fake, "nsk-1")
    assert (p.sl, p.tp) == (round(px - 0.0005, 5), round(px + 0.0040, 5))
    ok, why = broker.modify_sltp(1, px + 0.0100, 0.0)
    assert not ok and why.startswith("invalid stops")
    assert broker.modify_sltp(99, 1.0, 2.0)[0] is False

def test_close_of_unknown_position_is_a_reject(broker):
    [(kind, _, why)] = broker.submit([Order("close", 42, -1, 0.1, client_id="nsk-42-x")])
    assert kind == "reject" and "not open" in why


# -- the fake against the real package ----------------------------------------------------------------------------------
def _wheel():
    cache = Path(tempfile.gettempdir()) / "novosky-mt5whl"
    found = sorted(cache.glob("*.whl")) if cache.exists() else []
    if not found:
        try:
            subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "--platform",
                            "win_amd64", "--python-version", "3.11", "MetaTrader5", "-d", str(cache), "--quiet",
                            "--retries", "0", "--timeout", "15"], capture_output=True, timeout=120)
        except (OSError, subprocess.SubprocessError): pass
        found = sorted(cache.glob("*.whl")) if cache.exists() else []
    if not found: pytest.skip("the MetaTrader5 win_amd64 wheel could not be downloaded")
    return zipfile.ZipFile(found[-1])

def _eval(node):
    "Evaluate the integer expressions of MetaTrader5/__init__.py (literals, |, unary minus) without eval()."
    if isinstance(node, ast.Constant) and isinstance(node.value, int): return node.value
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub): return -_eval(node.operand)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitOr): return _eval(node.left) | _eval(node.right)
    raise ValueError(ast.dump(node))

def real_constants(src: str) -> dict:
    out = {}
    for node in ast.parse(src).body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name) \
                and re.fullmatch(r"[A-Z][A-Z0-9_]*", node.targets[0].id):
            try: out[node.targets[0].id] = _eval(node.value)
            except ValueError: pass
    return out

def struct_fields(pyd: bytes) -> dict:
    "Name -> field names of every PyStructSequence described in a win_amd64 extension module (read, never run)."
    pe = struct.unpack_from("<I", pyd, 0x3C)[0]
    nsec, optsz = struct.unpack_from("<H", pyd, pe + 6)[0], struct.unpack_from("<H", pyd, pe + 20)[0]
    base = struct.unpack_from("<Q", pyd, pe + 24 + 24)[0]
    secs = [struct.unpack_from("<IIII", pyd, pe + 24 + optsz + 40 * k + 8) for k in range(nsec)]
    def off(va):
        r = va - base
        return next((raw + r - a for vs, a, rs, raw in secs if a <= r < a + max(vs, rs)), None)
    def cstr(va):
        o = off(va)
        return None if o is None or o >= len(pyd) else pyd[o:pyd.index(b"\0", o)].decode("latin1")
    out = {}
    for i in range(0, len(pyd) - 28, 8):          # PyStructSequence_Desc: name, doc, fields, n_in_sequence
        name, doc, fields, n = struct.unpack_from("<QQQi", pyd, i)
        if not (base < name < base + 2**32 and base < fields < base + 2**32 and 0 < n < 200): continue
        nm, fo = cstr(name), off(fields)
        if not nm or not nm.isidentifier() or fo is None: continue
        names = []
        while fo + 16 <= len(pyd):                # PyStructSequence_Field: name, doc; ends with a NULL name
            a, _ = struct.unpack_from("<QQ", pyd, fo)
            if a == 0: break
            s = cstr(a)
            if not s or not s.isidentifier(): names = None; break
            names.append(s); fo += 16
        if names and len(names) == n: out[nm] = names
    return out

@pytest.fixture(scope="module")
def wheel(): return _wheel()

def test_constants_match_the_real_package(wheel):
    real = real_constants(wheel.read("MetaTrader5/__init__.py").decode())
    assert len(real) > 200 and real["TRADE_RETCODE_DONE"] == 10009
    ours_ = M.MT5_CONSTANTS
    missing = sorted(set(ours_) - set(real))
    assert not missing, f"not in the real package: {missing}"
    assert {k: v for k, v in ours_.items() if real[k] != v} == {}
    assert all(getattr(FakeMT5, k) == v for k, v in ours_.items())
    # MQL5-only flags: the package does not export them (if it ever does, the values must agree)
    for k in ("SYMBOL_FILLING_FOK", "SYMBOL_FILLING_IOC"):
        assert real.get(k, getattr(M, k)) == getattr(M, k) and not hasattr(FakeMT5, k)

def test_record_fields_match_the_real_package(wheel):
    pyd = wheel.read(next(n for n in wheel.namelist() if re.match(r"MetaTrader5/_core.*\.pyd$", n)))
    real = struct_fields(pyd)
    for T in (M.TradePosition, M.TradeOrder, M.TradeDeal, M.TradeRequest, M.OrderSendResult, M.OrderCheckResult,
              M.Tick, M.AccountInfo, M.TerminalInfo, M.SymbolInfo):
        assert list(T._fields) == real[T.__name__], T.__name__
    for fn in ("initialize", "login", "shutdown", "last_error", "version", "account_info", "terminal_info", "symbol_info",
               "symbol_select", "symbol_info_tick", "copy_rates_from_pos", "order_check", "order_send", "positions_get",
               "orders_get", "history_deals_get", "positions_total"):
        assert b"\0" + fn.encode() + b"\0" in pyd and callable(getattr(FakeMT5, fn)), fn
