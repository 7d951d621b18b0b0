"""Model sets survive failures, are verified whole, can be signed, and are never unpickled on the client lane.

Every test works on a temporary copy of the committed `models/` folder; the committed folder is never written.
"""
import hashlib, json, os, pickle, random, shutil, signal, subprocess, sys, textwrap, time
from pathlib import Path
import pytest
from conftest import ROOT, run_module, CLIENT_LANE_BLOCK as BLOCK
from novosky.models import (MANIFEST, SIGNATURE, PUBKEY_ENV, ModelIntegrityError, ModelSignatureError, keygen, load_set,
                            sign_set, check_compat, stage_set, discard_set, model_digest)



def copy_set(dst: Path) -> Path:
    shutil.copytree(ROOT / "models", dst)
    return dst


def snapshot(d: Path) -> dict:
    "Every file under d (relative path -> sha256): the whole folder, byte for byte."
    return {str(p.relative_to(d)): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(d.rglob("*")) if p.is_file()}


def debris(d: Path) -> list:
    return sorted(p.name for p in d.parent.iterdir() if p.name.startswith(d.name + ".staging-") or p.name.startswith(d.name + ".retired-"))


def vouch(d: Path, rel: str, data: bytes):
    "What an attacker who can write the folder does: replace an artifact and make the manifest vouch for it (the\n"\
    "dependent models' `requires` digests too, so nothing looks stale)."
    (d / rel).write_bytes(data)
    man = json.loads((d / MANIFEST).read_bytes())
    for m in man["models"].values():
        if rel in m["artifacts"]: m["artifacts"][rel] = hashlib.sha256(data).hexdigest()
    for m in man["models"].values():
        m["requires"] = {pre: model_digest(man, pre) for pre in m.get("requires", {})}
    (d / MANIFEST).write_text(json.dumps(man, indent=1) + "\n")


class Marker:
    "Unpickling this creates a file (a crafted pickle could as well run any command)."
    def __init__(self, path): self.path = str(path)
    def __reduce__(self): return (open, (self.path, "w"))


# ---- 1. no failure costs the last good set ------------------------------------------------------------------------

@pytest.mark.slow
def test_killed_train_keeps_the_previous_set(tmp_path):
    "SIGKILL `python -m novosky.train --models-dir D` at random times: D stays the previous set, byte for byte, loadable;\n"\
    "the next successful run leaves no staging debris."
    d = copy_set(tmp_path / "models")
    (d / "NOTE.txt").write_text("a file the set does not list")
    t0 = time.monotonic()
    r = run_module("novosky.train", "--models-dir", d)
    took = time.monotonic() - t0
    assert r.returncode == 0, r.stderr
    assert debris(d) == [] and (d / "NOTE.txt").read_text() == "a file the set does not list"
    before = snapshot(d)
    rng = random.Random(20240611)
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    killed = 0
    for lo, hi in ((0.03, 0.45), (0.45, 0.88)):           # one kill while the steps run, one late (near or in the swap)
        at = rng.uniform(lo, hi) * took
        log = tmp_path / f"kill-{killed}.log"
        with open(log, "w") as out:
            p = subprocess.Popen([sys.executable, "-m", "novosky.train", "--models-dir", str(d)], cwd=ROOT, env=env,
                                 stdout=out, stderr=subprocess.STDOUT)
            time.sleep(at)
            p.send_signal(signal.SIGKILL); p.wait()
        killed += 1
        committed = "swapped into" in log.read_text()
        load_set(d)                                          # whole and verified (an interrupted swap is undone first)
        if committed: before = snapshot(d)                   # the run got past its commit point before the kill
        else: assert snapshot(d) == before, f"killed at {at:.1f} s of {took:.1f} s: the previous set changed"
    assert debris(d), "the kills should have left staging folders behind"
    r = run_module("novosky.train", "--models-dir", d)
    assert r.returncode == 0, r.stderr
    assert debris(d) == [], "staging debris left after a successful run"
    load_set(d)
    assert (d / "NOTE.txt").read_text() == "a file the set does not list"


