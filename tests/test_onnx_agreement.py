"""ONNX vs native agreement on a large batch (the float32-threshold trap shows on a handful of rows per million)."""
import numpy as np
import pytest


@pytest.fixture(scope="module")
def data():
    from novosky.config import load_ml_config
    from novosky.data import sample, synthetic_ohlcv
    from novosky.features import compute_features
    from novosky.labels import make_labels
    from novosky.models import assemble
    bars = sample(); F = compute_features(bars); L = make_labels(bars)
    A = assemble(F, L.label.where(L.usable), L.usable)
    big = compute_features(synthetic_ohlcv(400_000, seed=3)).dropna().to_numpy(np.float32)
    return load_ml_config(), A, big


@pytest.mark.parametrize("kind", ["rf", "xgb", "lgb"])
def test_classifier_members_agree_on_400k_rows(data, kind):
    from novosky.models import make_estimator, snap_thresholds, to_onnx_bytes, verify_onnx
    ml, A, big = data
    m = snap_thresholds(make_estimator(kind, ml.training).fit(A.is_.X, A.is_.y))
    worst = verify_onnx(m, to_onnx_bytes(m, big.shape[1]), big, tol=1e-5)
    assert worst < 1e-5


@pytest.mark.parametrize("kind", ["lgb", "xgb"])
def test_regressors_agree_on_400k_rows(data, kind):
    from novosky.models import make_estimator, snap_thresholds, to_onnx_bytes, verify_onnx
    ml, A, big = data
    y = np.abs(A.is_.X[:, 7]) * 1000                                   # any smooth target
    m = snap_thresholds(make_estimator(kind, ml.training, task="regressor").fit(A.is_.X, y))
    assert verify_onnx(m, to_onnx_bytes(m, big.shape[1]), big, tol=1e-4 * float(np.abs(y).max())) >= 0


def test_unsnapped_lightgbm_shows_the_trap(data):
    "Without snapping, LightGBM's ONNX copy disagrees on some rows: the check must catch it, not hide it."
    from novosky.models import make_estimator, to_onnx_bytes, verify_onnx, ExportError
    ml, A, big = data
    m = make_estimator("lgb", ml.training).fit(A.is_.X, A.is_.y)
    with pytest.raises(ExportError, match="disagrees with the native model"):
        verify_onnx(m, to_onnx_bytes(m, big.shape[1]), big, tol=1e-5)
