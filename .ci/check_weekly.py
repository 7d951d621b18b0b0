"""Check a weekly run's records: every phase recorded with a status, a decision reached by the rule, a report written."""
import json, sys
from pathlib import Path
from novosky.pipeline import PHASES

run = Path(sys.argv[1])
problems = []
for n, name in enumerate(PHASES, 1):
    p = run / f"{n:02d}-{name}.json"
    if not p.is_file(): problems.append(f"{p.name}: missing"); continue
    r = json.loads(p.read_text())
    if r.get("status") not in ("passed", "failed", "skipped") or not r.get("reason"): problems.append(f"{p.name}: no status or reason")
d = json.loads((run / "decision.json").read_text()) if (run / "decision.json").is_file() else None
if d is None: problems.append("decision.json: missing")
else:
    gates = {g["name"]: g["passed"] for g in d["gates"]}
    if len(gates) != 8: problems.append(f"decision.json: {len(gates)} gates, expected 8")
    if d["promote"] != all(gates.values()): problems.append("decision.json: the decision does not follow its gates")
    if failed := [k for k, s in d["phases"].items() if s != "passed"]: problems.append(f"phases not passed in the smoke run: {failed}")
if not (run / "report.md").is_file(): problems.append("report.md: missing")
if problems: print("FAIL: weekly smoke run", run, *problems, sep="\n  "); sys.exit(1)
print(f"weekly smoke run {run.name}: {'PROMOTE' if d['promote'] else 'REJECT'}"
      + (f" (failed gates: {', '.join(k for k, v in gates.items() if not v)})" if not d["promote"] else "") + "; every phase recorded")
