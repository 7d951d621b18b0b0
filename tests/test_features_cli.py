"""`python -m novosky.features` as a user runs it: real sample, an MT5 export, a large synthetic file, bad input."""
import numpy as np, pandas as pd
from conftest import run_module, ROOT
from novosky.data import sample, to_mt5_csv, synthetic_ohlcv, load
from novosky.features import compute_features, compute_features_chunked


def test_features_cli_on_the_sample(tmp_path):
    out = tmp_path / "f.parquet"
    r = run_module("novosky.features", ROOT / "novosky/sample/EURUSD_H1.csv", "-o", out)
    assert r.returncode == 0, r.stderr
    assert "6,225 rows x 59 features" in r.stdout
    X = pd.read_parquet(out)
    ref = compute_features(sample(), dtype=np.float32)          # the file holds float32, what the models read
    assert (X.dtypes == np.float32).all() and list(X.columns) == list(ref.columns) and X.index.equals(ref.index)
    assert np.array_equal(X.to_numpy(), ref.to_numpy(), equal_nan=True)                  # bit for bit
    assert np.array_equal(X.to_numpy(), compute_features(sample()).to_numpy().astype(np.float32), equal_nan=True)


def test_features_cli_on_mt5_export_with_progress(tmp_path):
    src = tmp_path / "SYNTH_H1.csv"
    to_mt5_csv(synthetic_ohlcv(600_000, seed=5), src)       # large enough to be chunked: a progress bar on stderr
    out = tmp_path / "f.parquet"
    r = run_module("novosky.features", src, "-o", out)
    assert r.returncode == 0, r.stderr
    assert "features:" in r.stderr and "chunk" in r.stderr     # tqdm progress bar
    X = pd.read_parquet(out)
    assert X.shape == (600_000, 59) and (X.dtypes == np.float32).all()
    bars = load(src, warn=False)
    ref = compute_features_chunked(bars, progress=False, dtype=np.float32)       # the same chunks, rounded once
    assert X.index.equals(ref.index) and np.array_equal(X.to_numpy(), ref.to_numpy(), equal_nan=True)
    one = compute_features(bars, dtype=np.float32)                             # one shot: within a float32 step
    assert np.allclose(X.to_numpy(), one.to_numpy(), rtol=2**-23, atol=1e-9, equal_nan=True)


def test_features_cli_bad_input(tmp_path):
    short = tmp_path / "short.csv"
    lines = (ROOT / "novosky/sample/EURUSD_H1.csv").read_text().splitlines()[:101]
    short.write_text("\n".join(lines) + "\n")
    r = run_module("novosky.features", short, "-o", tmp_path / "x.parquet")
    assert r.returncode == 1 and "too few bars: 100 given" in r.stderr and "Traceback" not in r.stderr
    r = run_module("novosky.features", tmp_path / "nope.csv", "-o", tmp_path / "x.parquet")
    assert r.returncode == 1 and "file not found" in r.stderr
