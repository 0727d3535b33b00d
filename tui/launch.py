"""Entry points from the CLI into the TUI: a live run, a replay, a resumed run."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from core.config import Settings
from core.errors import UsageError
from core.records import db_path

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from core.events import Event
    from core.records import RunRecords
    from core.session import Session
    from tui.app import DelegateApp

# A task whose check really tests the deliverable: the first attempt's bug is caught by the
# tests, the retry gets the failing output as feedback, and the run ends verified.
DEMO_TASK = "Write a Python script that converts CSV to JSON, with tests and a short usage guide"
DEMO_TOKENS_PER_S = 150.0


def tune_gc() -> None:
    """Keep garbage collection from stalling the UI (see bench/ui_load.py).

    With Textual, the SDK and 100 agent panes loaded, a full collection walks ~250k
    objects and held the event loop for 150-350 ms several times a minute. Objects alive
    at start-up are frozen (never scanned again), and a larger first generation lets
    short-lived stream objects die before they are promoted to older generations.
    """
    gc.freeze()
    gc.set_threshold(10_000, 20, 10)


def launch_live(args: argparse.Namespace, settings: Settings) -> int:
    """`delegate [TASK]` and `delegate --demo`."""
    task = getattr(args, "task", None)
    notice = None
    if getattr(args, "demo", False):
        # The demo: simulated models, a scratch workspace unless one was given, and the
        # config's command policy (by default one command of the run asks, so a new
        # user meets the approval inbox: `a` approves it).
        workspace = None
        if getattr(args, "workspace", None) is None:
            workspace = Path(tempfile.mkdtemp(prefix="delegate-demo-"))
        # At a pace a person can follow (the whole run takes about half a minute),
        # unless the config chose one.
        pace = (
            DEMO_TOKENS_PER_S if settings.sim_tokens_per_s == Settings().sim_tokens_per_s else None
        )
        settings = settings.with_overrides(
            simulate=True,
            scenario="default:approval",
            workspace=workspace,
            sim_tokens_per_s=pace,
        )
        task = task or DEMO_TASK
        notice = f"Demo workspace: {settings.workspace} (the agents' files are there)."
    try:
        return asyncio.run(_live(settings, task, notice))
    finally:
        if notice is not None:
            print(f"delegate: demo workspace: {settings.workspace}", file=sys.stderr)


def keymap(settings: Settings) -> dict[str, str]:
    """The config's `[keys]` as Textual's keymap (checked once already by the CLI)."""
    from tui.keymap import keymap_from

    return keymap_from(settings.keymap, str(settings.config_path or ""))


async def _live(settings: Settings, task: str | None, notice: str | None = None) -> int:
    from core.records import open_records
    from core.session_life import open_session
    from tui.app import DelegateApp

    tune_gc()
    # The database opens first (its errors come before the app starts); the session is
    # built once the first frame shows, and recorded into it.
    async with open_records(settings) as records, contextlib.AsyncExitStack() as life:

        async def connect() -> Session:
            # The SDK's import (about 2 s) runs in a thread while the first frame shows.
            session = open_session(settings, interactive=True, records=records)
            return await life.enter_async_context(session)

        app = DelegateApp(
            connect=connect,
            task=task,
            store=records,
            export_dir=settings.workspace,
            keymap=keymap(settings),
            start_notice=notice,
        )
        try:
            await app.run_async()
        finally:
            await app.close_session()
        if app.connect_error is not None:
            raise app.connect_error
    code = _exit_code(records, app.return_code or 0)
    say_exit(app.session)
    return code


def launch_recorded(command: str, args: argparse.Namespace, settings: Settings) -> int:
    """`delegate replay RUN` (read-only) and `delegate resume RUN`."""
    return asyncio.run(_recorded(command, args.run, settings))


def replay_command(args: argparse.Namespace, settings: Settings) -> int:
    return launch_recorded("replay", args, settings)


def resume_command(args: argparse.Namespace, settings: Settings) -> int:
    return launch_recorded("resume", args, settings)


async def _recorded(command: str, ref: str, settings: Settings) -> int:
    from core.records import open_records, records_exist
    from tui.app import DelegateApp

    tune_gc()
    if not records_exist(settings):
        raise UsageError(f"no run {ref!r}: no runs recorded yet ({db_path(settings)})")
    async with open_records(settings, readonly=command == "replay") as records:
        row = await records.find_run(ref)
        if row is None:
            raise UsageError(f"no run matches {ref!r} (see `delegate history`)")
        events = await records.events(row.run_id)
        if command == "replay":
            app = DelegateApp(
                replay_events=events,
                store=records,
                export_dir=settings.workspace,
                keymap=keymap(settings),
            )
            await app.run_async()
            return app.return_code or 0
        return await _resume(settings, records, row.run_id, events)


async def _resume(settings: Settings, records: RunRecords, run_id: str, events: list[Event]) -> int:
    async with resumed_app(settings, records, run_id, events) as app:
        await app.run_async()
    code = _exit_code(records, app.return_code or 0)
    say_exit(app.session)
    return code


@contextlib.asynccontextmanager
async def resumed_app(
    settings: Settings, records: RunRecords, run_id: str, events: list[Event]
) -> AsyncIterator[DelegateApp]:
    """The app on the recorded run `run_id` (its `events`), continued live: what the
    resumed session publishes as it starts (before the app listens) is held for the app."""
    from core.bus import EventBus, HeldEvents
    from core.session_life import open_session
    from tui.app import DelegateApp

    bus = EventBus()
    held = HeldEvents(bus)
    async with open_session(settings, resume=run_id, records=records, bus=bus) as session:
        app = DelegateApp(
            session=session,
            store=records,
            prior_events=events,
            export_dir=settings.workspace,
            autostart=False,
            keymap=keymap(settings),
            held=held,
        )
        try:
            yield app
        finally:
            await app.close_session()


def say_exit(session: Session | None) -> None:
    """After the app closed: the run id, its status and how to resume it (stdout)."""
    from tui.process_exit import exit_note

    if session is None or not session.finished:
        return
    stopped = sum(r.state == "stopped" for r in session.agents())
    print(exit_note(session.run_id, session.status, stopped), flush=True)


def _exit_code(records: RunRecords, code: int) -> int:
    """When the run's events could not all be written: one line, and 1."""
    if records.failure is not None:
        print(f"delegate: {records.failure}", file=sys.stderr)
        return 1
    return code
