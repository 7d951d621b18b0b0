"""The MT5 loop under faults: every broker fault kind, a store outage and a Telegram outage during one run.
The bot keeps going (or refuses an order with a reason), and the remote store ends complete, without duplicates."""
import numpy as np
import pytest
from novosky.config import load_all
from novosky.data import sample
from novosky.backtest import load_chain
from novosky.bot import Mt5Bot
from novosky.fake_mt5 import FakeMT5
from novosky.mt5 import Mt5Broker
from novosky.store import OutboxStore, MemoryStore
from novosky.telegram import TelegramNotifier

FAULTS = ["requote", "price_changed", "off_quotes", "no_money", "invalid_volume", "invalid_stops", "market_closed",
          "connection_lost", "timeout"]


class FlakyRemote(MemoryStore):
    "A remote store that is down while `down` is set."
    def __init__(self): super().__init__(); self.down = False; self.calls = 0
    def upsert(self, table, rows):
        self.calls += 1
        if self.down: raise ConnectionError("remote store unreachable (injected)")
        super().upsert(table, rows)


def test_mt5_loop_survives_every_fault(tmp_path):
    S = load_all()
    chain = load_chain(S.path(S.config.paths.models_dir), S.ml.features, S.config, sources=("onnx",))
    fake = FakeMT5(sample(), S.symbol_spec, "EURUSD", start=2100)
    broker = Mt5Broker(fake, "EURUSD", S.symbol_spec, magic=S.config.mt5.magic, sleep=lambda s: None).connect()
    remote = FlakyRemote()
    store = OutboxStore(tmp_path / "local.sqlite", remote, sleep=lambda s: None)
    tg = TelegramNotifier("123:fake", [42], base_url="http://127.0.0.1:9/bot", timeout=0.2, max_queue=50)   # nothing listens
    bot = Mt5Bot(S, chain, broker, tmp_path / "state.json", tmp_path / "bot.log", store, tg)
    rng = np.random.default_rng(11)
    fault_at = {int(k): f for k, f in zip(rng.choice(np.arange(50, 1400), len(FAULTS) * 3, replace=False), FAULTS * 3)}
    for k in range(1500):
        if k in fault_at: fake.inject(fault_at[k], times=2)
        remote.down = 300 <= k < 700                                  # a store outage of 400 bars
        assert bot.cycle()                                            # every bar processed, no exception
        fake.advance()
    assert remote.calls > 0 and store.pending() == 0 or store.flush() == 0
    for table in ("orders", "trades", "equity", "events"):
        local, rem = store.rows(table), remote.rows(table)
        assert len(rem) == len(local), table                          # nothing lost ...
        keys = [tuple(r[c] for c in ("client_id",) if c in r) or r.get("id") or r.get("time") for r in rem]
        assert len(keys) == len(set(map(str, keys))), table           # ... nothing duplicated
    assert len(remote.rows("equity")) == 1500
    trades = remote.rows("trades")
    assert len(trades) > 0 and len(trades) == len({r["id"] for r in trades})     # the MT5-mode store holds every closed trade, once
    assert all(r["exit_time"] >= r["entry_time"] and r["lots"] > 0 for r in trades)
    status = {r["status"] for r in store.rows("orders")}
    assert {"filled", "rejected"} <= status                           # faults refused some orders with a reason, others went through
    assert any(n.startswith("reconnecting") for n in broker.notes)    # the lost connection was re-established
    assert sorted(p.id for p in bot.engine.state.positions) == sorted(p["position_id"] for p in broker.positions())
    tg.close()
