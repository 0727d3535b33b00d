"""The recorded runs as the CLI and the TUI may use them: read-only queries.

The store (core.store) belongs to a session's life: `open_session` (core.session_life)
writes the run into it, flushes and closes it. Everything else reads through the
`RunRecords` it offers (`session.records`), or opens them with `open_records`.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, Protocol

from core.agent_summary import AgentSummary
from core.config import Settings, default_db_path
from core.events import Event
from core.export import run_markdown
from core.scorecard import AttemptRecord
from core.store import Store, StoreError
from core.store_schema import RunRow

__all__ = [
    "AgentSummary",
    "RecordsError",
    "RunRecords",
    "RunRow",
    "db_path",
    "open_records",
    "records_exist",
    "run_markdown",
]

# The recorded runs cannot be read or written (a corrupt, locked or full database).
RecordsError = StoreError


def db_path(settings: Settings) -> Path:
    """Where the runs are recorded: `--db`/`db_path`, else the user data dir's file."""
    return Path(settings.db_path) if settings.db_path else default_db_path()


def records_exist(settings: Settings) -> bool:
    """Whether a run database exists where `settings` point."""
    return Store.exists(db_path(settings))


class RunRecords(Protocol):
    """Read-only queries on the recorded runs (the store behind them may be writing the
    current run: `flush` waits until what it was given so far is written)."""

    @property
    def path(self) -> Path: ...

    @property
    def readonly(self) -> bool: ...

    @property
    def failure(self) -> RecordsError | None:
        """Why the current run's events can no longer be written; None while they can."""
        ...

    def on_failure(self, callback: Callable[[RecordsError], None]) -> None:
        """Call `callback` once when writing becomes impossible (disk full, I/O error)."""
        ...

    async def flush(self) -> None: ...

    async def list_runs(self, limit: int = 50) -> list[RunRow]: ...

    async def find_run(self, ref: str) -> RunRow | None:
        """A run by id, unique id prefix, or `last`."""
        ...

    async def agents(self, run_id: str) -> Sequence[AgentSummary]:
        """The run's agents, the CEO first, then in spawn order."""
        ...

    async def events(self, run_id: str) -> list[Event]: ...

    async def run_summary(self, run_id: str) -> dict[str, Any]: ...

    async def attempt_records(self, last_runs: int | None = None) -> list[AttemptRecord]: ...

    async def evidence_events(self, run_id: str) -> list[Event]: ...

    async def conversation(
        self, run_id: str, agent_id: str, attempt: int | None = None
    ) -> list[dict[str, Any]]: ...


@asynccontextmanager
async def open_records(settings: Settings, *, readonly: bool = False) -> AsyncIterator[RunRecords]:
    """The recorded runs. By default the database is opened as a session would open it
    (created if missing, migrated, runs of dead processes recorded as interrupted);
    `readonly` (a replay) changes nothing in it, and needs it to exist."""
    path = db_path(settings)
    if readonly:
        store = await Store.open_readonly(path)
    else:
        try:
            store = await Store.open(path)
        except StoreError:
            if not (Store.exists(path) and not os.access(path.parent, os.W_OK)):
                raise
            # A database on a read-only filesystem (a mounted backup, a CD): it can be
            # read as it is; nothing is recovered or migrated.
            store = await Store.open_readonly(path)
    try:
        yield store
    finally:
        await store.close()