KILL_IN_SWAP = textwrap.dedent("""
    import os, signal, sys
    from novosky import models as M
    d, n = sys.argv[1], int(sys.argv[2])
    s = M.stage_set(d)
    (s / "NEW.txt").write_text("new")
    real, done = os.rename, []
    def rename(a, b):
        if n == 0: os.kill(os.getpid(), signal.SIGKILL)
        real(a, b); done.append(b)
        if len(done) == n: os.kill(os.getpid(), signal.SIGKILL)
    os.rename = rename
    M.commit_set(s, d)
""")


@pytest.mark.parametrize("renames", [0, 1, 2])
def test_killed_inside_the_swap(tmp_path, renames):
    "Killed before, between or after the swap's two renames: a load resolves D to one whole set; the next run cleans up."
    d = copy_set(tmp_path / "models")
    before = snapshot(d)
    r = subprocess.run([sys.executable, "-c", KILL_IN_SWAP, str(d), str(renames)], cwd=ROOT, capture_output=True, text=True)
    assert r.returncode == -signal.SIGKILL, r.stderr
    assert debris(d), "the kill should have left a staging or retired folder"
    load_set(d)
    if renames < 2: assert snapshot(d) == before                      # before the commit point: the previous set
    else: assert (d / "NEW.txt").read_text() == "new"                 # after it: the new set
    discard_set(stage_set(d))                                         # what the next training run does first
    assert debris(d) == []


def test_failed_train_leaves_the_set_and_no_debris(tmp_path):
    from novosky.train import train
    d = copy_set(tmp_path / "models")
    before = snapshot(d)
    def power_cut(msg):
        if msg.startswith("sltp: done"): raise RuntimeError("power cut")
    with pytest.raises(RuntimeError, match="power cut"):
        train(models_dir=d, steps=["sltp"], log=power_cut)
    assert snapshot(d) == before and sorted(p.name for p in tmp_path.iterdir()) == ["models"]
    def ctrl_c(msg):
        if msg.startswith("sltp: done"): raise KeyboardInterrupt
    with pytest.raises(KeyboardInterrupt):
        train(models_dir=d, steps=["sltp"], log=ctrl_c)
    assert snapshot(d) == before and sorted(p.name for p in tmp_path.iterdir()) == ["models"]


def test_failed_train_into_a_new_folder_leaves_no_folder(tmp_path):
    r = run_module("novosky.train", "--models-dir", tmp_path / "new" / "set", "--steps", "position")
    assert r.returncode == 1 and f"missing from {tmp_path / 'new' / 'set'};" in r.stderr and "staging" not in r.stderr
    assert list(tmp_path.iterdir()) == []


# ---- 2./3. verified whole, each file read once --------------------------------------------------------------------

def test_a_damaged_onnx_is_refused_while_a_pickle_would_serve(tmp_path):
    from novosky.signal import SignalPredictor
    d = copy_set(tmp_path / "models")
    b = (d / "signal_rf.onnx").read_bytes()
    (d / "signal_rf.onnx").write_bytes(b[:-1] + bytes([b[-1] ^ 1]))
    assert SignalPredictor(d, sources=("calibrated-pickle", "onnx")).source["rf"] == "calibrated-pickle"   # that link alone would not notice
    with pytest.raises(ModelIntegrityError, match="signal_rf.onnx"):
        load_set(d)
    r = run_module("novosky.models", "verify", "--models-dir", d)
    assert r.returncode == 1 and "is damaged" in r.stderr and "signal_rf.onnx" in r.stderr


def test_predictor_reads_each_artifact_once(tmp_path, monkeypatch):
    "With a ModelSet the chain opens no artifact again; without one it reads each artifact it loads once."
    from novosky.models import Predictor
    from novosky.config import load_ml_config
    d, features = copy_set(tmp_path / "models"), load_ml_config().features
    monkeypatch.delenv(PUBKEY_ENV, raising=False)
    reads = []
    real = Path.read_bytes
    monkeypatch.setattr(Path, "read_bytes", lambda self: (reads.append(self.name), real(self))[1])
    ms = load_set(d, features)
    arts = [rel for m in ms["models"].values() for rel in m["artifacts"]]
    assert sorted(reads) == sorted([MANIFEST] + arts)
    reads.clear()
    Predictor(d, "signal_rf", features, manifest=ms)
    assert reads == []
    Predictor(d, "signal_rf", features, sources=("onnx",))
    assert sorted(reads) == sorted([MANIFEST, "signal_rf.cal.json", "signal_rf.onnx"])


