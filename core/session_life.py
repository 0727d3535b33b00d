"""The life of a session: `async with open_session(settings, ...) as session`.

It owns what a run needs around the Session: the store the run is written into (opened
before anything else, so its errors come first), the bus subscription that writes
every event, the model client, and at the end: the session closed (every agent and
process stopped), every event written, the store closed. Live, resumed (`resume=`) and
headless runs all go through it; a replay only reads (`core.records.open_records`).

This module is cheap to import: the SDK and the session's modules are imported in a
thread, while the store opens, so a UI can draw its first frame meanwhile.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

from core.bus import EventBus
from core.config import Settings
from core.records import RunRecords, db_path
from core.store import Store, StoreError

if TYPE_CHECKING:
    from core.model_access import ModelAccess
    from core.session import Session


def _model_access(settings: Settings) -> ModelAccess:
    """The SDK's import (the bulk of start-up) and the client, built off the loop."""
    import core.session  # noqa: F401  (the SDK and the session's modules, imported here)
    from core.model_access import open_model_access

    return open_model_access(settings)


async def _open(settings: Settings) -> tuple[Store, ModelAccess]:
    """The store and the model client at once: the database opens (its file work in
    sqlite's thread, its steps on the loop) while the SDK imports and the client is
    built in another thread. The store's errors come first, as they did when it opened
    alone; whatever did open is closed when the other failed."""
    opened: tuple[Any, Any] = await asyncio.gather(
        Store.open(db_path(settings)),
        asyncio.to_thread(_model_access, settings),
        return_exceptions=True,
    )
    store, access = opened
    if isinstance(store, BaseException) or isinstance(access, BaseException):
        if not isinstance(store, BaseException):
            await store.close()
        if not isinstance(access, BaseException):
            await access.aclose()
        raise store if isinstance(store, BaseException) else access
    return store, access


@asynccontextmanager
async def open_session(
    settings: Settings,
    *,
    interactive: bool = False,
    resume: str | None = None,
    records: RunRecords | None = None,
    access: ModelAccess | None = None,
    bus: EventBus | None = None,
) -> AsyncIterator[Session]:
    """A Session whose run is recorded; on leaving, it is closed and fully written.

    `resume`: reopen that recorded run (it starts at once, interactive). `records`: an
    already open, writable store to record into (kept open on leaving: its opener
    closes it); by default the database of `settings` is opened here. `session.records`
    answers read-only queries (history, summaries) on the same database. `bus`: the
    resumed session's bus (to subscribe before it starts and publishes its first events).
    """
    owned = records is None
    client: ModelAccess
    if records is None and access is not None:
        store, client = await Store.open(db_path(settings)), access
    elif records is None:
        store, client = await _open(settings)
    else:
        assert isinstance(records, Store) and not records.readonly
        store = records
        client = access if access is not None else await asyncio.to_thread(_model_access, settings)
    try:
        session = await _session(
            settings, store, client, interactive=interactive, resume=resume, bus=bus
        )
    except BaseException:
        await client.aclose()
        if owned:
            await store.close()
        raise
    try:
        yield session
    finally:
        try:
            await session.close()
        finally:
            with contextlib.suppress(StoreError):  # said once already, by `failure`
                await store.flush()
            if owned:
                await store.close()


async def _session(
    settings: Settings,
    store: Store,
    access: ModelAccess,
    *,
    interactive: bool,
    resume: str | None,
    bus: EventBus | None = None,
) -> Session:
    from core.session import Session

    if resume is None:
        session = Session(settings, interactive=interactive, access=access)
        await _reach_runner(session)  # before the store listens: nothing is recorded
        session.bus.subscribe(store.append)
    else:
        from core.resume import open_resumed

        bus = bus or EventBus()
        bus.subscribe(store.append)  # before the session starts, so its first events are kept
        session = await open_resumed(settings, store, resume, bus=bus, access=access)
        await _reach_runner(session)
    session.records = store
    return session


async def _reach_runner(session: Session) -> None:
    """A named Temporal server must answer before anything starts: one error line, not
    a recorded run whose every agent fails. (A local dev server warms up while the CEO
    plans.)"""
    settings = session.settings
    if settings.runner != "temporal" or settings.temporal_address is None:
        return
    opener = getattr(session.agent_runner, "open", None)
    if opener is None:
        return
    try:
        await opener()
    except BaseException:
        await session.close()
        raise
