"""Issue 10's whole-process speed goals, side by side (A B A B ...), on SYNTHETIC bars (novosky.data.synthetic_ohlcv,
seed 0) and the bundled EURUSD sample. Every figure is a whole process timed from outside: start-up, imports, loading
the models and the data included.

  1. the README's main command `python -m novosky.bot` (default replay of the bundled sample; goal <= 15 s), alone
  2. `python -m novosky.backtest --data IN.parquet --window all --no-baselines` on --bars synthetic H1 bars
     against backtesting.py running a bare SMA(10/30) crossover with SL/TP on the same file
     (REF_DIR/ref_bt.py; goal: ratio <= 0.33)
  3. the same backtest with the default random-entry and buy-and-hold baselines (goal: ratio <= 0.5)
Each pair is A then B; the ratio is taken pair by pair and its median printed with min..max.
Usage: python bench/bench_speed_goals.py --ref-dir ../shared/bench [--bars 1000000] [--pairs 3] [--only bot|nobase|base]"""
import argparse, statistics, sys, tempfile
from pathlib import Path
from bench_features import timed_run as timed       # (wall s, cpu s) of one whole process run from the repository root


def pairs(a, b, n):
    A, B = [], []
    for _ in range(n): A.append(timed(a)); B.append(timed(b))
    r = [x[0] / y[0] for x, y in zip(A, B)]
    med = lambda v: statistics.median(v)
    return med([x[0] for x in A]), med([y[0] for y in B]), med(r), min(r), max(r)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ref-dir", required=True, help="folder holding ref_bt.py (the peer reference)")
    ap.add_argument("--bars", type=int, default=1_000_000)
    ap.add_argument("--pairs", type=int, default=3)
    ap.add_argument("--only", choices=["bot", "nobase", "base"])
    a = ap.parse_args()
    py = sys.executable
    if a.only in (None, "bot"):
        w = [timed([py, "-m", "novosky.bot", "--no-progress", "--fresh", "--state", str(Path(tempfile.mkdtemp()) / "s.json"),
                    "--store", str(Path(tempfile.mkdtemp()) / "s.sqlite")])[0] for _ in range(a.pairs)]
        print(f"main command (python -m novosky.bot, replay of the bundled sample): median {statistics.median(w):.1f} s wall "
              f"over {a.pairs} runs (min {min(w):.1f}, max {max(w):.1f}); goal <= 15 s: {'met' if statistics.median(w) <= 15 else 'NOT met'}")
    if a.only == "bot": return
    from novosky.data import synthetic_ohlcv
    src = Path(tempfile.mkdtemp()) / f"synthetic_{a.bars}_seed0.parquet"
    synthetic_ohlcv(a.bars, seed=0).to_parquet(src)
    ref = [py, str(Path(a.ref_dir) / "ref_bt.py"), str(src)]
    for name, extra, goal in (("nobase", ["--no-baselines"], 0.33), ("base", [], 0.5)):
        if a.only not in (None, name): continue
        ours = [py, "-m", "novosky.backtest", "--data", str(src), "--window", "all", "--no-progress"] + extra
        wa, wb, r, lo, hi = pairs(ours, ref, a.pairs)
        print(f"backtest {a.bars:,} synthetic H1 bars{' without' if extra else ' with the default'} baselines: {wa:.1f} s; "
              f"backtesting.py SMA crossover with SL/TP: {wb:.1f} s; ratio median {r:.2f} (min {lo:.2f}, max {hi:.2f}) over {a.pairs} pairs; "
              f"goal <= {goal}: {'met' if r <= goal else 'NOT met'}")


if __name__ == "__main__":
    main()
