"""The lean install has no pyarrow: the loaders read the same bars with pandas, and a bad file gets the same kind of
error, naming the file, the line and the field."""
import json, pickle, subprocess, sys, textwrap
import numpy as np, pandas as pd
import pytest
from conftest import ROOT, CLIENT_LANE_BLOCK


def files(tmp_path):
    from novosky.data import load, sample_path
    bars = load(sample_path())
    out = {"dukascopy": sample_path()}
    mt5 = tmp_path / "EURUSD_H1_mt5.csv"                         # MT5's own export: tab-separated <DATE> <TIME> ...
    t = bars.index.tz_convert(None)
    mt5.write_text("<DATE>\t<TIME>\t<OPEN>\t<HIGH>\t<LOW>\t<CLOSE>\t<TICKVOL>\t<VOL>\t<SPREAD>\n" + "".join(
        f"{a:%Y.%m.%d}\t{a:%H:%M:%S}\t{o}\t{h}\t{l}\t{c}\t{int(v)}\t0\t{int(s)}\n"
        for a, o, h, l, c, v, s in zip(t, bars.open, bars.high, bars.low, bars.close, bars.volume, np.arange(len(bars)) % 7 + 1)))
    out["mt5"] = mt5
    gen = tmp_path / "generic.csv"
    bars.reset_index().rename(columns={"time": "Date"}).to_csv(gen, sep=";", index=False)
    out["generic"] = gen
    bad = tmp_path / "bad_mt5.csv"
    lines = mt5.read_text().splitlines(); f = lines[7].split("\t"); f[4] = "1.05x"; lines[7] = "\t".join(f)
    bad.write_text("\n".join(lines) + "\n"); out["bad"] = bad
    return out


def test_loaders_without_pyarrow_read_the_same_bars(tmp_path):
    from novosky.data import load, DataError
    fs = files(tmp_path)
    code = CLIENT_LANE_BLOCK + textwrap.dedent(f"""
        import pickle, sys
        from novosky.data import load, DataError
        import novosky.data as d
        assert d.pa is None, "pyarrow was imported"
        out = {{}}
        for k, p in {json.dumps({k: str(v) for k, v in fs.items()})}.items():
            try: out[k] = load(p, warn=False)
            except DataError as e: out[k] = str(e)
        pickle.dump(out, open({str(tmp_path / 'lean.pkl')!r}, "wb"))
    """)
    r = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    lean = pickle.load(open(tmp_path / "lean.pkl", "rb"))
    for k in ("dukascopy", "mt5", "generic"):
        full = load(fs[k], warn=False)
        pd.testing.assert_frame_equal(lean[k], full, check_freq=False, check_column_type=False)   # column labels: the same strings
    with pytest.raises(DataError) as e: load(fs["bad"], warn=False)
    assert isinstance(lean["bad"], str) and "line 8" in lean["bad"] and "'<LOW>'" in lean["bad"] and "'1.05x'" in lean["bad"], lean["bad"]
    assert "line 8" in str(e.value) and "'<LOW>'" in str(e.value)
