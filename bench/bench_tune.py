"""Tuning figures (issue 12), on the bundled 6,225-bar EURUSD sample with the default search space and folds.

  1. one signal trial and one position trial, in this process, at the default space's middle and at its largest members
  2. the smoke run: `python -m novosky.tune signal --n-trials 5` with --workers 1 and with --workers 2, whole command
     (goal: well under a minute), in a temporary run folder and ledger
The machine's load average is printed: trial times on 2 shared cores move with whatever else runs.
Usage: python bench/bench_tune.py [--trials N] [--skip-cli]"""
import argparse, os, subprocess, sys, tempfile, time
from pathlib import Path


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--trials", type=int, default=5, help="trials of the smoke run (default 5)")
    ap.add_argument("--skip-cli", action="store_true", help="only the in-process trial timings")
    a = ap.parse_args()
    from optuna.trial import FixedTrial
    from novosky.config import load_all, project_root
    from novosky.tune import tune_data, Objective, SIGNAL_SPACE, POSITION_SPACE
    print(f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")
    S = load_all(); td = tune_data(S=S)
    def mid(sp):
        "Each parameter at the middle of its range (on its grid)."
        out = {}
        for k, p in sp.items():
            half = (p.hi - p.lo) / 2
            v = p.lo + (round(half / p.step) * p.step if p.step else half)
            out[k] = int(v) if p.type == "int" else round(float(v), 10)
        return out
    top = lambda sp: {k: (float(p.hi) if p.type == "float" else int(p.hi)) for k, p in sp.items()}
    for kind, sp in (("signal", SIGNAL_SPACE), ("position", POSITION_SPACE)):
        obj = Objective(kind, td, "sharpe", models_dir=project_root() / "models")
        for name, params in (("middle", mid(sp)), ("largest", top(sp))):
            t = FixedTrial(params); t0 = time.perf_counter(); v = obj(t); s = time.perf_counter() - t0
            print(f"{kind} trial at the space's {name} ({params}): {s:.1f} s, value {v:+.3f}, trades per fold {t.user_attrs['fold_trades']}")
    if a.skip_cli: return
    for workers in (1, 2):
        with tempfile.TemporaryDirectory() as d:
            cmd = [sys.executable, "-m", "novosky.tune", "signal", "--study", "bench", "--n-trials", str(a.trials), "--workers", str(workers),
                   "--run-dir", str(Path(d) / "run"), "--ledger", str(Path(d) / "ledger"), "--no-progress"]
            t0 = time.perf_counter(); r = subprocess.run(cmd, capture_output=True, text=True); s = time.perf_counter() - t0
            if r.returncode: print(r.stdout, r.stderr); raise SystemExit(1)
            line = next((l for l in r.stdout.splitlines() if "trial(s) finished" in l), "")
            print(f"smoke run, {a.trials} trials, --workers {workers}: {s:.1f} s for the whole command ({line.strip()})")


if __name__ == "__main__": main()
