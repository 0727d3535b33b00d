"""`delegate serve`: the same TUI in a browser, through textual-serve.

textual-serve runs a shell command for each browser connection (a new process per tab,
its terminal drawn by xterm.js in the page). The command is this delegate, run by this
Python, with the settings this command resolved: the same database, config, workspace
and simulator choice, so a browser tab records its run where `delegate history` and the
terminal app look.
"""

from __future__ import annotations

import argparse
import ipaddress
import os
import shlex
import socket
import sys
from pathlib import Path
from typing import Any

from core.config import Settings
from core.errors import UsageError
from core.records import db_path

INSTALL_HINT = "delegate serve needs textual-serve: pip install 'delegate[serve]'"


def served_argv(args: argparse.Namespace, settings: Settings) -> list[str]:
    """The delegate command each browser tab runs (an argv; absolute paths)."""
    argv = [sys.executable, "-m", "tui.cli"]
    if getattr(args, "demo", False):
        argv.append("--demo")
    argv += ["--db", str(db_path(settings).expanduser().absolute())]
    if settings.config_path is not None:
        argv += ["--config", str(Path(settings.config_path).expanduser().absolute())]
    if getattr(args, "workspace", None) is not None:
        argv += ["--workspace", str(Path(settings.workspace).absolute())]
    if getattr(args, "simulate", None):
        argv.append("--simulate")
    if getattr(args, "yes", None):
        argv.append("--yes")
    for flag, dest in (
        ("--scenario", "scenario"),
        ("--max-concurrent", "max_concurrent"),
        ("--ceo-model", "ceo_model"),
        ("--budget-usd", "budget_usd"),
        ("--runner", "runner"),
        ("--temporal", "temporal"),
    ):
        value = getattr(args, dest, None)
        if value is not None:
            argv += [flag, str(value)]
    return argv


def package_root() -> Path:
    """The folder that holds the `tui` and `core` packages this process runs."""
    return Path(__file__).resolve().parent.parent


def child_environment() -> dict[str, str]:
    """This process's environment, with our packages first on the path (a checkout run
    with PYTHONPATH, an editable install or a wheel: the child imports the same code)."""
    env = dict(os.environ)
    root = str(package_root())
    parts = [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]
    env["PYTHONPATH"] = os.pathsep.join([root, *[p for p in parts if p != root]])
    return env


def free_port(host: str, port: int = 0) -> int:
    """`port` if it can be listened on at `host` now (0: a free one); OSError if not."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((host, port))
        return int(s.getsockname()[1])


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_database(settings: Settings) -> None:
    """Open (creating) and close the database the tabs will record into."""
    import asyncio

    from core.records import open_records

    async def probe() -> None:
        async with open_records(settings):
            pass

    asyncio.run(probe())


def serve_command(args: argparse.Namespace, settings: Settings) -> int:
    try:
        from textual_serve.server import Server
    except ImportError:
        raise UsageError(INSTALL_HINT) from None
    check_database(settings)  # a bad database is said here, not in every browser tab
    host = args.host
    if not 0 <= args.port < 65536:
        raise UsageError(f"--port must be between 0 and 65535, got {args.port}")
    try:
        port = free_port(host, args.port)
    except OSError as exc:
        why = exc.strerror or str(exc)
        raise UsageError(f"--host {host} --port {args.port}: cannot listen there ({why})") from None
    shown_host = f"[{host}]" if ":" in host else host
    public_url = args.public_url or f"http://{shown_host}:{port}"
    command = shlex.join(served_argv(args, settings))
    os.environ.update(child_environment())  # textual-serve passes os.environ to each tab
    print(
        f"delegate: serving on {public_url} (each browser tab runs its own delegate; ctrl+c stops)",
        file=sys.stderr,
        flush=True,
    )
    if not is_loopback(host):
        print(
            f"delegate: warning: {host} is reachable from other machines and there is no "
            "login: anyone who opens the page drives agents that run commands",
            file=sys.stderr,
            flush=True,
        )
    server: Any = Server(command, host=host, port=port, title="delegate", public_url=public_url)
    try:
        server.serve()
    except OSError as exc:
        raise UsageError(f"cannot serve on {host}:{port} ({exc.strerror or exc})") from None
    return 0
