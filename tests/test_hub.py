"""The model registry on a Hub-compatible server started here on loopback (there is no self-hostable Hub): push in one
commit, immutable tags, pulls by tag and latest approved, refused pulls that leave the installed set byte for byte,
offline pulls from the cache, no pickle ever pulled; and the command line."""
import dataclasses, json, os, shutil, sys, tempfile
from pathlib import Path
import pytest
from conftest import ROOT, run_module

# huggingface_hub reads these once, at import: set them before anything imports it.
_HF_HOME = tempfile.mkdtemp(prefix="novosky-hf-home-")
os.environ.update(HF_HUB_DISABLE_XET="1", HF_HUB_DISABLE_TELEMETRY="1", HF_HUB_DISABLE_PROGRESS_BARS="1", HF_HOME=_HF_HOME)
os.environ.pop("HF_ENDPOINT", None); os.environ.pop("HF_HUB_OFFLINE", None)

from fake_hub import FakeHub
from novosky.config import load_all
from novosky.models import MANIFEST, load_set, serving_set, sign_set, keygen
from novosky.hub import (HubRegistry, TagExistsError, PullRefused, HubError, installed, set_digest, SetWatch, approved_tag,
                         RELEASE, CARD, PULLED)

REPO = "novosky/eurusd-h1"


