"""Feature and label throughput (issue 3), on SYNTHETIC bars from novosky.data.synthetic_ohlcv (seed 0).

Figures printed:
  * all 59 features over 1,000,000 synthetic H1 bars (goal <= 1.0 s) and the peak memory of that step
    (tracemalloc peak of numpy allocations, and the process RSS growth; goal <= 1 GB)
  * newest-bar features from the 2,000-bar trailing window (goal <= 1 ms median), on the real EURUSD sample
  * triple-barrier labels over 1,000,000 synthetic bars (goal <= 2 s)
Usage: python bench/bench_features.py [--rows N]"""
import argparse, gc, resource, time, tracemalloc
import numpy as np


def rss_mb():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"): return int(line.split()[1]) / 1024
    return float("nan")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=3)
    a = ap.parse_args()
    from novosky.data import tune_allocator
    print(f"glibc allocator tuned as the CLIs do: {tune_allocator()}")
    from novosky.data import synthetic_ohlcv, sample
    from novosky.features import compute_features, latest_features, latest_row, BarWindow, default_context, LOOKBACK
    ctx = default_context()
    df = synthetic_ohlcv(a.rows, seed=0)
    compute_features(df.iloc[:5000], ctx)            # warm caches/imports
    gc.collect()
    base = rss_mb()
    tracemalloc.start()
    t = time.perf_counter(); X = compute_features(df, ctx); first = time.perf_counter() - t
    _, peak = tracemalloc.get_traced_memory(); tracemalloc.stop()
    grown = rss_mb() - base
    del X; gc.collect()
    ts = [first]
    for _ in range(a.repeat - 1):
        t = time.perf_counter(); X = compute_features(df, ctx); ts.append(time.perf_counter() - t); del X
    best = min(ts)
    print(f"features: {a.rows:,} synthetic H1 bars x {len(ctx.features)} features: best {best:.3f} s, median {np.median(ts):.3f} s "
          f"({a.rows / best / 1e6:.2f} M bars/s)  goal <= 1.0 s: {'met' if best <= 1.0 else 'NOT met'}")
    print(f"  peak memory: tracemalloc {peak / 2**20:.0f} MB, RSS growth {grown:.0f} MB (output alone {a.rows * len(ctx.features) * 8 / 2**20:.0f} MB)"
          f"  goal <= 1 GB: {'met' if max(peak / 2**20, grown) <= 1024 else 'NOT met'}")
    bars = sample()
    win = BarWindow.from_frame(bars.iloc[:-300])
    lat = []
    for ts, r in bars.iloc[-300:].iterrows():        # the bot's path: append the closed bar, compute its row
        win.append(ts, r.open, r.high, r.low, r.close, r.volume)
        t = time.perf_counter(); latest_row(win, ctx); lat.append(time.perf_counter() - t)
    lat = np.array(lat[20:]) * 1e3
    print(f"newest bar (BarWindow of {LOOKBACK} real EURUSD bars, latest_row): median {np.median(lat):.3f} ms, p99 {np.percentile(lat, 99):.3f} ms"
          f"  goal <= 1 ms median: {'met' if np.median(lat) <= 1 else 'NOT met'}")
    w = bars.iloc[-LOOKBACK:]
    lat2 = []
    for _ in range(100):
        t = time.perf_counter(); latest_features(w, ctx); lat2.append(time.perf_counter() - t)
    print(f"  (convenience latest_features(DataFrame) incl. pandas conversion: median {np.median(lat2) * 1e3:.3f} ms)")
    try:
        from novosky.labels import make_labels, LabelParams
    except ImportError:
        return
    p = LabelParams.from_config()
    make_labels(df.iloc[:5000], p)
    ts = []
    for _ in range(a.repeat):
        t = time.perf_counter(); make_labels(df, p); ts.append(time.perf_counter() - t)
    print(f"labels: {a.rows:,} synthetic H1 bars, horizon {p.horizon}: best {min(ts):.3f} s, median {np.median(ts):.3f} s"
          f"  goal <= 2 s: {'met' if min(ts) <= 2 else 'NOT met'}")


if __name__ == "__main__":
    main()
