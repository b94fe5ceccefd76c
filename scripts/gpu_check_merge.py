#!/usr/bin/env python
"""Put the section `scripts/gpu_check.sh` wrote into docs/benchmarks.md, replacing the previous GPU check.

    python scripts/gpu_check_merge.py RESULTS/gpu_section.md
"""

from __future__ import annotations

import sys
from pathlib import Path

DOC = Path(__file__).resolve().parents[1] / "docs" / "benchmarks.md"
HEADING = "### GPU check (`scripts/gpu_check.sh`)"


def merge(doc: str, section: str) -> str:
    """The doc with its GPU-check section (up to the next '### ' heading) replaced, or the section appended."""
    start = doc.find(HEADING)
    if start < 0:
        return doc.rstrip() + "\n\n" + section.strip() + "\n"
    end = doc.find("\n### ", start + len(HEADING))
    rest = "" if end < 0 else doc[end:]
    return doc[:start] + section.strip() + "\n" + rest


if __name__ == "__main__":
    DOC.write_text(merge(DOC.read_text(), Path(sys.argv[1]).read_text()))
    print(f"updated {DOC}")
