"""Export figures for the docs: a PNG (kaleido, driving the system Chromium) and a standalone HTML.

Both files are written to a temporary sibling and renamed into place, so a failed export never
leaves half a file. The HTML loads plotly.js from one `plotly.min.js` written beside it.
"""

from __future__ import annotations

import os
from pathlib import Path

import plotly.graph_objects as go
import plotly.io as pio

from workbench.tensor.atomic import atomic_file


def export(fig: go.Figure, path: str | os.PathLike, formats: tuple[str, ...] = ("png", "html"), scale: float = 2.0) -> list[Path]:
    """Write `fig` as `<path>.png` and/or `<path>.html` (any suffix on `path` is replaced)."""
    base = Path(path)
    base = base.with_suffix("") if base.suffix in {".png", ".html"} else base
    unknown = set(formats) - {"png", "html"}
    if unknown:
        raise ValueError(f"`formats` may hold 'png' and 'html'; got {sorted(unknown)}")
    written = []
    for fmt in formats:
        target = base.with_name(f"{base.name}.{fmt}")
        with atomic_file(target) as tmp:
            if fmt == "png":
                pio.write_image(fig, tmp, format="png", scale=scale)
            else:
                html = pio.to_html(fig, include_plotlyjs="directory", full_html=True)
                tmp.write_text(html)
        if fmt == "html":
            _write_plotlyjs(target.parent)
        written.append(target)
    return written


def _write_plotlyjs(folder: Path) -> None:
    """Write the plotly.min.js the exported HTML files refer to, once per folder."""
    js = folder / "plotly.min.js"
    if js.exists():
        return
    from plotly.offline import get_plotlyjs

    with atomic_file(js) as tmp:
        tmp.write_text(get_plotlyjs())
