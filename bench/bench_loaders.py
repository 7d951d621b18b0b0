"""Loader throughput on 1,000,000 SYNTHETIC H1 bars (novosky.data.synthetic_ohlcv, seed 0), in each format.

Prints rows/s for the full `read_ohlcv` (read + timestamp parse + validation + gap scan). Goals from issue 2:
>= 1M rows/s for CSV, >= 10M rows/s for Parquet, on the 2-core CI machine.
Usage: python bench/bench_loaders.py [--rows N] [--repeat K]"""
import argparse, tempfile, time
from pathlib import Path
import numpy as np, pandas as pd
from novosky.data import synthetic_ohlcv, read_ohlcv, to_mt5_csv


def best_of(fn, k):
    ts = []
    for _ in range(k):
        t = time.perf_counter(); fn(); ts.append(time.perf_counter() - t)
    return min(ts), float(np.median(ts))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=5)
    a = ap.parse_args()
    from novosky.data import tune_allocator
    print(f"glibc allocator tuned as the CLIs do: {tune_allocator()}")
    df = synthetic_ohlcv(a.rows, seed=0)
    with tempfile.TemporaryDirectory() as d:
        d = Path(d)
        t = df.index.tz_localize(None)
        duk = d / "duk.csv"
        pd.DataFrame({"Time": t.strftime("%d.%m.%Y %H:%M:%S.000"), "Open": df.open, "High": df.high, "Low": df.low,
                      "Close": df.close, "Volume": df.volume}).to_csv(duk, index=False)
        mt5 = d / "mt5.csv"; to_mt5_csv(df, mt5)
        gen = d / "generic.csv"; df.reset_index().assign(time=lambda x: x.time.dt.strftime("%Y-%m-%d %H:%M:%S")).to_csv(gen, index=False)
        pqt = d / "bars.parquet"; df.to_parquet(pqt)
        print(f"{a.rows:,} synthetic H1 bars (seeded synthetic_ohlcv, not market data); best / median of {a.repeat}")
        for name, p, goal in (("MT5 export (tab CSV)", mt5, 1e6), ("Dukascopy CSV", duk, 1e6),
                              ("generic CSV (ISO times)", gen, 1e6), ("Parquet", pqt, 1e7)):
            out, _ = read_ohlcv(p)
            assert len(out) == a.rows, (name, len(out))
            best, med = best_of(lambda: read_ohlcv(p), a.repeat)
            rate = a.rows / best
            print(f"  {name:26s} {best*1e3:8.1f} ms  {rate/1e6:6.2f} M rows/s  (median {a.rows/med/1e6:.2f})  goal {goal/1e6:g} M rows/s: {'met' if rate >= goal else 'NOT met'}")


if __name__ == "__main__":
    main()
