"""Write every suite's notebooks from their cell sources (run after editing a notebook's text).

Each suite keeps its cells in `scripts/notebooks_<suite>.py` as `NOTEBOOKS = {"<suite>/<name>.ipynb":
[cells]}`. Notebooks are thin: every cell calls the library. Each has a cell tagged `parameters`
holding `QUICK`; the tests inject `QUICK = True` after it.
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from nbtools import ROOT, write  # noqa: E402  (needs HERE on sys.path)


def main() -> None:
    for module_path in sorted(HERE.glob("notebooks_*.py")):
        module = importlib.import_module(module_path.stem)
        for relative, cells in module.NOTEBOOKS.items():
            write(ROOT / relative, cells)
            print("wrote", ROOT / relative)


if __name__ == "__main__":
    main()
