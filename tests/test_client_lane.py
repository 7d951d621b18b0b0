"""The client lane: a trading host without scikit-learn, LightGBM, XGBoost or SHAP loads the models through ONNX."""
import json, subprocess, sys, textwrap
import numpy as np
import pytest
from conftest import ROOT, CLIENT_LANE_BLOCK as BLOCK


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    from novosky.config import load_ml_config
    from novosky.data import sample
    from novosky.features import compute_features
    from novosky.labels import make_labels
    from novosky.models import assemble
    from novosky.signal import SignalTrainer
    from novosky.position import PositionTrainer
    from novosky.sltp import SltpTrainer
    d = tmp_path_factory.mktemp("models")
    ml = load_ml_config()
    bars = sample(); F = compute_features(bars); L = make_labels(bars)
    A = assemble(F, L.label.where(L.usable), L.usable)
    SignalTrainer(ml).fit(A, F).save(d, A.is_.X)
    PositionTrainer(ml).fit(bars, F, L, d).save(d)
    SltpTrainer(ml).fit(bars, F, d).save(d)
    np.save(d / "oos_rows.npy", A.oos.X[:500])
    return d




def test_models_load_through_onnx_without_the_training_stack(trained):
    from novosky.signal import SignalPredictor
    from novosky.sltp import SltpPredictor, entry_rows
    X = np.load(trained / "oos_rows.npy")
    full = SignalPredictor(trained).predict(X)
    sl_full, tp_full = SltpPredictor(trained).predict(entry_rows(X, np.ones(len(X)), full.confidence, full.agreement))
    code = BLOCK + textwrap.dedent(f"""
        import json, numpy as np
        from novosky.signal import SignalPredictor
        from novosky.position import PositionPredictor, STATE_FEATURES
        from novosky.sltp import SltpPredictor, entry_rows
        X = np.load({str(trained / 'oos_rows.npy')!r})
        sp = SignalPredictor({str(trained)!r}, sources=("calibrated-pickle", "onnx")); o = sp.predict(X)   # a pickle asked first
        pp = PositionPredictor({str(trained)!r})
        p = pp.predict_proba(np.hstack([X, np.zeros((len(X), len(STATE_FEATURES)), np.float32)]))
        tp = SltpPredictor({str(trained)!r}); s, t = tp.predict(entry_rows(X, np.ones(len(X)), o.confidence, o.agreement))
        print(json.dumps({{"sources": sp.source, "pos": pp.source, "sltp": tp.source, "tried": sp.predictors["rf"].tried,
                          "probs": o.probs.tolist(), "sl": s.tolist(), "tp": t.tolist()}}))
    """)
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout.strip().splitlines()[-1])
    assert set(out["sources"].values()) == {"onnx"} and out["pos"] == "onnx" and set(out["sltp"].values()) == {"onnx"}
    assert "calibrated-pickle" in out["tried"][0] and "blocked" in out["tried"][0]
    np.testing.assert_allclose(np.array(out["probs"]), full.probs, atol=1e-5, rtol=0)
    np.testing.assert_allclose(np.array(out["sl"]), sl_full, atol=1e-5, rtol=0)
    np.testing.assert_allclose(np.array(out["tp"]), tp_full, atol=1e-5, rtol=0)


def test_renamed_feature_fails_the_gate_from_the_config_file(trained, tmp_path):
    "A feature renamed in ml_config.json stops every predictor at load, with both hashes and the fix."
    from novosky.models import ModelCompatibilityError
    from novosky.config import load_ml_config, feature_hash
    from novosky.signal import SignalPredictor
    ml = json.loads((ROOT / "ml_config.json").read_text())
    ml["features"][0] = "ret_one"
    (tmp_path / "ml_config.json").write_text(json.dumps(ml))
    feats = load_ml_config(tmp_path / "ml_config.json").features
    with pytest.raises(ModelCompatibilityError) as e:
        SignalPredictor(trained, feats)
    msg = str(e.value)
    assert feature_hash(feats) in msg and "Retrain all four models" in msg and "ret_one" in msg


def test_a_host_requiring_signatures_without_the_signing_extra_refuses_every_set(tmp_path):
    "Fail closed: with a public key configured and no `cryptography` (the lean install without [signing]), no set loads."
    import subprocess, sys, textwrap
    from novosky.models import keygen
    keygen(tmp_path / "k.key"); pub = next(tmp_path.glob("*.pub"))
    code = BLOCK.replace('"telegram"}', '"telegram", "cryptography"}') + textwrap.dedent(f"""
        import os
        os.environ["NOVOSKY_MODELS_PUBKEY"] = {str(pub)!r}
        from novosky.models import load_set, ModelSignatureError
        try: load_set({str(ROOT / "models")!r})
        except ModelSignatureError as e: print("REFUSED:", e)
        else: print("LOADED")
    """)
    r = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("REFUSED:") and "novosky[signing]" in r.stdout and "NOVOSKY_MODELS_PUBKEY" in r.stdout, r.stdout
