"""Make README.md from nbs/index.ipynb (nbdev_readme needs quarto, which is not installable offline).

`python .ci/readme.py` writes it; `python .ci/readme.py --check` exits 1 when README.md is out of step."""
import json, sys
from pathlib import Path

root = Path(__file__).resolve().parent.parent
nb = json.loads((root / "nbs" / "index.ipynb").read_text(encoding="utf-8"))
parts = ["".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "markdown"]
text = "<!-- generated from nbs/index.ipynb by .ci/readme.py: edit the notebook, not this file -->\n\n" + "\n\n".join(parts).strip() + "\n"
out = root / "README.md"
if "--check" in sys.argv:
    if not out.exists() or out.read_text(encoding="utf-8") != text:
        print("README.md is out of step with nbs/index.ipynb: run python .ci/readme.py"); sys.exit(1)
    print("README.md is in step with nbs/index.ipynb")
else:
    out.write_text(text, encoding="utf-8"); print(f"wrote {out}")
