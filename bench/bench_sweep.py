"""Config-sweep figures (issue 12 item 5) on 20,000 synthetic H1 bars (`novosky.data.synthetic_ohlcv(20_000, seed=0)`).

Goal: a config sweep of >= 20 points/s on 2 cores, for the whole run (`python -m novosky.sweep config`, from the command
to the written outputs).

  1. where a point's time goes, in this process: the gates, the engine walk (`run`) over the 3 validation folds, the
     fold score; and the precompute done once (features, signals, SL/TP)
  2. the whole command with --workers 1 and --workers 2 on a 96-point grid, in a temporary run folder and ledger
The machine's load average is printed: on 2 shared cores the figures move with whatever else runs.
Usage: python bench/bench_sweep.py [--skip-cli]"""
import argparse, json, os, re, subprocess, sys, tempfile, time
from pathlib import Path

GRID = {"risk.risk_pct": [0.5, 1, 2], "filters.min_confidence": [0.4, 0.45, 0.5, 0.55], "breakers.max_drawdown_pct": [10, 20],
        "positions.max_adds": [0, 1], "positions.position_eval_bars": [2, 4]}      # 96 points
GOAL = 20.0


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--skip-cli", action="store_true", help="only the in-process breakdown")
    a = ap.parse_args()
    from novosky.config import load_all
    from novosky.data import synthetic_ohlcv
    from novosky.sweep import load_grid, sweep_data, SweepObjective, grid_points, apply_point, gate, score, groups
    from novosky.backtest import walk
    print(f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")
    S = load_all(); bars = synthetic_ohlcv(20_000, seed=0); grid = load_grid(GRID, S)
    t0 = time.perf_counter(); sd = sweep_data(grid, S=S, bars=bars, allow_mismatch=True); t_prep = time.perf_counter() - t0
    obj = SweepObjective(sd, grid); pts = grid_points(grid)
    print(f"precompute once ({sd.signals} votes, {sd.td.split.is_stop} in-sample bars, folds {[(f.val_start, f.val_stop) for f in sd.td.folds]}): {t_prep:.2f} s")
    tg = tr = ts = 0.0
    for p in pts:
        a0 = time.perf_counter(); Sp = apply_point(S, p); P = gate(sd.preps[()], Sp); a1 = time.perf_counter()
        for f, fr in zip(sd.td.folds, obj.frames):
            b0 = time.perf_counter(); drv, eq, *_ = walk(P, Sp, sd.chain, f.val_start, f.val_stop); b1 = time.perf_counter()
            score(eq, groups(drv), fr, Sp.config.backtest.initial_equity); b2 = time.perf_counter()
            tr += b1 - b0; ts += b2 - b1
        tg += a1 - a0
    n = len(pts); tot = tg + tr + ts
    print(f"a point in this process, mean of {n}: {tot / n * 1000:.1f} ms = config + gates {tg / n * 1000:.1f} ms, engine walk {tr / n * 1000:.1f} ms "
          f"({tr / tot:.0%}), score {ts / n * 1000:.1f} ms -> {n / tot:.1f} points/s per process before Optuna and the ledger")
    if a.skip_cli: return
    with tempfile.TemporaryDirectory() as d:
        data = Path(d) / "synthetic_h1_20k.parquet"; bars.to_parquet(data)
        (Path(d) / "grid.json").write_text(json.dumps(GRID))
        for workers in (1, 2):
            cmd = [sys.executable, "-m", "novosky.sweep", "config", "--grid", str(Path(d) / "grid.json"), "--data", str(data), "--allow-mismatch",
                   "--study", f"bench{workers}", "--workers", str(workers), "--run-dir", str(Path(d) / f"run{workers}"),
                   "--ledger", str(Path(d) / f"ledger{workers}"), "--no-progress"]
            la = os.getloadavg()[0]
            t0 = time.perf_counter(); r = subprocess.run(cmd, capture_output=True, text=True); s = time.perf_counter() - t0
            if r.returncode: print(r.stdout, r.stderr); raise SystemExit(1)
            line = next((l for l in r.stdout.splitlines() if "point(s) finished in" in l), "")
            rate = n / s
            print(f"whole command, {n} points, --workers {workers} (load average {la:.2f} before): {s:.1f} s = {rate:.1f} points/s "
                  f"({'meets' if rate >= GOAL else 'misses'} the goal of {GOAL:g}); inside: {line.strip()}")


if __name__ == "__main__": main()
