"""`delegate worker --temporal HOST:PORT [--workspace DIR]`: run sub-agents for sessions
on `--runner temporal`, on this machine, for the workspace here."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys
from pathlib import Path

from core.config import Settings, address_problem
from core.errors import UsageError


class WorkerUsageError(UsageError):
    """Bad `delegate worker` options: one line, exit 2."""


def worker_command(args: argparse.Namespace, settings: Settings) -> int:
    from core.temporal.errors import require_sdk

    require_sdk()
    address = args.temporal or settings.temporal_address
    if not address:
        raise WorkerUsageError("worker: --temporal HOST:PORT is required (or [runner] temporal)")
    problem = address_problem(address)
    if problem:
        raise WorkerUsageError(f"worker: --temporal {problem}")
    settings = settings.with_overrides(workspace=Path(settings.workspace).resolve())
    return asyncio.run(_serve(args, settings, address))


async def _serve(args: argparse.Namespace, settings: Settings, address: str) -> int:
    from temporalio.client import Client

    from core import redact
    from core.llm import ModelClient
    from core.model_access import open_model_access
    from core.temporal.errors import unreachable
    from core.temporal.worker import WorkerGroup, build_workers, make_host, workspace_name

    access = open_model_access(settings)
    if not access.simulated:
        redact.configure([getattr(access.client, "api_key", None)])
    workspace = settings.workspace
    queue = args.queue or settings.workspace_queue or workspace_name(workspace)
    try:
        client = await asyncio.wait_for(Client.connect(address), 10)
    except Exception as exc:
        raise unreachable(address, exc, 10) from None
    model = ModelClient(
        access.client, retries=settings.turn_retries, base_delay_s=settings.retry_base_delay_s
    )
    conversations = Path(args.conversations) if args.conversations else None
    host = make_host(settings, model, workspace, conversations)
    group = WorkerGroup(build_workers(client, host, queue, workflows=not args.no_workflows), host)
    models = f"simulated models ({access.describe})" if access.simulated else access.describe
    print(
        f"delegate worker: workspace {queue!r} ({workspace}) on Temporal at {address}; "
        f"{host.runner.describe()}; {models}. Ctrl-C stops it.",
        file=sys.stderr,
        flush=True,
    )
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    waiter = asyncio.ensure_future(stop.wait())
    runs = asyncio.ensure_future(group.run())  # until a worker stops, or Ctrl-C
    await asyncio.wait([waiter, runs], return_when=asyncio.FIRST_COMPLETED)
    waiter.cancel()
    await group.stop()
    with contextlib.suppress(Exception):
        await access.aclose()
    from tui.process_exit import mark_written

    mark_written()
    return 0


def add_worker_options(p: argparse.ArgumentParser) -> None:
    p.description = (
        "Run sub-agents for sessions on --runner temporal: their workflows, model turns and "
        "the tool calls of this workspace. Start one on each machine that holds a workspace."
    )
    p.add_argument("--temporal", metavar="HOST:PORT", help="the Temporal server's frontend")
    p.add_argument(
        "--queue",
        metavar="NAME",
        help="the workspace's name sessions use (default: its folder's name; "
        "[runner] workspace_queue)",
    )
    p.add_argument(
        "--conversations",
        metavar="DIR",
        help="where this worker keeps agents' conversations (default: in your user data dir)",
    )
    p.add_argument(
        "--no-workflows",
        action="store_true",
        help="run only this workspace's activities, no workflow tasks",
    )
