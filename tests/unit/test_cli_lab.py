"""`workbench lab [--port] [--no-browser] [-- <jupyter args>]`: the rest goes to JupyterLab (as root
a container needs --allow-root), but nothing may move it off 127.0.0.1 or drop its token."""

from __future__ import annotations

import pytest

from workbench import cli


@pytest.fixture
def launched(monkeypatch):
    calls: list[list[str]] = []
    monkeypatch.setattr(cli.os, "execv", lambda _exe, argv: calls.append(argv))
    return calls


def test_arguments_after_the_separator_reach_jupyter(launched):
    assert cli.main(["lab", "--port", "8899", "--no-browser", "--", "--allow-root", "--ServerApp.log_level=DEBUG"]) == 0
    argv = launched[0]
    assert "--ServerApp.ip=127.0.0.1" in argv and "--ServerApp.port=8899" in argv and "--no-browser" in argv
    assert argv[-2:] == ["--allow-root", "--ServerApp.log_level=DEBUG"]


@pytest.mark.parametrize(
    "arg",
    [
        "--ip=0.0.0.0",
        "--ServerApp.ip=0.0.0.0",
        "--ServerApp.token=",
        "--IdentityProvider.token=x",
        "--NotebookApp.password=",
        "--ServerApp.allow_remote_access=True",
        "--ServerApp.allow_origin=*",
        "--ServerApp.disable_check_xsrf=True",
    ],
)
def test_address_and_authentication_cannot_be_changed(arg, launched, capsys):
    assert cli.main(["lab", "--", arg]) == 2
    assert "`jupyter_args`" in capsys.readouterr().err and not launched


def test_as_root_allow_root_is_added_and_said(launched, monkeypatch, capsys):
    monkeypatch.setattr(cli.os, "geteuid", lambda: 0)
    assert cli.main(["lab", "--no-browser"]) == 0
    assert launched[0].count("--allow-root") == 1 and "running as root" in capsys.readouterr().err
    assert cli.main(["lab", "--", "--allow-root"]) == 0  # asked for already: passed once
    assert launched[1].count("--allow-root") == 1


def test_allow_root_is_an_option_of_lab_itself(launched, monkeypatch):
    monkeypatch.setattr(cli.os, "geteuid", lambda: 1000)
    assert cli.main(["lab", "--allow-root"]) == 0 and "--allow-root" in launched[0]
    assert cli.main(["lab"]) == 0 and "--allow-root" not in launched[1]


def test_a_jupyter_option_before_the_separator_says_where_it_goes(launched, capsys):
    assert cli.main(["lab", "--ServerApp.log_level=DEBUG"]) == 2
    err = capsys.readouterr().err
    assert "go after `--`: workbench lab -- --ServerApp.log_level=DEBUG" in err and not launched


def test_make_lab_passes_ARGS():
    from workbench.core.paths import PROJECT_ROOT

    recipe = (PROJECT_ROOT / "Makefile").read_text().split("\nlab: setup\n", 1)[1].splitlines()[0]
    assert recipe.strip() == "$(VENV)/bin/workbench lab $(ARGS)"
