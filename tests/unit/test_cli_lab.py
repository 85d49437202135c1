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
