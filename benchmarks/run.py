"""Benchmarks: ``python benchmarks/run.py`` lists them, ``python benchmarks/run.py NAME`` runs one.

Each benchmark is a module ``benchmarks/bench_<name>.py`` with a one-line docstring and a
``run(args) -> Result``. The last printed line is ``NAME: VALUE UNIT (target ...)``; where a
peer exists the value is a ratio of the two measured side by side in the same run.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))


@dataclass
class Result:
    value: float
    unit: str
    target: str

    def line(self, name: str) -> str:
        return f"{name}: {self.value:.3g} {self.unit} (target {self.target})"


def available() -> dict[str, str]:
    """name -> first docstring line of every ``bench_*.py``."""
    out = {}
    for path in sorted(HERE.glob("bench_*.py")):
        text = path.read_text().lstrip()
        doc = text.split('"""')[1].strip().splitlines()[0] if text.startswith('"""') else ""
        out[path.stem[len("bench_"):]] = doc
    return out


def main(argv=None) -> int:
    benches = available()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("name", nargs="?", choices=sorted(benches))
    parser.add_argument("--repeat", type=int, default=3, help="best of N timings")
    parser.add_argument("--slices", type=int, default=0, help="propagate: slices each way (default 5)")
    args = parser.parse_args(argv)
    if not args.name:
        for name, doc in benches.items():
            print(f"{name:12s} {doc}")
        return 0
    module = importlib.import_module(f"benchmarks.bench_{args.name}")
    result = module.run(args)
    print(result.line(args.name))
    return 0


if __name__ == "__main__":
    sys.exit(main())
