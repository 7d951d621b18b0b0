"""Feature and label throughput (issue 3), on SYNTHETIC bars from novosky.data.synthetic_ohlcv (seed 0).

Figures printed:
  * with --ref PATH: the whole command `python -m novosky.features` against a plain-pandas reference
    (48 typical indicator features written to float32 Parquet; goal: ours <= 0.6x its wall time), side by side,
    A B A B ..., on one Parquet file of the same synthetic bars. The command pair timed, from outside each process:
        A: python -m novosky.features IN.parquet -o A.parquet
        B: python PATH IN.parquet B.parquet
    with IN.parquet = synthetic_ohlcv(rows, seed=0).to_parquet(IN.parquet), both run from the repository root (so A
    imports this checkout's package); printed: median wall and CPU seconds of each, and the median of the
    pair-by-pair wall ratios A/B (pairing keeps it fair when the machine drifts)
  * all 59 features over 1,000,000 synthetic H1 bars (goal <= 1.0 s) and the peak memory of that step
    (tracemalloc peak of numpy allocations, and the process RSS growth; goal <= 1 GB)
  * newest-bar features from the 2,000-bar trailing window (goal <= 1 ms median), on the real EURUSD sample
  * triple-barrier labels over 1,000,000 synthetic bars (goal <= 2 s)
Usage: python bench/bench_features.py [--rows N] [--ref PATH [--pairs N] [--cli-only]]"""
import argparse, gc, resource, subprocess, sys, tempfile, time, tracemalloc
from pathlib import Path
import numpy as np


def rss_mb():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"): return int(line.split()[1]) / 1024
    return float("nan")


ROOT = Path(__file__).resolve().parent.parent


def timed_run(cmd):
    "(wall s, user + sys s) of one whole process run from the repository root, its output discarded."
    r0 = resource.getrusage(resource.RUSAGE_CHILDREN); t = time.perf_counter()
    p = subprocess.run(cmd, cwd=ROOT, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    wall = time.perf_counter() - t; r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    if p.returncode: raise SystemExit(f"failed ({p.returncode}): {' '.join(map(str, cmd))}\n{p.stderr.decode()[-2000:]}")
    return wall, (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)


def side_by_side(rows, ref, pairs):
    "The CLI against the reference, whole processes, A B A B ... after one uncounted run of each."
    from novosky.data import synthetic_ohlcv
    with tempfile.TemporaryDirectory() as d:
        src = Path(d) / "in.parquet"
        synthetic_ohlcv(rows, seed=0).to_parquet(src)
        A = [sys.executable, "-m", "novosky.features", str(src), "-o", str(Path(d) / "a.parquet")]
        B = [sys.executable, str(ref), str(src), str(Path(d) / "b.parquet")]
        timed_run(A); timed_run(B)
        ra, rb = [], []
        for _ in range(pairs): ra.append(timed_run(A)); rb.append(timed_run(B))
    wa, ca = np.array(ra).T; wb, cb = np.array(rb).T
    q = wa / wb
    print(f"side by side, A B A B ({pairs} pairs, whole processes), {rows:,} synthetic H1 bars (seed 0), float32 Parquet out:")
    la, lb = "python -m novosky.features IN -o OUT", f"python {Path(ref).name} IN OUT"; w = max(len(la), len(lb))
    print(f"  A {la:<{w}} : wall median {np.median(wa):.2f} s (min {wa.min():.2f}, max {wa.max():.2f}), cpu median {np.median(ca):.2f} s")
    print(f"  B {lb:<{w}} : wall median {np.median(wb):.2f} s (min {wb.min():.2f}, max {wb.max():.2f}), cpu median {np.median(cb):.2f} s")
    print(f"  A/B wall, pair by pair: median {np.median(q):.3f} (min {q.min():.3f}, max {q.max():.3f})"
          f"  goal <= 0.6: {'met' if np.median(q) <= 0.6 else 'NOT met'}")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--ref", type=Path, help="the plain-pandas reference script (usage: REF IN.parquet OUT.parquet) to time the CLI against")
    ap.add_argument("--pairs", type=int, default=7, help="A B pairs for the side-by-side figure (default 7)")
    ap.add_argument("--cli-only", action="store_true", help="print only the side-by-side figure")
    a = ap.parse_args()
    if a.ref:
        if not a.ref.is_file(): ap.error(f"--ref {a.ref}: file not found")
        side_by_side(a.rows, a.ref, a.pairs)
        if a.cli_only: return
    elif a.cli_only: ap.error("--cli-only needs --ref")
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