# ---- 4. signed sets -----------------------------------------------------------------------------------------------

@pytest.fixture
def keys(tmp_path):
    k = tmp_path / "keys"
    return {"good": keygen(k / "models.key"), "other": keygen(k / "other.key"), "dir": k}


def test_signed_sets(tmp_path, keys, monkeypatch):
    d = copy_set(tmp_path / "models")
    monkeypatch.delenv(PUBKEY_ENV, raising=False)
    load_set(d)                                                          # no key configured: unsigned loads as today
    with pytest.raises(ModelSignatureError, match="is not signed"):
        load_set(d, public_key=keys["good"])
    sign_set(d, keys["dir"] / "models.key")
    assert load_set(d, public_key=keys["good"])["models"]               # good signature
    monkeypatch.setenv(PUBKEY_ENV, str(keys["good"]))
    load_set(d)                                                          # the environment variable as the fallback
    with pytest.raises(ModelSignatureError, match="signed with another key"):
        load_set(d, public_key=keys["other"])                            # the argument wins over the variable
    good = snapshot(d)

    m = (d / MANIFEST).read_bytes()                                      # manifest changed after signing
    (d / MANIFEST).write_bytes(m.replace(b'"updated": "', b'"updated": "1', 1))
    with pytest.raises(ModelSignatureError, match="was changed after the set was signed") as e:
        load_set(d)
    assert str(d) in str(e.value) and "git checkout" in str(e.value)
    (d / MANIFEST).write_bytes(m)

    vouch(d, "signal_rf.onnx", b"not the model")                         # artifact + manifest rewritten by an attacker
    with pytest.raises(ModelSignatureError, match="was changed after the set was signed"):
        load_set(d)
    from novosky.models import signing_key
    sign_set(d, signing_key(keys["dir"] / "other.key"))                  # ... and re-signed with the attacker's key
    with pytest.raises(ModelSignatureError, match="signed with another key"):
        load_set(d)
    (d / SIGNATURE).unlink()                                             # ... or the signature removed
    with pytest.raises(ModelSignatureError, match="is not signed") as e:
        load_set(d)
    assert "python -m novosky.models sign" in str(e.value)
    (d / SIGNATURE).write_text("{}")                                     # ... or garbage in its place
    with pytest.raises(ModelSignatureError, match="not a readable signature"):
        load_set(d)
    monkeypatch.setenv(PUBKEY_ENV, str(keys["dir"] / "typo.pub"))       # a configured key that cannot be read refuses
    with pytest.raises(ModelSignatureError, match="cannot be read"):
        check_compat(d)
    monkeypatch.setenv(PUBKEY_ENV, keys["good"].read_text())             # the variable may hold the PEM text itself
    shutil.rmtree(d); copy_set(d); sign_set(d, keys["dir"] / "models.key")
    assert snapshot(d) == good
    load_set(d)


def test_signing_from_the_command_line(tmp_path):
    d = copy_set(tmp_path / "models")
    key = tmp_path / "k" / "models.key"
    r = run_module("novosky.models", "keygen", "--out", key)
    assert r.returncode == 0 and (key.stat().st_mode & 0o777) == 0o600 and "BEGIN PUBLIC KEY" in r.stdout
    assert run_module("novosky.models", "keygen", "--out", key).returncode == 1        # never overwrites a key
    r = run_module("novosky.models", "sign", "--models-dir", d, "--key", key)
    assert r.returncode == 0 and (d / SIGNATURE).is_file()
    r = run_module("novosky.models", "verify", "--models-dir", d, "--public-key", f"{key}.pub")
    assert r.returncode == 0 and "signature valid" in r.stdout
    r = run_module("novosky.models", "verify", "--models-dir", d, env={PUBKEY_ENV: ""})
    assert r.returncode == 0 and "signature not checked" in r.stdout
    (d / MANIFEST).write_bytes((d / MANIFEST).read_bytes() + b"\n")
    r = run_module("novosky.backtest", "--models-dir", d, "--no-baselines", "--no-progress", env={PUBKEY_ENV: f"{key}.pub"})
    assert r.returncode == 1 and "changed after the set was signed" in r.stderr and "Traceback" not in r.stderr


