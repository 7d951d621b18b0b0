"""Random-entry baseline throughput (`novosky.baselines.random_entries`) on SYNTHETIC H1 bars (novosky.data.synthetic_ohlcv, seed 0).

The strategy is a SEEDED table of trades (numpy seed 1: holds geometric with mean ~11 bars, capped at 100; stops 0.6-2.0 ATR),
matched as `python -m novosky.backtest` matches it: backtest.random_runs runs (config.json), backtest.seed, the config's sizing
and costs. Cases, on each bar count:
  light    200 trades (the committed models take ~160 on 1M synthetic bars)
  heavy    one trade per 50 bars
  refused  heavy, account of 5: the minimum lot breaches the SL cap, the sizing refuses every entry
  margin   heavy, risk 1000%: the SL cap moves every stop and the broker refuses every entry for margin (the old cliff)
Prints bars/s (window bars / seconds, best and median of --repeat). The goal for a whole backtest window, baselines
included, is >= 100,000 bars/s, so the baselines alone should stay well above it.
Usage: python bench/bench_baselines.py [--bars 250000,1000000] [--repeat 3]"""
import argparse, dataclasses, time
import numpy as np, pandas as pd


def timed(fn, k):
    ts, out = [], None
    for _ in range(k):
        t = time.perf_counter(); out = fn(); ts.append(time.perf_counter() - t)
    return min(ts), float(np.median(ts)), out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bars", default="250000,1000000", help="comma-separated bar counts")
    ap.add_argument("--repeat", type=int, default=3)
    a = ap.parse_args()
    import talib
    from novosky.config import load_all
    from novosky.data import synthetic_ohlcv, tune_allocator
    from novosky.engine import Engine
    from novosky.baselines import random_entries
    print(f"glibc allocator tuned as the CLIs do: {tune_allocator()}")
    S = load_all(); spec, cfg = S.symbol_spec, S.config
    runs, seed = cfg.backtest.random_runs, cfg.backtest.seed
    huge = dataclasses.replace(cfg, risk=dataclasses.replace(cfg.risk, risk_pct=1000.0))
    for n in (int(x) for x in a.bars.split(",")):
        bars = synthetic_ohlcv(n, seed=0)
        o, h, l, c = (bars[k].to_numpy(np.float64) for k in ("open", "high", "low", "close"))
        spread, t_ns = bars.spread.to_numpy(np.float64) * 10.0 ** -spec.digits, bars.index.as_unit("ns").asi8
        atr = talib.ATR(h, l, c, S.ml.labels.atr_period)
        eligible = Engine(cfg, spec).market_gate_mask(spread, t_ns + 3_600_000_000_000, np.zeros(n, bool)) & np.isfinite(atr)
        rng = np.random.default_rng(1)
        def strategy(N): return pd.DataFrame({"hold_bars": np.minimum(rng.geometric(1 / 11, N), 100), "sl_atr": rng.uniform(0.6, 2.0, N)})
        light, heavy = strategy(200), strategy(n // 50)
        print(f"\n{n:,} synthetic H1 bars (seed 0), {runs} runs (seed {seed}); {eligible.mean():.0%} of bars eligible")
        for name, st, cf, eq in [("light", light, cfg, cfg.backtest.initial_equity), ("heavy", heavy, cfg, cfg.backtest.initial_equity),
                                 ("refused", heavy, cfg, 5.0), ("margin", heavy, huge, cfg.backtest.initial_equity)]:
            best, med, R = timed(lambda: random_entries(o, h, l, c, spread, t_ns, atr, eligible, st, spec, cf, eq, runs=runs, seed=seed), a.repeat)
            print(f"  {name:8s} {len(st):6,} trades x {runs} runs: {n / best:12,.0f} bars/s (median {n / med:12,.0f}), {best:6.3f} s; "
                  f"taken per run {np.mean(R['trades_per_run']):,.0f}, skipped per run {np.mean(R['skipped_per_run']):,.0f}")


if __name__ == "__main__":
    main()
