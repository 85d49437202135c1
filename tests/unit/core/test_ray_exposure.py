"""A local Ray runtime started for `executor="ray"` listens on loopback only, with token auth on.

Starts a real runtime (1 CPU), runs one cell, then reads the listening sockets of this process and
every process below it (GCS, raylet, workers, agents, autoscaler monitor). Ray 2.60 opens seven:
GCS, raylet ×2 (node manager, object manager), the driver's and each worker's core-worker server,
the runtime-env agent and the monitor's metrics port; any of them on a non-loopback address fails.
"""

from __future__ import annotations

import ipaddress
import os
import socket
import time

import psutil
import pytest

from workbench.core.executor import Executor, _is_loopback, ensure_ray, map_cells

# Who listens in Ray 2.60, by role (see `role`); the test waits until each has shown up, so the
# check covers them all (the monitor binds its metrics port a few seconds after ray.init returns).
ROLES = {"driver", "gcs_server", "raylet", "worker", "RuntimeEnvAgent", "monitor"}
WAIT_S = 20.0


def role(proc: psutil.Process, driver: int) -> str:
    """What a Ray process is: driver, gcs_server, raylet, worker, an agent, monitor, log_monitor."""
    if proc.pid == driver:
        return "driver"
    name = proc.name()
    if name.startswith("ray::"):  # workers rename themselves after their task (ray::IDLE)
        return name.removeprefix("ray::") if name.endswith("Agent") else "worker"
    command = " ".join(proc.cmdline())
    if "log_monitor.py" in command:
        return "log_monitor"
    return "monitor" if "monitor.py" in command else name


def listeners(root: psutil.Process) -> set[tuple[str, str, int]]:
    """(role, address, port) of every TCP listener or unconnected UDP socket of `root` and its
    descendants; processes that exit while being read are skipped."""
    found = set()
    for proc in [root, *root.children(recursive=True)]:
        try:
            who, conns = role(proc, root.pid), proc.net_connections(kind="inet")
        except psutil.Error:
            continue
        for conn in conns:
            udp_bound = conn.type == socket.SOCK_DGRAM and not conn.raddr
            if conn.status == psutil.CONN_LISTEN or udp_bound:
                found.add((who, conn.laddr.ip, conn.laddr.port))
    return found


def settled_listeners(root: psutil.Process) -> set[tuple[str, str, int]]:
    """Every listener seen until each of ROLES has one (or WAIT_S passed)."""
    found: set[tuple[str, str, int]] = set()
    deadline = time.monotonic() + WAIT_S
    while True:
        found |= listeners(root)
        if ROLES <= {who for who, _, _ in found} or time.monotonic() > deadline:
            return found
        time.sleep(0.25)


@pytest.mark.parametrize("host, loopback", [
    ("127.0.0.1", True), ("::1", True), ("::ffff:127.0.0.1", True), ("localhost", True),
    ("0.0.0.0", False), ("::", False), ("192.0.2.2", False), ("::ffff:192.0.2.2", False), ("", False),
])
def test_loopback_addresses_are_recognised(host, loopback):
    assert _is_loopback(host) is loopback
    if host not in ("localhost", ""):
        ipaddress.ip_address(host)  # the table holds real addresses


def test_a_local_ray_runtime_listens_on_loopback_only_with_token_auth():
    import ray
    from ray._raylet import AuthenticationMode, get_authentication_mode

    if ray.is_initialized():  # a runtime left by another test would be reused, not started here
        ray.shutdown()
    # Ray turns token auth on for a new local runtime unless RAY_AUTH_MODE says otherwise
    expect_token = os.environ.get("RAY_AUTH_MODE", "token").lower() == "token"
    ex = Executor("ray", num_cpus=1)
    try:
        ensure_ray(ex)
        assert map_cells(os.getpid, [()], ex) != [os.getpid()]  # a worker ran the cell
        found = settled_listeners(psutil.Process())
        auth = get_authentication_mode()
    finally:
        ray.shutdown()
    exposed = [entry for entry in found if not _is_loopback(entry[1])]
    assert not exposed, f"Ray listens beyond loopback: {exposed}"
    seen = {who for who, _, _ in found}
    assert ROLES <= seen, f"no listener seen for {sorted(ROLES - seen)}: {sorted(found)}"
    assert (auth == AuthenticationMode.TOKEN) is expect_token


class FakeRay:
    """Stands in for the `ray` module: records ray.init's arguments, reports `node_ip`."""

    __version__ = "0.0-fake"

    def __init__(self, node_ip: str) -> None:
        self.calls: list[dict] = []
        self.shut_down = False
        self.util = type("util", (), {"get_node_ip_address": staticmethod(lambda: node_ip)})

    def is_initialized(self) -> bool:
        return False

    def init(self, **kwargs) -> None:
        from ray._private import ray_constants

        self.calls.append({**kwargs, "clusters": ray_constants.ENABLE_RAY_CLUSTER})

    def shutdown(self) -> None:
        self.shut_down = True


def test_a_cluster_address_is_joined_as_given(monkeypatch):
    from ray._private import ray_constants

    fake = FakeRay("192.0.2.2")
    monkeypatch.setattr("workbench.core.executor._ray_module", lambda: fake)
    ensure_ray(Executor("ray", address="ray://head:10001"))
    assert fake.calls == [{"address": "ray://head:10001", "include_dashboard": False, "log_to_driver": False,
                           "configure_logging": False, "clusters": ray_constants.ENABLE_RAY_CLUSTER}]
    assert not fake.shut_down


def test_a_local_runtime_off_loopback_is_shut_down_and_refused(monkeypatch):
    from ray._private import ray_constants

    before = ray_constants.ENABLE_RAY_CLUSTER
    fake = FakeRay("192.0.2.2")  # as if a later Ray ignored the loopback request
    monkeypatch.setattr("workbench.core.executor._ray_module", lambda: fake)
    with pytest.raises(ValueError, match="`executor='ray'` could not keep the local Ray runtime on loopback"):
        ensure_ray(Executor("ray", num_cpus=1))
    assert fake.shut_down
    assert fake.calls[0]["_node_ip_address"] == "127.0.0.1" and fake.calls[0]["clusters"] is False
    assert ray_constants.ENABLE_RAY_CLUSTER == before  # restored for later `address=` joins
