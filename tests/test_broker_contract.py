"""The Broker port's contract, one test suite for every adapter: the PaperBroker, and Mt5Broker over FakeMT5.

A new broker adapter passes when it is added to `HARNESSES` (one class saying how bars advance for it). Each scenario
runs on the same bundled EURUSD bars: from bar 100 a 10/20-pip long reaches its target and a short its stop."""
import numpy as np
import pytest
from novosky.config import load_all
from novosky.data import sample
from novosky.engine import Order
from novosky.ports import Broker, Fill, Close, Partial, Reject, ClosedTrade, Quote
from novosky.driver import HistoricalFeed
from novosky.brokers import PaperBroker
from novosky.fake_mt5 import FakeMT5
from novosky.mt5 import Mt5Broker

START = 100


class PaperHarness:
    "PaperBroker: orders sent after bar START-1's close fill at bar START's open."
    name = "paper"
    def __init__(self, S, bars):
        self.feed = HistoricalFeed(bars, S.symbol_spec, START - 1)
        self.broker = PaperBroker(S.symbol_spec, S.config.execution, 10_000.0)
        self.broker.poll(self.feed.poll()[0])
    def send(self, orders):
        return self.broker.submit(orders) + self.next_bar()      # nothing happens until the next bar opens
    def next_bar(self):
        self.q = self.feed.poll()[0]; return self.broker.poll(self.q)


class Mt5Harness:
    "Mt5Broker over FakeMT5: orders fill at once, in the forming bar START; a bar closing is `advance`."
    name = "mt5"
    def __init__(self, S, bars):
        self.fake = FakeMT5(bars, S.symbol_spec, "EURUSD", start=START, balance=10_000.0)
        self.broker = Mt5Broker(self.fake, "EURUSD", S.symbol_spec, magic=77, sleep=lambda s: None).connect()
        self.q = None
    def send(self, orders): return self.broker.submit(orders)
    def next_bar(self):
        self.fake.advance(); return self.broker.poll(self.q)


HARNESSES = [PaperHarness, Mt5Harness]


@pytest.fixture(scope="module")
def env(): return load_all(), sample()

@pytest.fixture(params=HARNESSES, ids=lambda h: h.name)
def h(request, env): return request.param(*env)

def opn(pid, d=1, lots=0.1, sl=0.0010, tp=0.0020):
    return Order("open", pid, d, lots, sl_dist=sl, tp_dist=tp, reason="test", client_id=f"nsk-{pid}")

def until_flat(h, n=200):
    ev = []
    for _ in range(n):
        if not h.broker.positions(): break
        ev += h.next_bar()
    return ev


def test_implements_the_port(h):
    assert isinstance(h.broker, Broker)
    bal, eq = h.broker.account()
    assert (bal, eq) == (10_000.0, 10_000.0) and h.broker.positions() == []


def test_fill_then_target_and_stop(h):
    long_, short = opn(1, 1), opn(2, -1)
    ev = h.send([long_, short])
    fills = [e for e in ev if isinstance(e, Fill)]
    assert [f.order.position_id for f in fills] == [1, 2]
    for f in fills:                                              # stop and target where the order put them, from the fill
        d = f.order.direction
        assert f.sl == pytest.approx(f.price - d * 0.0010, abs=1e-5) and f.tp == pytest.approx(f.price + d * 0.0020, abs=1e-5)
    pos = {p["position_id"]: p for p in h.broker.positions()}
    assert set(pos) == {1, 2} and pos[1]["direction"] == 1 and pos[2]["direction"] == -1 and pos[1]["lots"] == 0.1
    assert {"entry_price", "sl", "tp"} <= set(pos[1])
    closes = [e for e in ev if isinstance(e, Close)] + until_flat(h)
    assert [(c.position_id, c.reason) for c in closes] == [(2, "stop"), (1, "target")]
    for c in closes:                                             # every close carries the whole position as a trade
        assert isinstance(c.trade, ClosedTrade) and c.trade.id == c.position_id and c.trade.pnl == pytest.approx(c.pnl, abs=0.01)
        assert c.trade.lots == 0.1 and c.trade.exit_time >= c.trade.entry_time
    assert closes[0].pnl < 0 < closes[1].pnl
    assert closes[1].trade.r == pytest.approx(closes[1].pnl / 10.0, rel=0.05)      # 1 R = 10 pips on 0.1 lot = 10 USD
    bal, eq = h.broker.account()
    assert bal == pytest.approx(10_000.0 + sum(c.pnl for c in closes), abs=0.02) and eq == pytest.approx(bal)
    assert h.next_bar() == [] and h.broker.positions() == []      # a close is reported once


def test_exit_order_and_close_all(h):
    h.send([opn(1, 1, sl=0.0100, tp=0.0200), opn(2, -1, sl=0.0100, tp=0.0200), opn(3, 1, sl=0.0100, tp=0.0200)])
    ev = h.send([Order("close", 1, -1, 0.1, reason="position model EXIT", client_id="nsk-1-x")])
    (c,) = [e for e in ev if isinstance(e, Close)]
    assert (c.position_id, c.reason) == (1, "position model EXIT")
    left = {p["position_id"] for p in h.broker.positions()}
    assert left == {2, 3}
    q = getattr(h, "q", None)
    ev = h.broker.close_all(q, "end of data") if q is not None else h.broker.close_all(None, "end of data")
    assert sorted(e.position_id for e in ev if isinstance(e, Close)) == [2, 3] and h.broker.positions() == []


def test_rejects_say_why(h):
    ev = h.send([opn(5, lots=0.001)])                            # below the minimum lot
    ev += h.send([opn(6, lots=80.0)])                            # 80 lots at 1:500 need ~17,000 USD of margin
    rej = [e for e in ev if isinstance(e, Reject)]
    assert [r.order.position_id for r in rej] == [5, 6] and not [e for e in ev if isinstance(e, Fill)]
    assert all(isinstance(r.reason, str) and r.reason for r in rej)
    assert "volume" in rej[0].reason and "money" in rej[1].reason
    assert h.broker.positions() == [] and h.broker.account() == (10_000.0, 10_000.0)


def test_equity_marks_open_positions(h):
    h.send([opn(1, 1, sl=0.0100, tp=0.0200)])
    seen = set()
    for _ in range(5):
        h.next_bar(); bal, eq = h.broker.account(); seen.add(round(eq - bal, 2))
    assert len(seen) > 1                                         # equity moves with the price while the position is open
