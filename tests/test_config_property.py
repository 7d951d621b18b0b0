"""Live and backtest take the same decision for every config value.

Random valid configs (gates, sizing, breakers, position limits) on the bundled sample's first 1,500 bars from the
models' training cutoff on: the backtester (`prepare` + `run`, reference and fast paths) and the bot's bar-by-bar replay
(live features from the trailing window, the models asked one row at a time) make the same trades — as the parity
cell of nbs/14_bot.ipynb checks for the repo's config.

The committed models trade rarely on these bars (3 trades at the repo's config), so a second property feeds both
drivers injected votes: random, but a pure function of a few features both drivers compute exactly alike, so the
same bar gets the same vote in both (checked, not assumed). A seeded spread column (0-4 pips) makes the spread gate bite.
"""
import functools, signal, zlib
from dataclasses import replace
from pathlib import Path
import numpy as np, pandas as pd
from hypothesis import Phase, given, settings, strategies as st
from novosky.config import load_all, from_dict, to_dict, Config, SESSIONS
from novosky.data import sample
from novosky.labels import NONE, BUY, SELL
from novosky.models import check_compat, oos_start
from novosky.signal import SignalOutput
from novosky.backtest import Chain, load_chain, prepare, run
from novosky.bot import Bot

ROOT = Path(__file__).resolve().parent.parent
N_BARS = 1500
NO_SHRINK = [Phase.explicit, Phase.reuse, Phase.generate]     # an example takes seconds: report the failing config as found
COLS = ["id", "group", "direction", "lots", "entry_time", "entry_price", "exit_time", "exit_price", "sl", "tp", "reason"]

@functools.lru_cache(None)
def world():
    "(Settings, the committed chain served from ONNX as on the client lane, the bars, the cutoff bar)."
    S = load_all(root=ROOT)
    md = S.path(S.config.paths.models_dir)
    chain = load_chain(md, S.ml.features, S.config, sources=("onnx",))
    bars = sample()
    cut = oos_start(bars.index, check_compat(md, S.ml.features), md)
    bars = bars.iloc[: cut + N_BARS].copy()
    bars["spread"] = np.random.default_rng(3).integers(0, 41, len(bars))      # points (0.1 pip on EURUSD)
    return S, chain, bars, cut

@st.composite
def configs(draw):
    "A valid config.json: the repo's with every gate, sizing, breaker and position-limit key drawn at random."
    c = world()[0].config
    f = replace(c.filters, min_confidence=draw(st.floats(0.0, 0.9)), min_agreement=draw(st.integers(1, 3)),
                max_spread_pips=draw(st.floats(0.0, 5.0)), sessions=draw(st.lists(st.sampled_from(SESSIONS), unique=True)),
                news_blackout_min=draw(st.integers(0, 240)))
    r = replace(c.risk, risk_pct=draw(st.floats(0.01, 10.0)), max_sl_loss_pct=draw(st.floats(0.01, 20.0)))
    b = replace(c.breakers, daily_loss_pct=draw(st.floats(0.1, 50.0)), max_drawdown_pct=draw(st.floats(0.5, 90.0)),
                max_consecutive_losses=draw(st.integers(1, 10)), cooldown_bars=draw(st.integers(0, 200)))
    p = replace(c.positions, max_open=draw(st.integers(1, 5)), max_trades_per_day=draw(st.integers(1, 20)))
    return from_dict(Config, to_dict(replace(c, filters=f, risk=r, breakers=b, positions=p)), "config.json")

KEY = ["ret_1", "ret_2", "close_pos", "body_ratio", "hour_sin", "dow_sin"]    # element-wise features: bit-equal in both paths

class InjectedSignal:
    "Random votes (like nbs/11_backtest's skip_idle test), each a pure function of the row's `KEY` features; records what it said."
    source = "injected"
    def __init__(self, features, rate=0.15): self.j, self.rate, self.said = [features.index(k) for k in KEY], rate, []
    def predict(self, X):
        K = np.ascontiguousarray(np.asarray(X, np.float32)[:, self.j])
        u = np.array([np.random.default_rng(zlib.crc32(r.tobytes())).random(3) for r in K]).reshape(len(K), 3)
        vote = np.where(u[:, 0] < self.rate / 2, BUY, np.where(u[:, 0] < self.rate, SELL, NONE)).astype(np.int8)
        conf, agr = 1 / 3 + 2 / 3 * u[:, 1], (1 + (u[:, 2] * 3).astype(np.int8)).astype(np.int8)
        self.said += list(zip(vote.tolist(), conf.tolist(), agr.tolist()))
        return SignalOutput(vote, conf, agr, np.full((len(K), 3, 3), np.nan), np.zeros(len(K), bool))
    def predict_cascade(self, X, prune_below=None): return self.predict(X), np.ones(len(X), bool)

def replay(S, chain, bars, cut):
    "The bot's replay (non-fast: live features and models per bar) from the cutoff; the test's signal handlers restored."
    old = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    try: return Bot(S, chain, bars, start_i=cut).run()
    finally:
        for s, h in old.items(): signal.signal(s, h)

def same(bot, bt):
    a, b = bot["trades"], bt.trades
    assert len(a) == len(b), (len(a), len(b))
    if len(a): pd.testing.assert_frame_equal(a[COLS].reset_index(drop=True), b[COLS].reset_index(drop=True))
    assert abs(bot["balance"] - bt.equity.iloc[-1]) < 1e-6

@settings(max_examples=8, deadline=None, database=None, phases=NO_SHRINK)
@given(configs())
def test_committed_models_same_trades_for_every_config(cfg):
    S0, chain, bars, cut = world()
    S = replace(S0, config=cfg)
    bot = replay(S, chain, bars, cut)
    for fast in (False, True):
        same(bot, run(prepare(bars, chain, S, fast=fast), S, chain, start=cut))

def injected_case(cfg):
    "Bot and backtest (reference and fast) on injected votes; asserts both drivers were fed the same votes. Returns the trades."
    S0, chain, bars, cut = world()
    S = replace(S0, config=cfg)
    sig_bt, sig_bot = InjectedSignal(S.ml.features), InjectedSignal(S.ml.features)
    ch = lambda sig: Chain(sig, chain.position, chain.sltp, chain.risk, chain.off)
    P = prepare(bars, ch(sig_bt), S, fast=False)
    bt = run(P, S, ch(sig_bt), start=cut)
    bot = replay(S, ch(sig_bot), bars, cut)
    ready = np.flatnonzero(np.isfinite(P.X).all(axis=1) & np.isfinite(P.atr))
    ready = ready[ready >= cut]
    assert sig_bot.said == list(zip(P.vote[ready].tolist(), P.confidence[ready].tolist(), P.agreement[ready].tolist()))
    same(bot, bt)
    same(bot, run(prepare(bars, ch(InjectedSignal(S.ml.features)), S, fast=True), S, ch(sig_bt), start=cut))
    return bt.trades

@settings(max_examples=8, deadline=None, database=None, phases=NO_SHRINK)
@given(configs())
def test_injected_votes_same_trades_for_every_config(cfg):
    injected_case(cfg)

def test_injected_votes_make_the_property_meaningful():
    "At the repo's config the injected votes trade often (the committed models: 3 trades), and identically."
    trades = injected_case(world()[0].config)
    assert trades.group.nunique() >= 20, len(trades)
