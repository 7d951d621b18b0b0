"""Model-stack figures (issue 4), on SYNTHETIC bars from novosky.data.synthetic_ohlcv (seeded), unless stated.

  1. training signal + position + SL/TP on 100,000 synthetic H1 bars with n_jobs=1 (goal <= 5 minutes)
  2. full inference for one new bar through ONNX, single thread: 3 signal members + position + SL/TP
     (goal <= 0.5 ms median, <= 2 ms p99)
  3. batch signal inference (3 members + vote) over 1,000,000 synthetic rows through ONNX (goal >= 500k rows/s)
Usage: python bench/bench_models.py [--bars N] [--batch-rows N] [--keep DIR]"""
import argparse, shutil, tempfile, time
from pathlib import Path
import numpy as np


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bars", type=int, default=100_000)
    ap.add_argument("--batch-rows", type=int, default=1_000_000)
    ap.add_argument("--keep", help="keep the trained models in this folder")
    a = ap.parse_args()
    from novosky.data import tune_allocator
    print(f"glibc allocator tuned as the CLIs do: {tune_allocator()}")
    from novosky.config import load_ml_config, load_config
    from novosky.data import synthetic_ohlcv
    from novosky.features import compute_features
    from novosky.labels import make_labels
    from novosky.models import assemble
    from novosky.signal import SignalTrainer, SignalPredictor
    from novosky.position import PositionTrainer, PositionPredictor, STATE_FEATURES
    from novosky.sltp import SltpTrainer, SltpPredictor, entry_rows
    import dataclasses
    ml, cfg = load_ml_config(), load_config()
    assert ml.training.n_jobs == 1, "the training figure is defined for n_jobs=1"
    # synthetic bars carry no edge, so the signal model proposes few trades: let SL/TP learn from as few as 100
    ml = dataclasses.replace(ml, training=dataclasses.replace(ml.training, min_train_rows=100))
    d = Path(a.keep) if a.keep else Path(tempfile.mkdtemp())
    bars = synthetic_ohlcv(a.bars, seed=42)
    t0 = time.perf_counter()
    F = compute_features(bars); L = make_labels(bars)
    A = assemble(F, L.label.where(L.usable), L.usable)
    t_prep = time.perf_counter() - t0
    t = time.perf_counter(); st = SignalTrainer(ml).fit(A, F); st.save(d, A.is_.X[::20]); t_sig = time.perf_counter() - t
    t = time.perf_counter(); pt = PositionTrainer(ml).fit(bars, F, L, d); pt.save(d); t_pos = time.perf_counter() - t
    t = time.perf_counter(); sl = SltpTrainer(ml, cfg).fit(bars, F, d); sl.save(d); t_sltp = time.perf_counter() - t
    total = t_sig + t_pos + t_sltp
    print(f"training on {a.bars:,} synthetic H1 bars (n_jobs=1, {ml.training.n_estimators} trees/member, {ml.training.cv_folds} purged folds):")
    print(f"  features+labels {t_prep:.1f} s; signal {t_sig:.1f} s ({', '.join(f'{k} {v:.0f}s' for k, v in st.fit_seconds_.items())}; "
          f"{len(A.is_):,} rows); position {t_pos:.1f} s ({pt.n_rows_:,} rows from {pt.n_trades_:,} trades); sltp {t_sltp:.1f} s ({sl.n_trades_:,} trades)")
    print(f"  total {total:.1f} s = {total / 60:.2f} min  goal <= 5 min: {'met' if total <= 300 else 'NOT met'}")

    # 2. one new bar through ONNX, single thread
    sp = SignalPredictor(d, sources=("onnx",), threads=1)
    pp = PositionPredictor(d, sources=("onnx",), threads=1)
    tp = SltpPredictor(d, sources=("onnx",), threads=1)
    X = A.oos.X
    lat = []
    for i in range(2000):
        x = X[i % len(X): i % len(X) + 1]
        t = time.perf_counter()
        o = sp.predict(x)
        pp.predict_proba(np.hstack([x, np.zeros((1, len(STATE_FEATURES)), np.float32)]))
        tp.predict(entry_rows(x, [1], o.confidence, o.agreement))
        lat.append(time.perf_counter() - t)
    lat = np.array(lat[100:]) * 1e3
    print(f"one bar, full inference (3 signal members + position + 2 SL/TP regressors), ONNX, 1 thread: "
          f"median {np.median(lat):.3f} ms, p99 {np.percentile(lat, 99):.3f} ms  goal <= 0.5 / 2 ms: "
          f"{'met' if np.median(lat) <= 0.5 and np.percentile(lat, 99) <= 2 else 'NOT met'}  (sources {sp.source})")

    # 3. batch signal inference
    big = compute_features(synthetic_ohlcv(a.batch_rows + 300, seed=7)).dropna().to_numpy(np.float32)[: a.batch_rows]
    sb = SignalPredictor(d, sources=("onnx",), threads=2)
    sb.predict(big[:1000])
    t = time.perf_counter(); out = sb.predict(big); dt = time.perf_counter() - t
    t = time.perf_counter(); oc, full = sb.predict_cascade(big); dtc = time.perf_counter() - t
    assert (oc.vote == out.vote).all()
    print(f"  cascade (third member only where the first two do not both vote NONE; identical votes): {len(big) / dtc:,.0f} rows/s, "
          f"third member on {full.mean():.0%} of rows")
    per = {}
    for m, p in sb.predictors.items():
        t = time.perf_counter(); p.predict(big[:200_000]); per[m] = 200_000 / (time.perf_counter() - t)
    print(f"batch signal inference, {len(big):,} synthetic rows, ONNX, 2 threads: {len(big) / dt:,.0f} rows/s  goal >= 500,000: "
          f"{'met' if len(big) / dt >= 5e5 else 'NOT met'}  (per member: {', '.join(f'{k} {v:,.0f}' for k, v in per.items())} rows/s)")
    if not a.keep: shutil.rmtree(d)


if __name__ == "__main__":
    main()
