"""Where the independent cells of a grid run: in this process ("local") or as Ray tasks ("ray").

A suite splits a grid experiment (kurtosis × decay × seed, radius × seed × plane, models, …) into
cells, each a pure function call `fn(*args)` whose result depends only on its arguments — seeds
travel in the arguments, never in a global RNG — so "local" and "ray" give identical results;
only where the work happens changes. (A suite may run a stacked ensemble as one cell in-process
and split it for Ray where the math makes the split exact.) Bitwise identity needs equal torch
thread counts on both sides: a Ray cell runs with `cpus_per_task` threads, and float reductions
(a gradient's sums) can round differently with another thread count.

    from workbench.core.executor import Executor, map_cells
    squares = map_cells(pow, [(i, 2) for i in range(8)], Executor("ray", num_cpus=2))

Ray is an optional extra (`pip install 'interp-workbench[ray]'`). With `address=None` a local Ray
runtime is started, listening on loopback only (or the one already running in this process is
reused); `address="auto"` or `"ray://host:10001"` joins an existing cluster as Ray does.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from tqdm.auto import tqdm

from workbench.core.validation import check_int

EXECUTORS = ("local", "ray")
T = TypeVar("T")


@dataclass(frozen=True)
class Executor:
    """How to run a grid's cells.

    kind: "local" (in-process, one cell after another) or "ray" (one Ray task per cell).
    address: Ray cluster address for `ray.init(address=...)`; None starts a local runtime.
    num_cpus: CPUs of a local Ray runtime this call starts (None: all of this machine's).
    cpus_per_task: CPUs Ray reserves for each cell (each task sets torch to that many threads).
    """

    kind: str = "local"
    address: str | None = None
    num_cpus: int | None = None
    cpus_per_task: int = 1

    def __post_init__(self) -> None:
        if self.kind not in EXECUTORS:
            raise ValueError(f"`executor` must be one of {list(EXECUTORS)}; got {self.kind!r}")
        if self.address is not None and not isinstance(self.address, str):
            raise ValueError(f"`address` must be a Ray address string or None; got {self.address!r}")
        if self.num_cpus is not None:
            check_int("num_cpus", self.num_cpus, low=1)
        check_int("cpus_per_task", self.cpus_per_task, low=1)


def as_executor(executor: str | Executor | None) -> Executor:
    """Accept "local", "ray", an `Executor` or None (local)."""
    if executor is None:
        return Executor()
    if isinstance(executor, Executor):
        return executor
    if isinstance(executor, str):
        return Executor(executor)
    raise ValueError(f"`executor` must be one of {list(EXECUTORS)} or an Executor; got {executor!r}")


def map_cells(
    fn: Callable[..., T],
    cells: Sequence[tuple],
    executor: str | Executor | None = "local",
    *,
    progress: bool = False,
    description: str = "grid cells",
) -> list[T]:
    """`[fn(*cell) for cell in cells]`, run by `executor`; results in the order of `cells`.

    The executor owns where progress shows: in-process, a cell's own bars are the ones to watch,
    so a `fn` with a `progress` parameter gets `progress=progress`; as Ray tasks the cells run
    silent (`progress=False`, their bars would interleave across workers) and one bar here counts
    finished cells.

    With Ray, `fn` and its arguments are shipped to worker processes (cloudpickle), so both must
    be picklable: module-level functions and tensors are. Tensors come back on the device the
    worker put them on; keep cells' results on the CPU when mixing machines.
    """
    ex = as_executor(executor)
    local = ex.kind == "local"
    if _takes_progress(fn):
        fn = functools.partial(fn, progress=progress and local)
    if local:
        return [fn(*cell) for cell in cells]
    return _map_ray(fn, list(cells), ex, progress, description)


def _takes_progress(fn: Callable[..., object]) -> bool:
    try:
        return "progress" in inspect.signature(fn).parameters
    except (TypeError, ValueError):  # builtins without a signature
        return False


def _ray_module() -> Any:
    try:
        import ray
    except ImportError as err:
        raise ValueError("`executor='ray'` needs Ray: pip install 'interp-workbench[ray]'") from err
    return ray


def ensure_ray(ex: Executor) -> Any:
    """Connect to (or start) the Ray runtime `ex` names; reuse one this process already started.

    A runtime started here (`address=None`) listens on loopback only (see `_start_local_ray`);
    with an `address` Ray joins the user's cluster exactly as `ray.init(address=...)` does.
    """
    ray = _ray_module()
    if not ray.is_initialized():
        if ex.address is None:
            _start_local_ray(ray, ex.num_cpus)
        else:
            ray.init(address=ex.address, include_dashboard=False, log_to_driver=False,
                     configure_logging=False)
    return ray


def _start_local_ray(ray: Any, num_cpus: int | None) -> None:
    """Start a local Ray runtime whose servers listen on loopback only, dashboard off.

    Ray 2.60 binds its GCS, raylet (node manager, object manager), core workers, runtime-env agent
    and autoscaler monitor to loopback when the node IP is loopback, and to every interface
    (0.0.0.0 / ::) otherwise. `_node_ip_address="127.0.0.1"` alone is not enough: ray.init swaps
    a loopback node IP for this machine's routable one unless Ray's "clusters" switch is off (the
    switch behind RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER, off by default on macOS and Windows so a local
    runtime stays on loopback there). It is read while ray.init resolves the node IP, so it is
    turned off for this start only; a later `address=` join sees Ray's own setting. Ray's token
    authentication is left as Ray sets it: on for a new local runtime unless RAY_AUTH_MODE says
    otherwise.
    """
    from ray._private import ray_constants  # Ray 2.60 has no public knob for this

    # A local runtime's workers inherit this process's environment (WORKBENCH_CACHE, offline
    # flags); a `runtime_env` would cost seconds per worker for nothing here.
    saved = getattr(ray_constants, "ENABLE_RAY_CLUSTER", True)
    ray_constants.ENABLE_RAY_CLUSTER = False
    try:
        ray.init(address=None, num_cpus=num_cpus, _node_ip_address="127.0.0.1",
                 include_dashboard=False, log_to_driver=False, configure_logging=False)
    finally:
        ray_constants.ENABLE_RAY_CLUSTER = saved
    node_ip = ray.util.get_node_ip_address()
    if not _is_loopback(node_ip):
        # A Ray whose internals moved on would listen on the network: refuse rather than expose.
        ray.shutdown()
        raise ValueError(
            f"`executor='ray'` could not keep the local Ray runtime on loopback (Ray "
            f"{ray.__version__} chose node IP {node_ip}); start Ray yourself and pass `address`"
        )


def _is_loopback(host: str) -> bool:
    """Whether `host` (an IP, possibly IPv4-mapped IPv6, or "localhost") is a loopback address."""
    import ipaddress

    if host == "localhost":
        return True
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return False
    mapped = getattr(ip, "ipv4_mapped", None)  # ::ffff:127.0.0.1 is loopback; 3.11 says no
    return (mapped or ip).is_loopback


def _in_worker(fn: Callable[..., T], threads: int, *args: Any) -> T:
    from workbench.core.threads import torch_threads  # torch only where a cell runs, as before

    # Ray reserved `threads` CPUs for this cell: don't oversubscribe them. With the default of one
    # this is also what `workbench.core.threads` picks in-process for the suites' small work, so
    # local and Ray cells run on the same thread count (and give the same bits). A worker process
    # runs many tasks: restore its count after each.
    with torch_threads(threads):
        return fn(*args)


def _map_ray(fn: Callable[..., T], cells: list[tuple], ex: Executor, progress: bool, description: str) -> list[T]:
    ray = ensure_ray(ex)
    task = ray.remote(num_cpus=ex.cpus_per_task)(_in_worker)
    refs = [task.remote(fn, ex.cpus_per_task, *cell) for cell in cells]
    pending = list(refs)
    with tqdm(total=len(refs), desc=f"{description} (ray)", disable=not progress, leave=False) as bar:
        while pending:
            done, pending = ray.wait(pending, num_returns=1)
            bar.update(len(done))
    return ray.get(refs)
