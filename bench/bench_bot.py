"""The live bot (issue 6), on the REAL bundled EURUSD sample (6,225 H1 bars) with the committed models.

  1. bar close -> orders handed to the broker (features from the trailing window + models + engine), measured in
     replay: median and p99, with models served from ONNX (the client lane) and from the calibrated pickles
     (goal <= 5 ms p99)
  2. replay throughput with the PaperBroker and the SQLite trade store: the live path (state saved after every bar)
     and --fast (batch-precomputed features/signals, state and store writes every 500 bars) (goal >= 20,000 bars/s)
Usage: python bench/bench_bot.py"""
import argparse, tempfile, time
from pathlib import Path
import numpy as np


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.parse_args()
    from novosky.data import tune_allocator, sample
    print(f"glibc allocator tuned as the CLIs do: {tune_allocator()}")
    from novosky.config import load_all
    from novosky.backtest import load_chain
    from novosky.models import SOURCES
    from novosky.bot import Bot
    from novosky.store import SqliteStore
    S = load_all(); bars = sample()
    for label, sources in (("ONNX", ("onnx",)), ("calibrated pickle", SOURCES)):
        chain = load_chain(S.path(S.config.paths.models_dir), S.ml.features, S.config, sources=sources)
        with tempfile.TemporaryDirectory() as d:
            store = SqliteStore(Path(d) / "store.sqlite")
            bot = Bot(S, chain, bars, Path(d) / "state.json", Path(d) / "bot.log", store=store)
            t = time.perf_counter(); res = bot.run(); dt = time.perf_counter() - t
            lat = res["latency_ms"]
            print(f"{label:18s} bar close -> orders: median {np.median(lat):.2f} ms, p99 {np.percentile(lat, 99):.2f} ms "
                  f"(goal p99 <= 5 ms: {'met' if np.percentile(lat, 99) <= 5 else 'NOT met'}); replay with store + state: "
                  f"{len(bars) / dt:,.0f} bars/s (goal >= 20,000: {'met' if len(bars) / dt >= 2e4 else 'NOT met'}); {len(res['trades'])} fills")
            store.close()
        if label == "ONNX":
            with tempfile.TemporaryDirectory() as d:
                store = SqliteStore(Path(d) / "store.sqlite")
                botf = Bot(S, chain, bars, Path(d) / "state.json", Path(d) / "bot.log", store=store, fast=True)
                t = time.perf_counter(); rf = botf.run(); dtf = time.perf_counter() - t
                print(f"{'':18s} --fast replay (batch features/signals, store + state every 500 bars): {len(bars) / dtf:,.0f} bars/s "
                      f"incl. the batch precompute (goal >= 20,000: {'met' if len(bars) / dtf >= 2e4 else 'NOT met'}); {len(rf['trades'])} fills")
                store.close()
            bot2 = Bot(S, chain, bars)                                  # no state file, no store: the loop alone
            t = time.perf_counter(); bot2.run(); dt2 = time.perf_counter() - t
            print(f"{'':18s} the same loop without state file and store: {len(bars) / dt2:,.0f} bars/s")


if __name__ == "__main__":
    main()