def test_train_signs_the_new_set(tmp_path, keys):
    d = copy_set(tmp_path / "models")
    r = run_module("novosky.train", "--models-dir", d, "--steps", "sltp", "--sign-key", keys["dir"] / "models.key",
                   env={PUBKEY_ENV: str(keys["good"])})                  # training inside the staging folder is not blocked
    assert r.returncode == 0, r.stderr
    load_set(d, public_key=keys["good"])
    assert debris(d) == []
    r = run_module("novosky.train", "--models-dir", d, "--steps", "sltp")
    assert r.returncode == 0 and "was signed and the new one is not" in r.stdout
    assert not (d / SIGNATURE).exists()


# ---- 5. the client lane never unpickles ---------------------------------------------------------------------------

def test_client_lane_never_unpickles_a_crafted_pickle(tmp_path):
    d = copy_set(tmp_path / "models")
    marker = tmp_path / "pickle-ran"
    evil = pickle.dumps(Marker(marker))
    for m in ("rf", "xgb", "lgb"):
        for kind in ("cal", "raw"): vouch(d, f"signal_{m}.{kind}.pkl", evil)
    for rel in ("sltp_sl.cal.pkl", "sltp_sl.raw.pkl"): vouch(d, rel, evil)
    load_set(d)                                                          # the manifest vouches for every file
    code = BLOCK + textwrap.dedent(f"""
        import json
        from novosky.config import load_all
        from novosky.backtest import load_chain
        from novosky.models import Predictor
        S = load_all()
        chain = load_chain({str(d)!r}, S.ml.features, S.config)
        p = Predictor({str(d)!r}, "signal_rf", sources=("calibrated-pickle", "onnx", "raw-pickle"))   # pickles asked first
        print(json.dumps({{"sources": chain.sources, "tried": p.tried}}))
    """)
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout.strip().splitlines()[-1])
    assert set(out["sources"]["signal"].values()) == {"onnx"} and set(out["sources"]["sltp"].values()) == {"onnx"}
    assert out["tried"][0].startswith("calibrated-pickle: not unpickled") and "blocked" in out["tried"][0]
    assert not marker.exists(), "a pickle was loaded on the client lane"
    from novosky.models import Predictor                                  # asked for ONNX only, on this (research) host
    assert Predictor(d, "signal_rf", sources=("onnx",)).source == "onnx" and not marker.exists()


def test_research_lane_with_a_key_refuses_the_crafted_set_before_unpickling(tmp_path, keys, monkeypatch):
    from novosky.signal import SignalPredictor
    d = copy_set(tmp_path / "models")
    sign_set(d, keys["dir"] / "models.key")
    marker = tmp_path / "pickle-ran"
    vouch(d, "signal_rf.cal.pkl", pickle.dumps(Marker(marker)))
    monkeypatch.setenv(PUBKEY_ENV, str(keys["good"]))
    with pytest.raises(ModelSignatureError, match="changed after the set was signed"):
        SignalPredictor(d)
    assert not marker.exists()


def test_no_private_key_is_tracked():
    "Signing keys stay out of git: no tracked file holds a private key."
    files = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True).stdout.split()
    for f in files:
        p = ROOT / f
        if p.is_file() and p.suffix not in (".onnx", ".pkl", ".npy", ".parquet", ".png"):
            assert b"PRIVATE " + b"KEY-----" not in p.read_bytes(), f"{f} holds a private key"   # (split: not to match itself)
