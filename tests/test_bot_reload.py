"""A running live bot picks up a new model set between bars (a registry pull swaps the folder), carries its open
positions on, and says so; a new set that fails its checks is refused once and the old one keeps serving."""
import json, shutil
from novosky.config import load_all
from novosky.data import sample
from novosky.chain import load_chain
from novosky.bot import Mt5Bot
from novosky.fake_mt5 import FakeMT5
from novosky.mt5 import Mt5Broker
from novosky.models import stage_set, commit_set, read_manifest, MANIFEST, set_digest
from conftest import ROOT


class Notes:
    def __init__(self): self.got = []
    def notify(self, kind, text): self.got.append((kind, text))
    def error(self, message): self.got.append(("error", message))
    def __getattr__(self, name): return lambda *a, **k: None


def reissue(models, corrupt=None):
    "Swap in the same models under a new manifest (a new digest), optionally with one artifact damaged afterwards."
    st = stage_set(models)
    man = read_manifest(st); man["models"]["signal"]["meta"]["reissued"] = man["models"]["signal"]["meta"].get("reissued", 0) + 1
    (st / MANIFEST).write_text(json.dumps(man, indent=1) + "\n")
    commit_set(st, models)
    if corrupt: p = models / corrupt; p.write_bytes(p.read_bytes()[:-10] + b"0123456789")


def test_a_new_set_is_served_from_the_next_bar_and_a_broken_one_refused(tmp_path):
    S = load_all()
    models = tmp_path / "models"; shutil.copytree(ROOT / "models", models)
    chain = load_chain(models, S.ml.features, S.config, sources=("onnx",))
    bars = sample()
    fake = FakeMT5(bars, S.symbol_spec, "EURUSD", start=2100, balance=S.config.backtest.initial_equity)
    conn = Mt5Broker(fake, "EURUSD", S.symbol_spec, magic=S.config.mt5.magic, sleep=lambda s: None).connect()
    notes = Notes()
    bot = Mt5Bot(S, chain, conn, tmp_path / "state.json", tmp_path / "bot.log", notifier=notes, paper=True, models_dir=models)
    for _ in range(300):
        assert bot.cycle(); fake.advance()
        if bot.engine.state.positions: break
    state, first = bot.engine.state, bot.chain
    reissue(models)
    assert bot.cycle(); fake.advance()
    assert bot.chain is not first and bot.driver.chain is bot.chain and bot.signals.chain is bot.chain
    assert bot.engine.state is state                                               # open positions and breakers carry on
    assert bot.watch.serving == set_digest(models)
    assert [k for k, _ in notes.got] == ["models"] and "served from bar" in notes.got[0][1]
    served = bot.chain
    reissue(models, corrupt="signal_lgb.onnx")
    for _ in range(3): assert bot.cycle(); fake.advance()                          # the bars go on, on the set that was serving
    assert bot.chain is served and [k for k, _ in notes.got] == ["models", "error"]  # refused once, not every bar
    log = (tmp_path / "bot.log").read_text()
    assert "was refused, still serving" in log and log.count("was refused") == 1
