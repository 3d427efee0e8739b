"""Rebuild ARCHITECTURE.md's "Parts in depth" from docs/arch-*.md (headings one level down).

    python docs/assemble_architecture.py          # rewrite ARCHITECTURE.md
    python docs/assemble_architecture.py --check  # exit 1 if it is out of date (make test runs it)

Everything above the first `<!-- from docs/... -->` marker is ARCHITECTURE.md's own text
(bird's-eye view, code map, invariants) and is kept as it is.
"""

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PARTS = ["swingstore", "kernel", "sandbox", "node", "governance", "bundles", "sim", "hardening"]
MARKER = "<!-- from docs/"


def demote(text: str) -> str:
    lines, fenced = [], False
    for line in text.splitlines():
        if line.startswith("```"):
            fenced = not fenced
        lines.append("#" + line if not fenced and line.startswith("#") else line)
    return "\n".join(lines).strip() + "\n"


def assemble() -> str:
    current = (ROOT / "ARCHITECTURE.md").read_text()
    head = current[:current.index(MARKER)]
    parts = [f"{MARKER}arch-{name}.md -->\n" + demote((ROOT / "docs" / f"arch-{name}.md").read_text())
             for name in PARTS]
    return head + "\n".join(parts)


if __name__ == "__main__":
    text = assemble()
    if "--check" in sys.argv:
        if text != (ROOT / "ARCHITECTURE.md").read_text():
            sys.exit("ARCHITECTURE.md is out of date: run python docs/assemble_architecture.py")
    else:
        (ROOT / "ARCHITECTURE.md").write_text(text)
