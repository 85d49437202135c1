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
