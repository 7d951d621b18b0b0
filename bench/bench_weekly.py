"""Weekly pipeline figures (issue 13 goals), in a scratch copy of the project (a temporary git repository):

  1. the smoke defaults (`papermill weekly.ipynb` with no parameters: the bundled sample, 2+2 trials, a 6-point sweep),
     whole command — goal: at most 5 minutes on 2 cores;
  2. a default week on 20,000 synthetic H1 bars (`novosky.data.synthetic_ohlcv(20_000, seed=0)`): 30 signal trials,
     20 position trials, a 12-point sweep, a 12-week holdout — goal: at most 45 minutes; the time of every phase.
The machine's load average is printed: on 2 shared cores the figures move with whatever else runs.
Usage: python bench/bench_weekly.py [--skip-default] [--skip-smoke]"""
import argparse, json, os, subprocess, sys, tempfile, time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--skip-default", action="store_true"); ap.add_argument("--skip-smoke", action="store_true")
    a = ap.parse_args()
    from novosky.pipeline import scratch_project, PHASES
    from novosky.data import synthetic_ohlcv
    env = lambda proj: dict(os.environ, NOVOSKY_HOME=str(proj))
    with tempfile.TemporaryDirectory() as d:
        if not a.skip_smoke:
            proj = scratch_project(Path(d) / "smoke", ROOT); (proj / "runs/weekly").mkdir(parents=True)
            la = os.getloadavg()[0]; t0 = time.perf_counter()
            r = subprocess.run(["papermill", str(ROOT / "weekly.ipynb"), "runs/weekly/smoke.ipynb", "-p", "run_id", "smoke"], cwd=proj, env=env(proj),
                               capture_output=True, text=True)
            s = time.perf_counter() - t0
            if r.returncode: print(r.stderr[-3000:]); raise SystemExit(1)
            dec = json.loads((proj / "runs/weekly/smoke/decision.json").read_text())
            print(f"smoke defaults, whole papermill command (load average {la:.2f} before): {s:.0f} s = {s / 60:.1f} min "
                  f"({'meets' if s <= 300 else 'misses'} the goal of 5 min); decision {'PROMOTE' if dec['promote'] else 'REJECT'}")
        if not a.skip_default:
            proj = scratch_project(Path(d) / "week", ROOT)
            data = Path(d) / "synthetic_h1_20k.parquet"; synthetic_ohlcv(20_000, seed=0).to_parquet(data)
            code = ("from novosky.pipeline import Params, run_weekly; import sys; run_weekly(Params(data=sys.argv[1], run_id='week', allow_mismatch=True, "
                    "signal_trials=30, position_trials=20, holdout_weeks=12, min_trades=30, sweep_grid={'filters.min_confidence': [0.4, 0.45, 0.5], "
                    "'positions.max_adds': [0, 1], 'risk.risk_pct': [0.5, 1.0]}, progress=False))")
            la = os.getloadavg()[0]; t0 = time.perf_counter()
            r = subprocess.run([sys.executable, "-c", code, str(data)], cwd=proj, env=env(proj), capture_output=True, text=True)
            s = time.perf_counter() - t0
            if r.returncode: print(r.stderr[-3000:]); raise SystemExit(1)
            rd = proj / "runs/weekly/week"
            print(f"default week on 20,000 synthetic H1 bars (load average {la:.2f} before): {s / 60:.1f} min "
                  f"({'meets' if s <= 45 * 60 else 'misses'} the goal of 45 min)")
            for n, name in enumerate(PHASES, 1):
                rec = json.loads((rd / f"{n:02d}-{name}.json").read_text())
                print(f"  {n:02d} {name:14s} {rec['seconds']:8.1f} s  {rec['status']}: {str(rec['reason'])[:110]}")


if __name__ == "__main__": main()
