"""A real JupyterLab server for the browser tests (session scope).

Every suite's notebooks are served as `<suite>/<name>.ipynb` (QUICK injected); one server serves the
whole test run. The server runs from this venv in its own process group (`setsid`), on a free port of 127.0.0.1,
with token auth on (a random token), and with everything it writes kept under tmp folders: the
notebook copy, the user config, runtime, settings and workspaces folders, and the test session's
artifact cache (`WORKBENCH_CACHE`, shared with tests/conftest.py: a QUICK result computed by a
kernel here is loaded by the other tests, and the other way round, instead of computed twice). The
kernel spec and the lab extensions (ipywidgets, anywidget, plotly) are
still found in the venv's `share/jupyter`, which Jupyter looks up from `sys.prefix`.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import nbformat
import pytest

REPO = Path(__file__).resolve().parents[2]
NOTEBOOKS = REPO / "notebooks"
STARTUP_TIMEOUT_S = 60.0


@dataclass
class LabServer:
    url: str  # http://127.0.0.1:PORT
    token: str
    root: Path
    log: Path
    proc: subprocess.Popen
    docs: Path  # $WORKBENCH_DOCS of the server's kernels: where the Export button writes

    def api(self, path: str, method: str = "GET", timeout: float = 5.0) -> tuple[int, bytes]:
        """One authenticated request to the server's REST API (token in the header)."""
        req = urllib.request.Request(f"{self.url}{path}", method=method,
                                     headers={"Authorization": f"token {self.token}"})
        try:
            with urllib.request.urlopen(req, timeout=timeout) as resp:
                return resp.status, resp.read()
        except urllib.error.HTTPError as err:
            return err.code, err.read()

    def log_tail(self, lines: int = 60) -> str:
        try:
            text = self.log.read_text(errors="replace")
        except OSError as err:
            return f"<no server log: {err}>"
        return "\n".join(text.splitlines()[-lines:])


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _quick_copies(dest: Path) -> list[Path]:
    """Copy every suite's notebooks into `dest/<suite>/`, each with `QUICK = True` right after its
    parameters cell."""
    written = []
    for path in sorted(NOTEBOOKS.glob("*/*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        at = next((i for i, c in enumerate(nb.cells) if "parameters" in c.get("metadata", {}).get("tags", [])), None)
        if at is None:
            raise AssertionError(f"{path} has no cell tagged 'parameters'")
        nb.cells.insert(at + 1, nbformat.v4.new_code_cell("QUICK = True"))
        out = dest / path.parent.name / path.name
        out.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(nb, out)
        written.append(out)
    return written


def _stop(proc: subprocess.Popen) -> None:
    """SIGTERM the server's own process group (it leads it: setsid), then SIGKILL if it lingers."""
    if proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait(timeout=10)
    # kernels are in the same group (they inherit it); make sure none survived the server
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


@pytest.fixture(scope="session")
def lab_server(tmp_path_factory: pytest.TempPathFactory, session_cache):
    base = tmp_path_factory.mktemp("lab")
    root = base / "notebooks"
    root.mkdir()
    _quick_copies(root)
    dirs = {name: base / name for name in ("config", "runtime", "settings", "workspaces")}
    for d in dirs.values():
        d.mkdir()
    # No news, no update checks, no "would you like news?" toast over the notebook.
    notif = dirs["settings"] / "@jupyterlab" / "apputils-extension" / "notification.jupyterlab-settings"
    notif.parent.mkdir(parents=True)
    notif.write_text(json.dumps({"fetchNews": "false", "checkForUpdates": False}))

    env = dict(os.environ)
    env.update(
        WORKBENCH_CACHE=str(session_cache.root),
        WORKBENCH_DOCS=str(base / "docs_figures"),  # where the Export button writes
        JUPYTER_CONFIG_DIR=str(dirs["config"]),  # isolates ~/.jupyter; the venv's etc/jupyter still applies
        JUPYTER_RUNTIME_DIR=str(dirs["runtime"]),
        JUPYTERLAB_SETTINGS_DIR=str(dirs["settings"]),
        JUPYTERLAB_WORKSPACES_DIR=str(dirs["workspaces"]),
        PYTHONUNBUFFERED="1",
    )
    env.pop("JUPYTER_DATA_DIR", None)
    env.pop("JUPYTER_PATH", None)
    # the kernel's "python" resolves to sys.executable (jupyter_client); keep the venv first anyway
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"

    port = _free_port()
    token = secrets.token_hex(24)
    log = base / "jupyterlab.log"
    argv = [
        "setsid", sys.executable, "-m", "jupyterlab",
        "--no-browser",
        "--ServerApp.ip=127.0.0.1",
        f"--ServerApp.port={port}",
        "--ServerApp.port_retries=0",
        f"--IdentityProvider.token={token}",
        f"--ServerApp.root_dir={root}",
        "--LabApp.news_url=None",
        "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
        "--LabApp.expose_app_in_browser=True",  # window.jupyterapp: diagnostics and a run-all fallback
        "--LabApp.extension_manager=readonly",  # no PyPI look-ups: there is no network
    ]
    if os.geteuid() == 0:  # containers and CI often run as root; jupyter refuses that without this flag
        argv.append("--ServerApp.allow_root=True")
    with open(log, "wb") as log_fh:
        proc = subprocess.Popen(argv, env=env, cwd=root, stdout=log_fh, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL)
    server = LabServer(url=f"http://127.0.0.1:{port}", token=token, root=root, log=log, proc=proc,
                       docs=base / "docs_figures")
    try:
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"jupyterlab exited with {proc.returncode} before answering; "
                                   f"log {log}:\n{server.log_tail()}")
            try:
                with urllib.request.urlopen(f"{server.url}/api/status?token={token}", timeout=2) as resp:
                    if resp.status == 200:
                        break
            except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"jupyterlab did not answer /api/status within {STARTUP_TIMEOUT_S:.0f} s; "
                                   f"log {log}:\n{server.log_tail()}")
            time.sleep(0.25)
        yield server
    finally:
        if proc.poll() is None:
            # shut the kernels down through the API first (clean exit), then the server's group
            try:
                status, body = server.api("/api/kernels")
                if status == 200:
                    for kernel in json.loads(body):
                        server.api(f"/api/kernels/{kernel['id']}", method="DELETE", timeout=10)
            except Exception:  # noqa: BLE001 - best effort: the process group kill below covers it
                pass
        _stop(proc)
