"""The `workbench` command: `workbench reproduce [--suite S] [--quick] [--out DIR] [--executor ray]`,
`workbench lab`."""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from workbench.core.cache import ArtifactCache
from workbench.core.executor import EXECUTORS, Executor
from workbench.core.paths import PROJECT_ROOT, check_output_dir
from workbench.plots.export import figures_root
from workbench.registry import SUITE_NAMES
from workbench.reproduce import reproduce_suite


def _reproduce(args: argparse.Namespace) -> int:
    names = [args.suite] if args.suite else list(SUITE_NAMES)
    # both folders checked before any suite computes; errors name the option the user typed
    out = check_output_dir("--out", args.out if args.out is not None else figures_root())
    cache = ArtifactCache(args.cache, name="--cache") if args.cache else ArtifactCache()
    executor = Executor(args.executor, address=args.ray_address)
    total = time.perf_counter()
    for name in names:
        start = time.perf_counter()
        print(f"[{name}] {'QUICK' if args.quick else 'full'} config → {out / name}", flush=True)
        paths = reproduce_suite(name, out, quick=args.quick, cache=cache, formats=tuple(args.formats.split(",")),
                                executor=executor)
        print(f"[{name}] wrote {len(paths)} files in {time.perf_counter() - start:.1f} s", flush=True)
    if len(names) > 1:
        print(f"reproduced {len(names)} suites in {time.perf_counter() - total:.1f} s", flush=True)
    return 0


def _notebook_dir() -> Path:
    folder = PROJECT_ROOT / "notebooks"
    return folder if folder.is_dir() else Path.cwd()


# Jupyter settings that would open the server beyond loopback or drop its authentication: the
# lab we start listens on 127.0.0.1 with a token, whatever else is passed through
GUARDED = ("ip", "token", "password", "allow_remote_access", "allow_origin", "allow_origin_pat", "disable_check_xsrf")


def _setting(arg: str) -> str:
    """The trait an argument sets: "--ServerApp.allow-origin=*" → "allow_origin"."""
    return arg.lstrip("-").split("=", 1)[0].rsplit(".", 1)[-1].replace("-", "_").lower()


def _jupyter_args(extra: list[str]) -> list[str]:
    """The arguments after `--` (e.g. --allow-root), refusing the ones that set a `GUARDED` trait."""
    extra = extra[1:] if extra[:1] == ["--"] else extra
    refused = [a for a in extra if a.startswith("-") and _setting(a) in GUARDED]
    if refused:
        raise ValueError(f"`jupyter_args` {refused}: `workbench lab` keeps JupyterLab on 127.0.0.1 with its token; "
                         "start jupyter yourself to change the address or the authentication")
    return extra


def _lab(args: argparse.Namespace) -> int:
    # The server keeps JupyterLab's token auth: we never pass an empty token.
    argv = [sys.executable, "-m", "jupyterlab", "--ServerApp.ip=127.0.0.1", f"--ServerApp.root_dir={_notebook_dir()}"]
    if args.port:
        argv.append(f"--ServerApp.port={args.port}")
    if args.no_browser:
        argv.append("--no-browser")
    extra = _jupyter_args(args.jupyter_args)
    as_root = hasattr(os, "geteuid") and os.geteuid() == 0
    if (args.allow_root or as_root) and "--allow-root" not in extra:
        # JupyterLab refuses to start as root without it; a container's shell is often root
        if as_root and not args.allow_root:
            print("workbench lab: running as root (uid 0), so --allow-root is passed to JupyterLab", file=sys.stderr)
        extra.append("--allow-root")
    argv += extra
    os.execv(sys.executable, argv)
    return 0  # not reached


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="workbench", description=__doc__)
    verbs = parser.add_subparsers(dest="verb", required=True)
    rep = verbs.add_parser("reproduce", help="run suites on their embedded defaults and export every figure")
    rep.add_argument("--suite", choices=SUITE_NAMES, help="one suite (default: all)")
    rep.add_argument("--quick", action="store_true", help="the small QUICK configs (seconds)")
    rep.add_argument("--out", default=None,
                     help="output folder (default: $WORKBENCH_DOCS, else the project's docs/figures)")
    rep.add_argument("--cache", default=None, help="artifact cache folder (default: $WORKBENCH_CACHE or ~/.cache)")
    rep.add_argument("--formats", default="png,html", help="comma-separated: png,html")
    rep.add_argument("--executor", choices=EXECUTORS, default="local",
                     help="where grid cells run: in this process (default) or as Ray tasks")
    rep.add_argument("--ray-address", default=None,
                     help="with --executor ray: a cluster address (default: start a local Ray runtime)")
    rep.set_defaults(func=_reproduce)
    lab = verbs.add_parser("lab", help="open JupyterLab on notebooks/ (127.0.0.1, token auth)")
    lab.add_argument("--port", type=int, default=None)
    lab.add_argument("--no-browser", action="store_true")
    lab.add_argument("--allow-root", action="store_true",
                     help="let JupyterLab run as root (added by itself when the user is root)")
    lab.add_argument("jupyter_args", nargs=argparse.REMAINDER,
                     help="after --: passed to JupyterLab (e.g. -- --allow-root); address and token stay as they are")
    lab.set_defaults(func=_lab)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args, unknown = parser.parse_known_args(argv)
    if unknown:
        hint = (f"; JupyterLab's own options go after `--`: workbench lab -- {' '.join(unknown)} "
                f"(make lab ARGS=\"-- {' '.join(unknown)}\")" if args.verb == "lab" else "")
        print(f"workbench: error: unrecognized arguments: {' '.join(unknown)}{hint}", file=sys.stderr)
        return 2
    try:
        return args.func(args)
    except (ValueError, FileNotFoundError) as err:
        print(f"workbench: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
