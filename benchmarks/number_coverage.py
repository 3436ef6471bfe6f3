"""Share of the distinct numbers of English source lines that appear in the translation.

    .venv/bin/python benchmarks/number_coverage.py 9:12,81:464 corpus/0[0-3]*.md
    .venv/bin/python benchmarks/number_coverage.py 465:716 corpus/04-alignment.md

The English source defaults to ../shared/reference/internlm2-technical-report.en.md (--source)."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SOURCE = ROOT.parent / "shared" / "reference" / "internlm2-technical-report.en.md"
NUMBER = re.compile(r"\d+(?:\.\d+)?")


def coverage(source: Path, ranges: str, files: list[Path]) -> tuple[float, list[str], int]:
    lines = source.read_text(encoding="utf-8").splitlines()
    wanted: set[str] = set()
    for r in ranges.split(","):
        a, b = map(int, r.split(":"))
        for line in lines[a - 1 : b]:
            wanted.update(NUMBER.findall(line))
    found: set[str] = set()
    for f in files:
        found.update(NUMBER.findall(Path(f).read_text(encoding="utf-8")))
    missing = sorted(wanted - found, key=float)
    return 1 - len(missing) / max(1, len(wanted)), missing, len(wanted)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("ranges", help="source line ranges, e.g. 465:716 or 9:12,81:464")
    ap.add_argument("files", nargs="+", type=Path)
    ap.add_argument("--source", type=Path, default=SOURCE)
    args = ap.parse_args()
    share, missing, total = coverage(args.source, args.ranges, args.files)
    print(f"{total} distinct numbers in the source lines; {share:.1%} appear in the translation")
    print("missing:", " ".join(missing) or "none")


if __name__ == "__main__":
    main()
