"""Figure export: each PNG at its figure's own size, and a render kaleido dropped in a batch is
rendered again (kaleido deletes a failed render's file without raising from the batch call)."""

from __future__ import annotations

import struct

import plotly.graph_objects as go
import plotly.io as pio

from workbench.plots.export import export_figures


def _png_size(path) -> tuple[int, int]:
    width, height = struct.unpack(">II", path.read_bytes()[16:24])
    return width, height


def test_pngs_have_their_figures_size_and_a_dropped_render_is_redone(tmp_path, monkeypatch):
    wide = go.Figure(go.Scatter(y=[1, 2])).update_layout(width=900, height=300)
    plain = go.Figure(go.Bar(y=[3, 1]))
    real = pio.write_images

    calls = []

    def dropping(figs, paths, **kwargs):  # the batch "succeeds" but the first file is gone
        real(figs, paths, **kwargs)
        calls.append(len(figs))
        if len(calls) == 1:
            paths[0].unlink()

    monkeypatch.setattr(pio, "write_images", dropping)
    written = export_figures({"wide": wide, "plain": plain}, tmp_path, formats=("png",), scale=1.0)
    assert [p.name for p in written] == ["wide.png", "plain.png"]
    assert calls == [2, 1]  # the batch, then the dropped figure alone
    assert _png_size(tmp_path / "wide.png") == (900, 300)
    assert _png_size(tmp_path / "plain.png") == (700, 500)  # plotly's default for a figure without a size


def test_html_pages_share_one_plotlyjs_by_a_relative_path(tmp_path):
    from plotly.offline import get_plotlyjs

    root = tmp_path / "figures"
    fig = go.Figure(go.Scatter(y=[1, 2]))
    for suite in ("a", "b"):
        export_figures({"f": fig}, root / suite, formats=("html",), plotlyjs_dir=root)
    assert (root / "a" / "f.html").read_text().count('src="../plotly.min.js"') == 1
    assert not (root / "a" / "plotly.min.js").exists() and (root / "plotly.min.js").read_text() == get_plotlyjs()
    (root / "plotly.min.js").write_text("// another plotly version")  # a stale copy is replaced
    export_figures({"f": fig}, root / "a", formats=("html",), plotlyjs_dir=root)
    assert (root / "plotly.min.js").read_text() == get_plotlyjs()
