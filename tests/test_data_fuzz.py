"""Fuzz the loaders: whatever a user hands over, `read_ohlcv` returns a clean frame or raises a `DataError` naming the file.

Files are built from real bars of the bundled sample in the three text layouts (MT5 export, Dukascopy-style, generic),
then corrupted at random: bad dates, missing or extra fields, NaN/inf/text/negative/huge prices, high < low, duplicated
and unsorted rows, mixed time-zone offsets, random bytes, truncation, a BOM, CRLF line ends, a broken header.
Run more examples with NOVOSKY_FUZZ_EXAMPLES=5000.
"""
import os, tempfile
from pathlib import Path
import numpy as np, pandas as pd
from hypothesis import given, settings, HealthCheck, strategies as st
from novosky.data import read_ohlcv, DataError, sample_path, COLS

BARS = [r.split(",") for r in sample_path().read_text().splitlines()[1:]][:300]   # real EURUSD H1 rows
EXAMPLES = int(os.environ.get("NOVOSKY_FUZZ_EXAMPLES", 300))


def _stamp(duka, layout):
    "A Dukascopy `dd.mm.YYYY HH:MM:SS.fff` time in another layout."
    d, m, y, hms = duka[:2], duka[3:5], duka[6:10], duka[11:19]
    return {"mt5": [f"{y}.{m}.{d}", hms], "duka": [duka], "iso": [f"{y}-{m}-{d} {hms}"], "isoz": [f"{y}-{m}-{d}T{hms}+00:00"],
            "epoch": [str(int(pd.Timestamp(f"{y}-{m}-{d} {hms}").timestamp()))]}[layout]


