"""Fuzzing the three config files: whatever a file holds, loading it either gives a config whose numbers are all
finite or raises a `ConfigError` that names the file — never another exception, never a NaN that slips through."""
import dataclasses, json, math
from pathlib import Path
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st
from novosky.config import ConfigError, load_all

ROOT = Path(__file__).resolve().parent.parent
FILES = ("config.json", "ml_config.json", "config/brokers.json")
ORIGINAL = {f: json.loads((ROOT / f).read_text()) for f in FILES}

# JSON text Python's json module reads as a non-finite or extreme number (NaN/Infinity are not JSON, json reads them anyway)
RAW = ("NaN", "Infinity", "-Infinity", "1e999", "-1e999", "1E+400", "1e-999", "-0", "1" + "0" * 400, "1" * 5000)
scalars = (st.none() | st.booleans() | st.integers() | st.integers(-2**70, 2**70)
           | st.floats(allow_nan=True, allow_infinity=True) | st.sampled_from([0, -1, 0.5, 1e308, -1e308, 2**31, 2**63])
           | st.text(max_size=12) | st.sampled_from(["", "NaN", "inf", "london", "EURUSD", "sqlite"])
           | st.sampled_from(RAW).map(lambda r: ("raw", r)))
values = st.recursive(scalars, lambda kids: st.lists(kids, max_size=3) | st.dictionaries(st.text(max_size=6), kids, max_size=3),
                      max_leaves=6)
nonfinite = (st.sampled_from(["NaN", "Infinity", "-Infinity", "1e999", "-1e999"]).map(lambda r: ("raw", r))
             | st.sampled_from([math.nan, math.inf, -math.inf]))
extreme = (nonfinite | nonfinite | nonfinite | st.sampled_from(RAW).map(lambda r: ("raw", r)) | st.sampled_from([1e308, -1e308, 5e-324, -0.0])
           | st.integers(-10**30, 10**30) | st.floats(-1e6, 1e6))        # for numeric leaves

def paths(node, at=()):
    "Every key path in a JSON document (dict keys and list positions)."
    out = []
    items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
    for k, v in items: out += [at + (k,)] + paths(v, at + (k,))
    return out

def get(doc, path):
    for k in path: doc = doc[k]
    return doc

def to_text(doc):
    "JSON text of `doc`; ('raw', text) leaves are written as that literal text."
    raws = []
    def enc(v):
        if isinstance(v, tuple) and len(v) == 2 and v[0] == "raw": raws.append(v[1]); return f"@@RAW{len(raws) - 1}@@"
        if isinstance(v, dict): return {k: enc(x) for k, x in v.items()}
        if isinstance(v, list): return [enc(x) for x in v]
        return v
    text = json.dumps(enc(doc), indent=1)            # allow_nan: NaN/Infinity written as json.dumps writes them
    for i, r in enumerate(raws): text = text.replace(f'"@@RAW{i}@@"', r)
    return text

@st.composite
def mutated(draw):
    "(file name, its mutated text): numbers made extreme, values replaced at random key paths, keys dropped or added,\n"\
    "the text truncated."
    name = draw(st.sampled_from(FILES))
    doc = json.loads(json.dumps(ORIGINAL[name]))
    if draw(st.booleans()):                          # one extreme number and nothing else: the file is otherwise valid
        nums = [p for p in paths(doc) if isinstance(get(doc, p), (int, float)) and not isinstance(get(doc, p), bool)]
        p = draw(st.sampled_from(nums)); get(doc, p[:-1])[p[-1]] = draw(extreme)
        return name, to_text(doc)
    for _ in range(draw(st.integers(1, 3))):
        ps = paths(doc)
        kind = draw(st.sampled_from(["number", "number", "replace", "replace", "drop", "add"]))
        nums = [p for p in ps if isinstance(get(doc, p), (int, float)) and not isinstance(get(doc, p), bool)]
        if kind == "number" and nums:
            p = draw(st.sampled_from(nums)); get(doc, p[:-1])[p[-1]] = draw(extreme)
        elif kind == "replace" and ps:
            p = draw(st.sampled_from(ps)); get(doc, p[:-1])[p[-1]] = draw(values)
        elif kind == "drop":
            ps = [p for p in ps if isinstance(get(doc, p[:-1]), dict)]
            if ps: p = draw(st.sampled_from(ps)); del get(doc, p[:-1])[p[-1]]
        else:
            objs = [()] + [p for p in ps if isinstance(get(doc, p), dict)]
            p = draw(st.sampled_from(objs)); get(doc, p)[draw(st.text(min_size=1, max_size=8))] = draw(values)
    text = to_text(doc)
    if draw(st.integers(0, 9)) == 0: text = text[: draw(st.integers(0, len(text)))]
    return name, text

def numbers(obj):
    "Every int/float in a loaded config object."
    if dataclasses.is_dataclass(obj): obj = dataclasses.asdict(obj)
    if isinstance(obj, dict): return [n for v in obj.values() for n in numbers(v)]
    if isinstance(obj, (list, tuple)): return [n for v in obj for n in numbers(v)]
    return [obj] if isinstance(obj, (int, float)) and not isinstance(obj, bool) else []

def write_all(d: Path, name=None, text=None):
    (d / "config").mkdir(exist_ok=True)
    for f in FILES: (d / f).write_text(text if f == name else json.dumps(ORIGINAL[f], indent=1))

# tmp_path is shared by the examples of one test run: each example rewrites all three files
@settings(max_examples=200, deadline=None, database=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(mutated())
def test_mutated_config_loads_finite_or_fails_naming_the_file(tmp_path, case):
    name, text = case
    write_all(tmp_path, name, text)
    try: S = load_all(config=tmp_path / "config.json")
    except ConfigError as e:
        assert Path(name).name in str(e), f"the error does not name {name}: {e}"
        return
    for obj in (S.config, S.ml, S.brokers):
        assert all(math.isfinite(n) for n in numbers(obj) if isinstance(n, float)), f"a non-finite number loaded from {name}"

def test_the_untouched_files_load(tmp_path):
    write_all(tmp_path)
    S = load_all(config=tmp_path / "config.json")
    assert S.config == load_all(root=ROOT).config and numbers(S.config)

@pytest.mark.parametrize("key", ["filters.min_confidence", "breakers.daily_loss_pct", "breakers.max_drawdown_pct", "risk.risk_pct"])
@pytest.mark.parametrize("lit", ["NaN", "Infinity", "-Infinity", "1e999"])
def test_the_reported_cases_are_refused(tmp_path, key, lit):
    "The issue's cases: a NaN gate or breaker limit used to load and switch the control off."
    doc = json.loads(json.dumps(ORIGINAL["config.json"]))
    sec, k = key.split("."); doc[sec][k] = ("raw", lit)
    write_all(tmp_path, "config.json", to_text(doc))
    with pytest.raises(ConfigError) as e: load_all(config=tmp_path / "config.json")
    assert str(e.value).startswith(str(tmp_path / "config.json")) and f"{key}: {lit} is not a finite number" in str(e.value)