def snapshot(d):
    return {p.relative_to(d).as_posix(): p.read_bytes() for p in sorted(Path(d).rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def S(): return load_all(ROOT)


@pytest.fixture(scope="module")
def sets(tmp_path_factory):
    "Two research sets: the committed one, and the same models with a changed manifest (another set, another tag)."
    base = tmp_path_factory.mktemp("research")
    a = base / "a" / "models"; shutil.copytree(ROOT / "models", a)
    b = base / "b" / "models"; shutil.copytree(a, b)
    import hashlib, io, numpy as np
    oof = np.load(b / "signal.oof.npy", allow_pickle=False); oof["v"][0] = oof["v"][0] + 0.25    # an LFS file differs too
    buf = io.BytesIO(); np.save(buf, oof, allow_pickle=False); (b / "signal.oof.npy").write_bytes(buf.getvalue())
    man = json.loads((b / MANIFEST).read_bytes()); man["note"] = "second set"
    man["models"]["signal"]["artifacts"]["signal.oof.npy"] = hashlib.sha256(buf.getvalue()).hexdigest()
    (b / MANIFEST).write_text(json.dumps(man, indent=1))
    rep = base / "report"; (rep / "plots").mkdir(parents=True)
    (rep / "promotion.json").write_text(json.dumps({"verdict": "promote", "dsr": 0.9004, "pbo": 0.12, "spa_p": 0.03, "holdout_trades": 41}))
    (rep / "plots" / "equity.png").write_bytes(b"\x89PNG\r\n\x1a\n" + os.urandom(300))
    return a, b, rep


@pytest.fixture
def hub(monkeypatch):
    for v in ("HF_HUB_OFFLINE", "NOVOSKY_MODELS_PUBKEY", "NOVOSKY_REGISTRY"): monkeypatch.delenv(v, raising=False)
    with FakeHub() as h:
        monkeypatch.setenv("HF_TOKEN", h.token)
        yield h


@pytest.fixture
def reg(hub, tmp_path): return HubRegistry(REPO, endpoint=hub.url, cache_dir=tmp_path / "hf-cache")


def downloads(hub):
    return [p for m, p in hub.log if m in ("GET", "HEAD") and "/resolve/" in p]


def test_push_tag_pull_end_to_end(hub, reg, sets, S, tmp_path):
    a, _, rep = sets
    r = reg.push(a, S=S, report=rep, include_pickles=True)
    commits = [p for m, p in hub.log if m == "POST" and "/commit/" in p]
    assert len(commits) == 1, "a push is one commit"
    files = hub.repos[REPO].commits[r.commit]["files"]
    for f in ("signal_rf.onnx", "signal_rf.cal.json", "signal_rf.cal.pkl", MANIFEST, "risk_metadata.json", CARD, RELEASE,
              "promoted/config.json", "promoted/ml_config.json", "promoted/brokers.json", "report/promotion.json", "report/plots/equity.png"):
        assert f in files, f
    assert files["signal_rf.onnx"] == (a / "signal_rf.onnx").read_bytes()
    card = files[CARD].decode()
    assert "2017-09-29 10:00:00+00:00" in card and "| dsr | 0.9004 |" in card and "EURUSD H1" in card

    tag = reg.tag()                                                     # the newest commit on main
    assert tag == approved_tag(r.manifest_sha256) and hub.repos[REPO].tags == {tag: r.commit}
    with pytest.raises(TagExistsError, match="immutable"): reg.tag(tag, r.commit)
    assert [t.name for t in reg.tags()] == [tag]

    host = tmp_path / "host" / "models"
    p = reg.pull(latest=True, models_dir=host, S=S)
    assert p.changed and p.tag == tag and p.commit == r.commit
    assert not list(host.rglob("*.pkl")), "a pull never brings pickles"
    assert not [d for d in downloads(hub) if d.endswith(".pkl")], "a pull never downloads pickles"
    ms = load_set(host, S.ml.features)
    assert serving_set(host, ms) and set_digest(host) == set_digest(a)
    assert installed(host)["tag"] == tag and installed(host)["registry"] == reg.describe
    assert (host / "promoted" / "ml_config.json").read_bytes() == (ROOT / "ml_config.json").read_bytes()
    n = len(hub.log)
    assert not reg.pull(tag=tag, models_dir=host, S=S).changed        # installed and intact: nothing fetched
    assert not [q for m, q in hub.log[n:] if "/resolve/" in q], "nothing downloaded again"

    # the chain loads from the pulled set through ONNX
    from novosky.chain import load_chain
    chain = load_chain(host, S.ml.features, S.config)
    assert set(chain.signal.source.values()) == {"onnx"}


def test_latest_approved_rollback_and_stale_files(hub, reg, sets, S, tmp_path):
    a, b, _ = sets
    r1 = reg.push(a, S=S, include_pickles=True, tag="auto")
    r2 = reg.push(b, S=S, tag=True)                                    # without pickles: the old ones are deleted
    assert r1.tag != r2.tag and r2.tag == approved_tag(r2.manifest_sha256)
    tree = hub.repos[REPO].commits[r2.commit]["files"]
    assert not [f for f in tree if f.endswith(".pkl")], "the tree of a commit is exactly one set"
    assert [t.name for t in reg.tags()] == [r2.tag, r1.tag] and reg.latest_approved().name == r2.tag
    host = tmp_path / "models"
    reg.pull(latest=True, models_dir=host, S=S)
    w = SetWatch(host)
    assert json.loads((host / MANIFEST).read_bytes())["note"] == "second set"
    p = reg.pull(tag=r1.tag, models_dir=host, S=S)                     # roll back
    assert p.changed and installed(host)["tag"] == r1.tag and "note" not in json.loads((host / MANIFEST).read_bytes())
    assert w.changed() and w.pending() == set_digest(host)
    with pytest.raises(HubError, match="has no tag 'approved-1999w01-00000000'"):
        reg.pull(tag="approved-1999w01-00000000", models_dir=host, S=S)
    with pytest.raises(HubError, match="must start the sha256"): reg.tag(f"approved-2026w01-{'0' * 8}", r1.commit)


@pytest.mark.parametrize("fault", ["corrupt", "short", "missing"])
@pytest.mark.parametrize("victim", ["signal.oof.npy", MANIFEST])          # an LFS file, a regular one
def test_damaged_or_partial_download_leaves_the_installed_set(hub, reg, sets, S, tmp_path, fault, victim):
    a, b, _ = sets
    r1 = reg.push(a, S=S, tag=True); r2 = reg.push(b, S=S, tag=True)
    host = tmp_path / "models"
    reg.pull(tag=r1.tag, models_dir=host, S=S)
    before = snapshot(host)
    hub.faults[victim] = fault
    with pytest.raises(HubError) as e: reg.pull(tag=r2.tag, models_dir=host, S=S)
    print(e.value)
    assert victim in str(e.value)
    assert snapshot(host) == before, "the installed set is byte for byte unchanged"
    assert sorted(p.name for p in host.parent.iterdir()) == ["hf-cache", "models"], "no staging folder left behind"
    del hub.faults[victim]                                  # the damage was on the way: the next pull works
    assert reg.pull(tag=r2.tag, models_dir=host, S=S).changed
    assert load_set(host, S.ml.features) and installed(host)["tag"] == r2.tag


def test_tampered_registry_is_refused(hub, reg, sets, S, tmp_path):
    "A file changed in the registry itself (the same bytes served every time): refused, after one fresh download."
    a, _, _ = sets
    r = reg.push(a, S=S, tag=True)
    files = hub.repos[REPO].commits[r.commit]["files"]
    files["signal_lgb.cal.json"] = files["signal_lgb.cal.json"].replace(b'"method"', b'"method" ')
    with pytest.raises(PullRefused, match="signal_lgb.cal.json: sha256"): reg.pull(tag=r.tag, models_dir=tmp_path / "models", S=S)
    assert not (tmp_path / "models").exists()
    assert sum(p.endswith("/signal_lgb.cal.json") for m, p in hub.log if m == "GET") == 2, "fetched once more, then refused"


def test_feature_hash_mismatch_is_refused(hub, reg, sets, S, tmp_path):
    a, b, _ = sets
    reg.push(a, S=S, tag=True); r2 = reg.push(b, S=S, tag=True)
    host = tmp_path / "models"
    reg.pull(tag=reg.tags()[1].name, models_dir=host, S=S)
    before = snapshot(host)
    renamed = ["ret_one" if f == "ret_1" else f for f in S.ml.features]
    S2 = dataclasses.replace(S, ml=dataclasses.replace(S.ml, features=renamed))
    with pytest.raises(PullRefused) as e: reg.pull(tag=r2.tag, models_dir=host, S=S2)
    msg = str(e.value)
    assert "another feature list" in msg and "ret_one" in msg and "promoted/ml_config.json" in msg and "unchanged" in msg
    assert snapshot(host) == before


def test_signature_required_by_the_host(hub, reg, sets, S, tmp_path, monkeypatch):
    a, _, _ = sets
    key = tmp_path / "keys" / "models.key"; pub = keygen(key)
    r = reg.push(a, S=S, tag=True)                                    # unsigned
    monkeypatch.setenv("NOVOSKY_MODELS_PUBKEY", str(pub))
    with pytest.raises(PullRefused, match="not signed"): reg.pull(tag=r.tag, models_dir=tmp_path / "models", S=S)
    signed = tmp_path / "signed" / "models"; shutil.copytree(a, signed); sign_set(signed, key)
    r2 = reg.push(signed, S=S, tag="signed-set")
    p = reg.pull(tag=r2.tag, models_dir=tmp_path / "models", S=S)
    assert p.changed and "signature valid" in p.note and (tmp_path / "models" / "model_compat.sig").is_file()


def test_offline_serves_the_cache(hub, reg, sets, S, tmp_path, monkeypatch):
    a, b, _ = sets
    r1 = reg.push(a, S=S, tag=True); r2 = reg.push(b, S=S, tag=True)
    host = tmp_path / "models"
    reg.pull(tag=r2.tag, models_dir=host, S=S); reg.pull(tag=r1.tag, models_dir=host, S=S)     # both now in the cache
    n = len(hub.log)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    p = reg.pull(latest=True, models_dir=host, S=S)
    assert not p.changed and "offline" in p.note and r1.tag in p.note and "cannot be known offline" in p.note
    p = reg.pull(tag=r2.tag, models_dir=host, S=S)                    # from the cache, verified as ever
    assert p.changed and installed(host)["tag"] == r2.tag and "from the local cache" in p.note
    other = tmp_path / "other-cache"
    before = snapshot(host)
    with pytest.raises(HubError, match="not in the local download cache"):
        HubRegistry(REPO, endpoint=hub.url, cache_dir=other).pull(tag=r1.tag, models_dir=host, S=S)
    assert snapshot(host) == before
    assert len(hub.log) == n, "offline: the server was not asked anything"


def test_token_only_from_hf_token(hub, reg, sets, S, monkeypatch, tmp_path):
    a, _, _ = sets
    (Path(_HF_HOME) / "token").write_text(hub.token)                  # a stored login: never used
    monkeypatch.delenv("HF_TOKEN")
    monkeypatch.setenv("NOVOSKY_HOME", str(tmp_path))                  # no .env there
    with pytest.raises(HubError, match="HF_TOKEN is not set"): reg.push(a, S=S)
    monkeypatch.setenv("HF_TOKEN", "hf_wrong")
    with pytest.raises(HubError, match="HF_TOKEN"): reg.push(a, S=S)
    assert not any(m == "POST" and "/commit/" in p for m, p in hub.log)


def test_command_line(hub, sets, tmp_path, monkeypatch, capsys):
    "push and pull as a user runs them (subprocesses); the other commands and the errors in-process."
    from novosky.hub import main
    a, _, rep = sets
    env = {"HF_TOKEN": hub.token, "HF_HUB_DISABLE_XET": "1", "HF_HUB_DISABLE_PROGRESS_BARS": "1", "HF_HOME": _HF_HOME,
           "NOVOSKY_HOME": str(ROOT)}
    where = ["--repo", REPO, "--endpoint", hub.url, "--cache-dir", str(tmp_path / "cache")]
    host = tmp_path / "models"
    r = run_module("novosky.hub", "push", *where, "--models-dir", a, "--report", rep, "--tag", env=env)
    assert r.returncode == 0 and "pushed" in r.stdout and "tagged approved-" in r.stdout, r.stderr
    r = run_module("novosky.hub", "pull", *where, "--latest-approved", "--models-dir", host, env=env)
    assert r.returncode == 0 and "pulled approved-" in r.stdout, r.stderr
    assert not list(host.glob("*.pkl")) and installed(host)["tag"].startswith("approved-")

    def cli(*args):
        code = main(list(map(str, args))); out = capsys.readouterr(); return code, out.out, out.err
    with pytest.raises(SystemExit) as e: main(["--help"])
    assert e.value.code == 0 and "pull" in capsys.readouterr().out
    code, out, _ = cli("tags", *where)
    assert code == 0 and "(latest approved)" in out
    tag = out.split()[0]
    code, _, err = cli("tag", *where, tag)
    assert code == 1 and "already exists" in err
    code, out, _ = cli("pull", *where, "--tag", tag, "--models-dir", host)
    assert code == 0 and "already installed" in out
    code, _, err = cli("pull", *where, "--tag", "nope", "--models-dir", host)
    assert code == 1 and "has no tag 'nope'" in err
    code, _, err = cli("pull", "--repo", "bad repo", "--latest-approved")
    assert code == 1 and "expected ORG/NAME" in err
    with pytest.raises(SystemExit) as e: main(["pull", *where])
    assert e.value.code == 2 and "--tag" in capsys.readouterr().err
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    code, out, _ = cli("pull", *where, "--latest-approved", "--models-dir", host)
    assert code == 0 and "offline" in out and tag in out


def test_client_lane_pulls_from_the_local_registry(sets, S, tmp_path):
    "Without the training stack (as on a trading host): pull from a local registry, then the chain loads through ONNX."
    import subprocess, textwrap
    from conftest import CLIENT_LANE_BLOCK
    from novosky.hub import LocalRegistry
    a, _, _ = sets
    r = LocalRegistry(tmp_path / "registry").push(a, S=S, tag=True)
    host = tmp_path / "host" / "models"
    code = CLIENT_LANE_BLOCK + textwrap.dedent(f"""
        import json
        from novosky.hub import main
        assert main(["pull", "--local", {str(tmp_path / 'registry')!r}, "--latest-approved", "--models-dir", {str(host)!r}]) == 0
        from novosky.config import load_all
        from novosky.chain import load_chain
        S = load_all()
        c = load_chain({str(host)!r}, S.ml.features, S.config)
        print(json.dumps({{"sources": c.signal.source, "hf": "huggingface_hub" in sys.modules}}))
    """)
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120,
                       env={**os.environ, "NOVOSKY_HOME": str(ROOT)})
    assert p.returncode == 0, p.stderr
    out = json.loads(p.stdout.strip().splitlines()[-1])
    assert f"pulled {r.tag}" in p.stdout and set(out["sources"].values()) == {"onnx"}
    assert not out["hf"], "a local pull does not import huggingface_hub"
