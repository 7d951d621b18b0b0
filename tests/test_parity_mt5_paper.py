"""Parity through the one driver: the MT5 bot over FakeMT5 and the replay bot over the PaperBroker, on the same bars
with the same models and config (no slippage, no swap: the fake terminal has neither), make the same trades."""
import dataclasses
import numpy as np, pandas as pd
from novosky.config import load_all
from novosky.data import sample
from novosky.chain import load_chain
from novosky.bot import Bot, Mt5Bot
from novosky.fake_mt5 import FakeMT5
from novosky.mt5 import Mt5Broker
from novosky.store import MemoryStore

START, N = 2100, 1500


def test_mt5_over_the_fake_trades_like_the_paper_replay():
    S = load_all()
    ex = dataclasses.replace(S.config.execution, slippage_pips=0.0, swap=False)
    S = dataclasses.replace(S, config=dataclasses.replace(S.config, execution=ex))
    chain = load_chain(S.path(S.config.paths.models_dir), S.ml.features, S.config, sources=("onnx",))
    bars = sample()
    paper = Bot(S, chain, bars.iloc[:START + N], start_i=START - 1).run()["trades"]       # decides at bar START-1's close first
    fake = FakeMT5(bars, S.symbol_spec, "EURUSD", start=START, balance=S.config.backtest.initial_equity)
    broker = Mt5Broker(fake, "EURUSD", S.symbol_spec, magic=S.config.mt5.magic, sleep=lambda s: None).connect()
    store = MemoryStore()
    bot = Mt5Bot(S, chain, broker, store=store)
    for _ in range(N):
        assert bot.cycle(); fake.advance()
    live = pd.DataFrame(store.rows("trades")).sort_values("id").reset_index(drop=True)
    paper = paper[paper.reason != "end of data"].reset_index(drop=True)                    # the replay closes what is left at its end
    live = live[live.id.isin(paper.id)].reset_index(drop=True)
    assert len(paper) >= 10 and len(live) == len(paper)
    assert (live.id.to_numpy() == paper.id.to_numpy()).all() and (live.direction.to_numpy() == paper.direction.to_numpy()).all()
    assert (live.lots.to_numpy() == paper.lots.to_numpy()).all() and (live.reason.to_numpy() == paper.reason.to_numpy()).all()
    np.testing.assert_array_equal(live.entry_time.to_numpy(), paper.entry_time.astype("int64").to_numpy())
    np.testing.assert_allclose(live.entry_price, paper.entry_price, atol=1e-9)
    np.testing.assert_allclose(live.exit_price, paper.exit_price, atol=1e-5)        # the terminal rounds stop and target to 5 digits
    hour = 3_600_000_000_000                                                        # the fake stamps a stop/target deal at the bar's end
    np.testing.assert_array_equal(live.exit_time.to_numpy() // hour, paper.exit_time.astype("int64").to_numpy() // hour)
    np.testing.assert_allclose(live.pnl, paper.pnl, atol=0.5)                       # cents and 5-digit levels


def test_paper_trading_on_live_mt5_quotes_sends_nothing_and_trades_like_the_replay(tmp_path):
    "mode mt5-paper: the MT5 feed with the PaperBroker. Nothing reaches the terminal; the trades are the replay's; a restart\n"\
    "from the state file carries the paper account on."
    S = load_all()
    chain = load_chain(S.path(S.config.paths.models_dir), S.ml.features, S.config, sources=("onnx",))
    bars = sample()
    paper = Bot(S, chain, bars.iloc[:START + N], start_i=START - 1).run()["trades"]
    paper = paper[paper.reason != "end of data"].reset_index(drop=True)
    fake = FakeMT5(bars, S.symbol_spec, "EURUSD", start=START, balance=S.config.backtest.initial_equity)
    conn = Mt5Broker(fake, "EURUSD", S.symbol_spec, magic=S.config.mt5.magic, sleep=lambda s: None).connect()
    state = tmp_path / "state.json"
    bot = Mt5Bot(S, chain, conn, state, paper=True)
    for k in range(N):
        if k == N // 2: bot = Mt5Bot(S, chain, conn, state, paper=True)           # restart halfway: state and account carry on
        assert bot.cycle(); fake.advance()
    assert fake.calls["order_send"] == 0 and fake.positions_get() == ()           # the terminal only served quotes
    live = bot.broker.trades_frame()
    live = live[live.id.isin(paper.id)].reset_index(drop=True)
    assert len(paper) >= 10 and len(live) == len(paper)
    cols = ["id", "direction", "lots", "entry_time", "entry_price", "exit_time", "exit_price", "reason"]
    pd.testing.assert_frame_equal(live[cols], paper[cols])
