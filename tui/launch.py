"""Entry points from the CLI into the TUI: a live run, a replay, a resumed run."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import importlib
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from core.config import Settings
from tui.cli import UsageError, db_path

if TYPE_CHECKING:
    from core.session import Session

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
        # The demo must run with no typing: simulated models, commands allowed, and a
        # scratch workspace unless one was given.
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
            scenario="default",
            permission_mode="allow",
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
    from core.store import Store
    from tui.app import DelegateApp

    tune_gc()
    store = await Store.open(db_path(settings))

    async def connect() -> Session:
        # The SDK's import (about 2 s) runs in a thread while the first frame shows.
        await asyncio.to_thread(importlib.import_module, "core.session")
        from core.session import Session

        session = Session(settings, interactive=True)
        session.bus.subscribe(store.append)
        return session

    try:
        app = DelegateApp(
            connect=connect,
            task=task,
            store=store,
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
        code = await _flushed(store, app.return_code or 0)
        say_exit(app.session)
    finally:
        await store.close()
    return code


def launch_recorded(command: str, args: argparse.Namespace, settings: Settings) -> int:
    """`delegate replay RUN` (read-only) and `delegate resume RUN`."""
    return asyncio.run(_recorded(command, args.run, settings))


async def _recorded(command: str, ref: str, settings: Settings) -> int:
    from core.store import Store
    from tui.app import DelegateApp

    tune_gc()
    path = db_path(settings)
    if not Store.exists(path):
        raise UsageError(f"no run {ref!r}: no runs recorded yet ({path})")
    store = await (Store.open_readonly(path) if command == "replay" else Store.open(path))
    try:
        row = await store.find_run(ref)
        if row is None:
            raise UsageError(f"no run matches {ref!r} (see `delegate history`)")
        events = await store.events(row.run_id)
        if command == "replay":
            app = DelegateApp(
                replay_events=events,
                store=store,
                export_dir=settings.workspace,
                keymap=keymap(settings),
            )
            await app.run_async()
            return app.return_code or 0
        return await _resume(settings, store, row.run_id, events)
    finally:
        await store.close()


async def _resume(settings: Settings, store: Any, run_id: str, events: list[Any]) -> int:
    from core.bus import EventBus
    from core.resume import open_resumed
    from tui.app import DelegateApp

    bus = EventBus()
    bus.subscribe(store.append)  # before the session starts, so its first events are kept
    session = await open_resumed(settings, store, run_id, bus=bus)
    app = DelegateApp(
        session=session,
        store=store,
        prior_events=events,
        export_dir=settings.workspace,
        autostart=False,
        keymap=keymap(settings),
    )
    try:
        await app.run_async()
    finally:
        await app.close_session()
    code = await _flushed(store, app.return_code or 0)
    say_exit(session)
    return code


def say_exit(session: Session | None) -> None:
    """After the app closed: the run id, its status and how to resume it (stdout)."""
    from tui.process_exit import exit_note

    if session is None or not session.finished:
        return
    stopped = sum(r.state == "stopped" for r in session.supervisor.records.values())
    print(exit_note(session.run_id, session.status, stopped), flush=True)


async def _flushed(store: Any, code: int) -> int:
    """Write what is left; when the run's events could not be written, one line and 1."""
    from core.store import StoreError

    with contextlib.suppress(StoreError):
        await store.flush()
    if store.failure is not None:
        print(f"delegate: {store.failure}", file=sys.stderr)
        return 1
    return code