@st.composite
def csv_files(draw):
    "(file name, bytes) of a bar file, corrupted or not."
    kind = draw(st.sampled_from(["mt5", "duka", "iso", "isoz", "epoch"]))
    start = draw(st.integers(0, len(BARS) - 2))
    rows = [list(b) for b in BARS[start: start + draw(st.one_of(st.integers(2, 60), st.integers(0, 1)))]]
    sep = "\t" if kind == "mt5" else draw(st.sampled_from([",", ";"])) if kind != "duka" else ","
    if kind == "mt5": header = ["<DATE>", "<TIME>", "<OPEN>", "<HIGH>", "<LOW>", "<CLOSE>", "<TICKVOL>", "<VOL>", "<SPREAD>"]
    elif kind == "duka": header = ["Time", "Open", "High", "Low", "Close", "Volume"]
    else: header = [draw(st.sampled_from(["time", "timestamp", "Date", "datetime"])), "open", "high", "low", "close", "volume"]
    nt = 2 if kind == "mt5" else 1                                  # fields holding the time
    lines = []
    for r in rows:
        extra = ["0", "2"] if kind == "mt5" else []
        lines.append(_stamp(r[0], "duka" if kind == "duka" else kind) + r[1:6] + extra)
    for _ in range(draw(st.integers(0, 4))):                        # row-level corruptions
        if not lines: break
        i = draw(st.integers(0, len(lines) - 1))
        what = draw(st.sampled_from(["price", "price", "date", "drop_field", "add_field", "swap_hl", "dup", "swap_rows",
                                     "tz", "empty_row", "negative"]))
        f = lines[i]
        if not f: continue                                          # an emptied row stays empty
        if what == "price":
            j = draw(st.integers(0, len(f) - 1)) if len(f) <= nt + 4 else draw(st.integers(nt, nt + 4))
            f[j] = draw(st.sampled_from(["nan", "NaN", "inf", "-inf", "Infinity", "1e999", "", "abc", "0", "-1.05", "1e308",
                                         "5e-324", "1,05", "0x1p0", " 1.05 ", "1.05.2"]))
        elif what == "date":
            f[0] = draw(st.sampled_from(["", "xx", "31.02.2017 00:00:00.000", "2017.13.01", "9999.12.31", "1850-01-01 00:00:00",
                                         "2017-02-30 00:00:00", "0", "-1", "1e30", "nan", "2017-01-02T25:00:00", "2262-05-01 00:00:00",
                                         f[0] + "Z", f[0][:-1], "02.01.2017 00:00:00.0é", "٢٠١٧.٠١.٠٢"]))
        elif what == "drop_field": del f[draw(st.integers(0, len(f) - 1))]
        elif what == "add_field": f.insert(draw(st.integers(0, len(f))), draw(st.sampled_from(["", "1.05", "x"])))
        elif what == "swap_hl" and len(f) > nt + 2: f[nt + 1], f[nt + 2] = f[nt + 2], f[nt + 1]
        elif what == "dup": lines.insert(i, list(f))
        elif what == "swap_rows": j = draw(st.integers(0, len(lines) - 1)); lines[i], lines[j] = lines[j], lines[i]
        elif what == "tz": f[0] = f[0] + draw(st.sampled_from(["+02:00", "-05:00", "Z", " UTC", "+0530"]))
        elif what == "empty_row": lines[i] = []
        elif what == "negative" and len(f) > nt: f[nt] = "-" + f[nt]
    if draw(st.booleans()) and draw(st.booleans()):                 # a broken header, now and then
        h = draw(st.integers(0, len(header) - 1))
        header = list(header); header[h] = draw(st.sampled_from(["", "Open", "x", header[h] * 2, header[0]]))
    eol = draw(st.sampled_from(["\n", "\n", "\r\n"]))
    text = sep.join(header) + eol + eol.join(sep.join(f) for f in lines) + (eol if draw(st.booleans()) else "")
    data = text.encode("utf-8")
    if draw(st.booleans()): data = b"\xef\xbb\xbf" + data           # BOM
    for _ in range(draw(st.sampled_from([0, 0, 0, 1, 2]))):         # byte-level corruptions, in two files of five
        what = draw(st.sampled_from(["bytes", "truncate", "nul"]))
        at = draw(st.integers(0, len(data)))
        if what == "bytes": data = data[:at] + draw(st.binary(min_size=1, max_size=8)) + data[at:]
        elif what == "truncate": data = data[:at]
        else: data = data[:at] + b"\x00" + data[at:]
    return f"fuzz_{kind}_bars.csv", data


def assert_clean(df, rep):
    "What the loader promises about a frame it returns."
    assert list(df.columns[:5]) == COLS and len(df) >= 1 and rep.rows_out == len(df)
    idx = df.index
    assert isinstance(idx, pd.DatetimeIndex) and str(idx.tz) == "UTC" and not idx.hasnans
    assert idx.is_monotonic_increasing and idx.is_unique
    o, h, l, c = (df[k].to_numpy() for k in ("open", "high", "low", "close"))
    assert np.isfinite(o).all() and np.isfinite(h).all() and np.isfinite(l).all() and np.isfinite(c).all()
    assert (l > 0).all() and (h >= np.maximum(o, c)).all() and (l <= np.minimum(o, c)).all()
    assert np.isfinite(df["volume"].to_numpy()).all()


@settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(f=csv_files(), fmt=st.sampled_from(["auto"] * 6 + ["mt5", "dukascopy", "generic"]),
       offset=st.sampled_from([0.0, 0.0, 2.0, -5.5]), on_issue=st.sampled_from(["repair", "repair", "raise"]))
def test_read_ohlcv_never_crashes(f, fmt, offset, on_issue):
    name, data = f
    with tempfile.TemporaryDirectory() as d:
        p = Path(d) / name
        p.write_bytes(data)
        try: df, rep = read_ohlcv(p, fmt, offset, on_issue)
        except DataError as e:
            assert str(p) in str(e), f"DataError without the file name: {e}"
            return
        assert_clean(df, rep)
        if on_issue == "raise": assert rep.changed == 0 and rep.flagged == 0
