"""`workbench.core.claims`: the table renderer and the docs block it lives in."""

import pytest

from workbench.core.claims import END, START, Claim, read_block, replace_block, rewrite_page, table


def test_table_escapes_pipes_and_collapses_whitespace() -> None:
    text = table([Claim("a | b", "paper\nsetting", "1 %", "ours", "reproduced")])
    lines = text.splitlines()
    assert lines[0].startswith("| claim") and lines[1] == "|---|---|---|---|---|"
    assert lines[2] == "| a \\| b | paper setting | 1 % | ours | reproduced |"
    with pytest.raises(ValueError, match="at least one Claim"):
        table([])


def test_block_round_trip_and_rewrite(tmp_path) -> None:
    page = f"# Title\n\nprose\n\n{START}\nold\n{END}\n\nmore prose\n"
    new = replace_block(page, "| new |\n")
    assert read_block(new) == "| new |\n"
    assert new.startswith("# Title\n\nprose\n\n") and new.endswith(f"{END}\n\nmore prose\n")
    path = tmp_path / "page.md"
    path.write_text(page)
    rewrite_page(path, "| x |")
    assert read_block(path.read_text()) == "| x |\n" and list(tmp_path.iterdir()) == [path]  # no temp left
    for bad in ("no markers", f"{END}\n{START}", f"{START}{START}{END}"):
        with pytest.raises(ValueError, match="exactly one"):
            read_block(bad, name="docs/x.md")


def test_reproduce_writes_the_table_beside_the_measurements_and_into_the_docs_page(tmp_path, monkeypatch) -> None:
    """`workbench reproduce` (full configs) writes claims.md next to measurements.json, and rewrites the
    docs page's block only when the figures go to the docs root."""
    from workbench.reproduce import _write_claims
    from workbench.suite import Suite

    def claims(measurements: dict) -> str:
        return table([Claim("c", "p", f"x = {measurements['x']}", "s", "v")])

    suite = Suite("demo", object, object, None, None, None, claims)
    docs = tmp_path / "docs"
    (docs / "figures" / "demo").mkdir(parents=True)
    page = docs / "demo.md"
    page.write_text(f"# demo\n{START}\nold\n{END}\n")
    elsewhere = tmp_path / "build" / "demo"
    elsewhere.mkdir(parents=True)
    monkeypatch.setenv("WORKBENCH_DOCS", str(docs / "figures"))
    assert _write_claims(suite, {"x": 1}, elsewhere.parent, elsewhere) == [elsewhere / "claims.md"]
    assert "old" in page.read_text()  # not the docs root: the page is left alone
    written = _write_claims(suite, {"x": 2}, docs / "figures", docs / "figures" / "demo")
    assert written == [docs / "figures" / "demo" / "claims.md", page]
    assert read_block(page.read_text()) == claims({"x": 2}) and "x = 2" in (docs / "figures/demo/claims.md").read_text()
