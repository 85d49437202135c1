"""Export figures for the docs: a PNG (kaleido, driving the system Chromium) and a standalone HTML.

`export_to_docs` is the one way figures reach the docs, for `workbench reproduce` and for a panel's
Export button alike: `<figures root>/<suite>/<name>.{png,html}`, the root being `$WORKBENCH_DOCS`
or the project's own `docs/figures` (found from the package, never from the working directory —
a notebook's kernel runs in the notebook's folder).

Every file is written to a temporary sibling and renamed into place, so a failed export never
leaves half a file. PNGs of many figures are rendered in one kaleido call (one browser start).
The HTML loads plotly.js from one `plotly.min.js` (beside it, or one shared by several folders).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from contextlib import ExitStack
from pathlib import Path

import plotly.graph_objects as go
import plotly.io as pio

from workbench.core.atomic import atomic_file
from workbench.core.paths import PROJECT_ROOT, check_output_dir, expand_path
from workbench.core.validation import check_path
from workbench.plots.render import write_pngs

FORMATS = ("png", "html")
DEFAULT_SIZE = (700, 500)  # plotly's own default, for a figure that sets no size
PLOTLYJS = "plotly.min.js"
DOCS_ENV = "WORKBENCH_DOCS"  # a figures root in place of <project>/docs/figures


def export_figures(
    figures: Mapping[str, go.Figure], folder: str | os.PathLike, formats: tuple[str, ...] = FORMATS, scale: float = 2.0,
    plotlyjs_dir: str | os.PathLike | None = None,
) -> list[Path]:
    """Write `<folder>/<name>.png` and/or `.html` for every figure; return the paths written.

    The HTML files load plotly.js from `<plotlyjs_dir>/plotly.min.js` (default: `folder`), by a
    relative path: `workbench reproduce` passes the figures root, so the four suites' pages share
    one 4.8 MB copy instead of carrying one each."""
    unknown = set(formats) - set(FORMATS)
    if unknown:
        raise ValueError(f"`formats` may hold {FORMATS}; got {sorted(unknown)}")
    folder = check_output_dir("folder", folder)  # a file or read-only folder fails before any rendering
    js_dir = folder if plotlyjs_dir is None else check_output_dir("plotlyjs_dir", plotlyjs_dir)
    written: list[Path] = []
    if "png" in formats and figures:
        targets = [folder / f"{name}.png" for name in figures]
        with ExitStack() as stack:
            temps = [stack.enter_context(atomic_file(t)) for t in targets]
            # each figure at its own layout size: without width/height kaleido renders every one at
            # its 700×500 default, cutting titles and squeezing wide multi-panel figures
            figs = list(figures.values())
            sizes = [(f.layout.width or DEFAULT_SIZE[0], f.layout.height or DEFAULT_SIZE[1]) for f in figs]
            write_pngs(figs, temps, scale=scale, sizes=sizes)
            for fig, temp, size in zip(figs, temps, sizes):
                # kaleido deletes the file of a render that failed (a timeout on a loaded machine)
                # without raising from the batch call: render that one again, alone, so it raises
                if not temp.is_file() or temp.stat().st_size == 0:
                    write_pngs([fig], [temp], scale=scale, sizes=[size])
        written += targets
    if "html" in formats and figures:
        js_url = Path(os.path.relpath(js_dir / PLOTLYJS, folder)).as_posix()
        for name, fig in figures.items():
            target = folder / f"{name}.html"
            with atomic_file(target) as tmp:
                tmp.write_text(pio.to_html(fig, include_plotlyjs=js_url, full_html=True, div_id=name))
            written.append(target)
        _write_plotlyjs(js_dir)
    return written


def export(
    fig: go.Figure, path: str | os.PathLike, formats: tuple[str, ...] = FORMATS, scale: float = 2.0
) -> list[Path]:
    """Write one figure as `<path>.png` and/or `<path>.html` (a .png/.html suffix on `path` is dropped)."""
    base = check_path("path", path)
    base = base.with_suffix("") if base.suffix in {".png", ".html"} else base
    check_output_dir("path", base.parent)
    return export_figures({base.name: fig}, base.parent, formats, scale)


def figures_root() -> Path:
    """The docs figures root: `$WORKBENCH_DOCS` when set, else `<project>/docs/figures` of the
    checkout the package runs from. ValueError when neither exists (a non-editable install)."""
    env = os.environ.get(DOCS_ENV, "").strip()
    if env:
        return expand_path(f"${DOCS_ENV}", env)
    if (PROJECT_ROOT / "pyproject.toml").is_file() and (PROJECT_ROOT / "docs").is_dir():
        return PROJECT_ROOT / "docs" / "figures"
    raise ValueError(f"no docs folder: the package does not run from a project checkout ({PROJECT_ROOT}); "
                     f"set ${DOCS_ENV} to a figures folder or pass `folder`")


def export_to_docs(
    figures: Mapping[str, go.Figure], suite: str, root: str | os.PathLike | None = None,
    formats: tuple[str, ...] = FORMATS,
) -> list[Path]:
    """Write every figure to `<root>/<suite>/<name>.{png,html}` (root: `figures_root()`), the HTML
    pages sharing `<root>/plotly.min.js`; return the paths written."""
    base = figures_root() if root is None else check_path("root", root)
    folder = check_output_dir("root", base / suite)
    return export_figures(figures, folder, formats=formats, plotlyjs_dir=folder.parent)


def markdown_snippet(paths: list[Path], docs_dir: Path | None = None) -> str:
    """A Markdown line linking the PNG (and its interactive HTML twin) among `paths`, relative to
    `docs_dir` (default: the parent of the figures root, where the docs pages live) when they lie
    under it, absolute otherwise."""
    docs = docs_dir if docs_dir is not None else figures_root().parent

    def link(path: Path) -> str:
        try:
            return path.resolve().relative_to(docs.resolve()).as_posix()
        except ValueError:
            return path.resolve().as_posix()

    png = next((p for p in paths if p.suffix == ".png"), None)
    page = next((p for p in paths if p.suffix == ".html"), None)
    name = (png or page or Path("figure")).stem.replace("_", " ")
    parts = [f"![{name}]({link(png)})"] if png else []
    if page:
        parts.append(f"([interactive]({link(page)}))" if png else f"[{name}]({link(page)})")
    return " ".join(parts)


def _write_plotlyjs(folder: Path) -> None:
    """Write the plotly.min.js the exported HTML files refer to, unless the same one is there (a
    copy from another plotly version would not draw this version's figures)."""
    from plotly.offline import get_plotlyjs

    js, text = folder / PLOTLYJS, get_plotlyjs()
    if js.is_file() and js.stat().st_size == len(text.encode()) and js.read_text(encoding="utf-8") == text:
        return
    with atomic_file(js) as tmp:
        tmp.write_text(text, encoding="utf-8")
