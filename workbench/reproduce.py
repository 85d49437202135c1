"""Reproduce every landed suite: run its config, export its figures and measurements.

`workbench reproduce` walks the suite registry (`workbench.registry`). Results go through the
artifact cache, so a notebook opened afterwards reuses the same computation.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from workbench.core.atomic import atomic_file
from workbench.core.claims import rewrite_page
from workbench.core.executor import Executor, as_executor
from workbench.core.paths import check_output_dir
from workbench.core.validation import check_path
from workbench.plots.export import FORMATS, export_to_docs, figures_root
from workbench.registry import get_suite
from workbench.runner import CacheLike, run_cached
from workbench.suite import Suite


def strict_json(value: Any) -> Any:
    """`value` with every non-finite float replaced by None: strict JSON has no NaN, and a NaN in a
    summary means "not measured" (a skipped layer), which null says plainly."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: strict_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [strict_json(v) for v in value]
    return value


def _write_claims(suite: Suite, measurements: dict[str, Any], root: Path, folder: Path) -> list[Path]:
    """The claims table beside the measurements (`claims.md`), and in the docs page's claims block
    when the figures went to the docs (`workbench.core.claims`)."""
    table = suite.claims(strict_json(measurements))
    with atomic_file(folder / "claims.md") as tmp:
        tmp.write_text(table, encoding="utf-8")
    written = [folder / "claims.md"]
    page = root.parent / f"{suite.name}.md"
    if root.resolve() == figures_root().resolve() and page.is_file():
        written.append(rewrite_page(page, table))
    return written


def reproduce_suite(
    name: str | Suite, out_dir: str | os.PathLike | None = None, quick: bool = False, cache: CacheLike = None,
    formats: tuple[str, ...] = FORMATS, progress: bool = True, executor: str | Executor = "local",
) -> list[Path]:
    """Run suite `name` (a registered name or a `Suite`) and write
    `<out_dir>/<name>/<figure>.{png,html}` and `measurements.json`
    (`out_dir` None: the docs figures root, `workbench.plots.export.figures_root()`).

    One progress bar per suite (compute → figures → measurements); the computation's own bars
    show inside it. `executor="ray"` runs the suite's grid cells as Ray tasks."""
    suite = get_suite(name)
    name = suite.name
    ex = as_executor(executor)
    config = suite.quick() if quick else suite.full()
    root = figures_root() if out_dir is None else check_path("out_dir", out_dir)
    folder = check_output_dir("out_dir", root / name)  # before the compute, not after
    with tqdm(total=3, desc=f"{name}: compute", disable=not progress, unit="stage",
              bar_format="{desc:<28}{bar}| {n}/{total} stages [{elapsed}]") as bar:
        result = run_cached(suite, config, cache=cache, progress=progress, executor=ex)
        bar.set_description(f"{name}: figures")
        bar.update()
        # the panels' Export button writes through the same function
        written = export_to_docs(suite.figures(result), name, root=root, formats=formats)
        bar.set_description(f"{name}: measurements")
        bar.update()
        measurements = {"suite": name, "quick": quick, **suite.summarize(result)}
        with atomic_file(folder / "measurements.json") as tmp:
            tmp.write_text(json.dumps(strict_json(measurements), indent=1, allow_nan=False))
        written.append(folder / "measurements.json")
        if suite.claims is not None and not quick:
            written += _write_claims(suite, measurements, root, folder)
        bar.set_description(f"{name}: done")
        bar.update()
    return written
