"""Backtest throughput (issue 5), on SYNTHETIC bars from novosky.data.synthetic_ohlcv (seed 0) with the committed models.

  1. full chain: features, signal ensemble, SL/TP (batch) + engine walk with the position and risk models asked inside it
     + PaperBroker, over --bars synthetic H1 bars (goal >= 200,000 bars/s end to end) and its peak memory (goal <= 2 GB)
  2. engine + PaperBroker alone, decisions precomputed (random signals at 2 % of bars, default SL/TP, no position/risk
     model) (goal >= 2,000,000 bars/s)
  3. backtesting.py running a bare SMA(10/30) crossover with SL/TP on the same bars, for scale, and the ratio
Usage: python bench/bench_backtest.py [--bars N]   (pip install backtesting for 3)"""
import argparse, gc, time
import numpy as np


def rss_peak_mb():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"): return int(line.split()[1]) / 1024
    return float("nan")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bars", type=int, default=1_000_000)
    a = ap.parse_args()
    from novosky.data import tune_allocator
    print(f"glibc allocator tuned as the CLIs do: {tune_allocator()}")
    from novosky.config import load_all
    from novosky.data import synthetic_ohlcv
    from novosky.backtest import load_chain, prepare, run, Chain
    from novosky.labels import BUY, SELL
    S = load_all()
    bars = synthetic_ohlcv(a.bars, seed=0)
    chain = load_chain(S.path(S.config.paths.models_dir), S.ml.features, S.config, sources=("onnx",), threads=2)
    base = rss_peak_mb()
    t0 = time.perf_counter(); prep = prepare(bars, chain, S); t_prep = time.perf_counter() - t0
    t1 = time.perf_counter(); res = run(prep, S, chain); t_walk = time.perf_counter() - t1
    total = t_prep + t_walk
    print(f"full chain over {a.bars:,} synthetic H1 bars (committed models, ONNX): prepare {t_prep:.1f} s + walk {t_walk:.1f} s "
          f"= {a.bars / total:,.0f} bars/s  goal >= 200,000: {'met' if a.bars / total >= 2e5 else 'NOT met'}")
    print(f"  prepare = features (float32) + signal + SL/TP; signal asked on {prep.market_ok.mean():.0%} of bars "
          f"(market gates open), third member on {prep.complete.mean():.0%}")
    print(f"  {len(res.trades):,} fills, {sum(1 for e in res.events if e['event'] == 'order'):,} orders; "
          f"peak RSS {rss_peak_mb():,.0f} MB (before: {base:,.0f} MB)  goal <= 2 GB: {'met' if rss_peak_mb() <= 2048 else 'NOT met'}")
    # 2. engine + broker alone
    rng = np.random.default_rng(1)
    prep.vote[:] = 0; idx = rng.choice(len(bars), len(bars) // 50, replace=False)
    prep.vote[idx] = rng.choice([BUY, SELL], len(idx)); prep.confidence[:] = 1.0; prep.agreement[:] = 3
    prep.sl[:] = S.ml.labels.sl_atr; prep.tp[:] = S.ml.labels.tp_atr
    prep.complete[:] = True; prep.signal = None; prep.market_ok[:] = True
    # breakers relaxed so the engine keeps trading through the whole run (a halt would leave nothing to measure)
    import dataclasses
    cfg2 = dataclasses.replace(S.config, breakers=dataclasses.replace(S.config.breakers, max_drawdown_pct=90.0, daily_loss_pct=50.0))
    S2 = dataclasses.replace(S, config=cfg2)
    t = time.perf_counter(); r2 = run(prep, S2, Chain()); dt = time.perf_counter() - t
    walked = int(r2.exposure * a.bars)
    print(f"engine + PaperBroker alone, decisions precomputed: {a.bars / dt:,.0f} bars/s ({len(r2.trades):,} trades, "
          f"in a position {r2.exposure:.0%} of bars; flat bars without a signal are skipped, provably without effect)  "
          f"goal >= 2,000,000: {'met' if a.bars / dt >= 2e6 else 'NOT met'}")
    # 3. backtesting.py for scale
    try:
        from backtesting import Backtest, Strategy
        from backtesting.lib import crossover
    except ImportError:
        print("backtesting.py not installed (pip install backtesting): comparison skipped"); return
    import pandas as pd
    df = bars.rename(columns=str.capitalize)[["Open", "High", "Low", "Close", "Volume"]]
    df.index = df.index.tz_localize(None)
    def sma(x, n): return pd.Series(x).rolling(n).mean().to_numpy()
    class SmaCross(Strategy):
        def init(self):
            self.f = self.I(sma, self.data.Close, 10); self.s = self.I(sma, self.data.Close, 30)
        def next(self):
            c = self.data.Close[-1]
            if crossover(self.f, self.s): self.position.close(); self.buy(sl=c * 0.995, tp=c * 1.01)
            elif crossover(self.s, self.f): self.position.close(); self.sell(sl=c * 1.005, tp=c * 0.99)
    n = min(a.bars, 200_000)
    import warnings; warnings.filterwarnings("ignore")
    t = time.perf_counter(); Backtest(df.iloc[:n], SmaCross, cash=1e7, commission=0.0, finalize_trades=True).run(); dt3 = time.perf_counter() - t
    bt_rate = n / dt3
    print(f"backtesting.py SMA crossover with SL/TP on the first {n:,} of the same bars: {bt_rate:,.0f} bars/s; "
          f"NOVOSKY full chain / backtesting.py = {a.bars / total / bt_rate:.2f}x, engine alone / backtesting.py = {a.bars / dt / bt_rate:.2f}x")


if __name__ == "__main__":
    main()
