"""The SQLite event store: one file, one connection per process, one writer task.

Events go in through `append` (an event bus callback; see `core.store_writer` for
batching and text-delta coalescing) and come back out for history (`list_runs`,
`find_run`, `agents`), replay (`events`) and resume (`conversation`). The `runs`
and `agents` tables are projections the writer keeps current in the same
transaction as the events. The API key is never stored: no event carries it.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import sqlite3
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import aiosqlite

from core import redact
from core.events import CEO_ID, AgentFinished, AgentState, Event, RunFinished
from core.evidence import EVIDENCE_KINDS, EvidenceBook
from core.outcome import Verification
from core.projections import INTERRUPTED_REASON, pid_alive
from core.scorecard import AttemptRecord
from core.store_schema import (
    AGENT_COLUMNS,
    ATTEMPT_COLUMNS,
    ESTIMATED,
    MIGRATIONS,
    NOT_OURS,
    RUN_COLUMNS,
    SCHEMA,
    SCHEMA_VERSION,
    AgentRow,
    AmbiguousRunError,
    RunRow,
    StoreError,
    agent_row,
    run_row,
    shadow_views,
    store_error,
)
from core.store_writer import StoreStats, StoreWriter

__all__ = ["AgentRow", "AmbiguousRunError", "RunRow", "Store", "StoreError", "StoreStats"]

log = logging.getLogger(__name__)

TABLE_COLUMNS = {
    "runs": RUN_COLUMNS,
    "agents": AGENT_COLUMNS,
    "attempts": ATTEMPT_COLUMNS,
    "events": "run_id, seq, ts, kind, agent_id, payload",
}
# How long opening waits for another process's write lock before "database is locked".
BUSY_TIMEOUT_S = 5.0


def _absolute(path: Path) -> Path:
    return path.expanduser().absolute()


def _create_private(path: Path) -> Path:
    """Create the database file readable by the owner only (and its directory, 0700).

    SQLite gives the -wal and -shm files the mode of the database file.
    """
    path = _absolute(path)
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        with contextlib.suppress(FileExistsError):
            os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
    except OSError as exc:
        raise StoreError(f"cannot create database ({exc.strerror}): {path}") from None
    return path


class Store:
    """Open with `Store.open` (read-write) or `Store.open_readonly`; close with `close`."""

    def __init__(self, db: aiosqlite.Connection, path: Path, readonly: bool) -> None:
        self.path = path
        self.readonly = readonly
        self._db = db
        self._writer = None if readonly else StoreWriter(db, path)
        self._empty = False  # a read-only store on a file with no schema yet
        self._closed = False

    # --- opening and writing ----------------------------------------------------

    @staticmethod
    def exists(path: Path) -> bool:
        return _absolute(Path(path)).is_file()

    @classmethod
    async def open(cls, path: Path, *, busy_timeout_s: float | None = None) -> Store:
        """Open (creating with mode 0600) or migrate the store; recover runs of dead processes.

        A run left 'running' by a process that is gone gets, through the normal write
        path, AgentStateChanged + AgentFinished('interrupted') for each live agent and
        RunFinished('interrupted'), so replay and history both show how it ended.
        Nothing is ever deleted or overwritten: a corrupt or locked file raises StoreError.
        """
        path = _create_private(Path(path))
        busy_s = BUSY_TIMEOUT_S if busy_timeout_s is None else busy_timeout_s
        store = await cls._connect(path, str(path), False, busy_s)
        assert store._writer is not None
        try:
            version = await store._version()  # first: proves it is a database we can read
            mode = await store._db.execute_fetchall("PRAGMA journal_mode=WAL")
            if str(next(iter(mode))[0]).lower() != "wal":
                raise StoreError(f"cannot switch the database to WAL mode: {path}")
            await store._db.execute("PRAGMA synchronous=NORMAL")
            if version is None:  # a new file
                await store._db.executescript(SCHEMA)
            else:  # an older one: brought up to this version, step by step
                for step in range(version, SCHEMA_VERSION):
                    await store._db.executescript(MIGRATIONS[step])
            await store._writer.recover()
        except BaseException as exc:
            await store._db.close()
            if isinstance(exc, sqlite3.Error):
                raise store_error(exc, path) from None
            raise
        store._writer.start()
        return store

    @classmethod
    async def open_readonly(cls, path: Path) -> Store:
        """For `history`/`show`/`replay`: never creates, migrates or recovers anything."""
        path = _absolute(Path(path))
        if not cls.exists(path):
            raise StoreError(f"no database at {path}")
        try:
            return await cls._open_ro(path, path.as_uri() + "?mode=ro")
        except StoreError:
            if os.access(path.parent, os.W_OK):
                raise
            # On a read-only filesystem SQLite cannot make the WAL's -shm file that a
            # read needs; nobody can write there either, so the file is immutable.
            return await cls._open_ro(path, path.as_uri() + "?mode=ro&immutable=1")

    @classmethod
    async def _open_ro(cls, path: Path, target: str) -> Store:
        store = await cls._connect(path, target, True, BUSY_TIMEOUT_S)
        try:
            version = await store._version()
            store._empty = version is None
            for view in shadow_views(version or SCHEMA_VERSION):  # an older file, unchanged
                await store._db.execute(view)
        except BaseException as exc:
            await store._db.close()
            if isinstance(exc, sqlite3.Error):
                raise store_error(exc, path) from None
            raise
        return store

    @classmethod
    async def _connect(cls, path: Path, target: str, readonly: bool, busy_s: float) -> Store:
        try:
            db = await aiosqlite.connect(target, isolation_level=None, timeout=busy_s, uri=readonly)
        except sqlite3.Error as exc:
            raise store_error(exc, path) from None
        return cls(db, path, readonly)

    async def _version(self) -> int | None:
        """The schema version (None: a new, empty file); reading it proves the file is ours.

        A file with other tables, a `schema_version` that is not a number, or one of our
        tables or columns missing is "not a delegate database (or a damaged one)".
        """
        tables = {
            r[0]
            for r in await self._db.execute_fetchall(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
            )
        }
        if "meta" not in tables:
            if tables:
                raise self._not_ours()
            return None
        rows = list(
            await self._db.execute_fetchall("SELECT value FROM meta WHERE key='schema_version'")
        )
        try:
            version = int(rows[0][0])
        except (IndexError, TypeError, ValueError):
            raise self._not_ours() from None
        if version > SCHEMA_VERSION:
            raise StoreError(f"database is from a newer delegate (schema {version}): {self.path}")
        if version < 1:
            raise self._not_ours()
        for table, columns in TABLE_COLUMNS.items():
            if version < 2 and table in ESTIMATED:  # added by version 2
                columns = columns.removesuffix(", estimated")
            try:
                await self._db.execute_fetchall(f"SELECT {columns} FROM {table} LIMIT 0")
            except sqlite3.OperationalError:
                raise self._not_ours() from None
        return version

    def _not_ours(self) -> StoreError:
        return StoreError(f"{NOT_OURS}: {self.path}")

    @property
    def failure(self) -> StoreError | None:
        """Set once nothing more can be written (disk full, I/O error): one line for the user."""
        return None if self._writer is None else self._writer.failure

    def on_failure(self, callback: Callable[[StoreError], None]) -> None:
        """Call `callback` once, from the writer task, when writing becomes impossible."""
        if self._writer is not None:
            self._writer.on_failure = callback

    def append(self, event: Event) -> None:
        """Queue an event; never blocks or awaits. Usable as `bus.subscribe(store.append)`."""
        if self._writer is None:
            raise StoreError(f"store is read-only: {self.path}")
        self._writer.append(event)

    async def flush(self) -> None:
        """Wait until everything appended so far is committed (or has failed, logged)."""
        if self._writer is not None:
            await self._writer.flush()

    async def close(self) -> None:
        """Flush, stop the writer and close the connection. Idempotent."""
        if self._closed:
            return
        self._closed = True
        try:
            if self._writer is not None:
                await self._writer.close()
        finally:
            try:
                await self._db.close()
            except sqlite3.Error:
                if self.failure is None:  # already said once: the disk is full
                    raise

    @property
    def stats(self) -> StoreStats:
        if self._writer is None:
            return StoreStats(0, 0, 0, 0, 0, 0.0, 0, 0)
        return self._writer.stats

    # --- reading ---------------------------------------------------------------

    async def _fetch(self, sql: str, params: tuple[Any, ...] = ()) -> list[Any]:
        """Rows of a query, secrets redacted: a run stored before a secret was known (or
        by an older version) comes out clean in replays, exports and resumed agents."""
        try:
            rows = list(await self._db.execute_fetchall(sql, params))
        except sqlite3.Error as exc:
            raise store_error(exc, self.path) from None
        return redact.current().deep(rows)

    async def list_runs(self, limit: int = 50) -> list[RunRow]:
        """Newest first. Reads see what is committed: `flush()` first for your own writes."""
        if self._empty:
            return []
        rows = await self._fetch(
            f"SELECT {RUN_COLUMNS} FROM runs ORDER BY created_at DESC, rowid DESC LIMIT ?",
            (limit,),
        )
        return [run_row(r) for r in rows]

    async def get_run(self, run_id: str) -> RunRow | None:
        if self._empty:
            return None
        rows = await self._fetch(f"SELECT {RUN_COLUMNS} FROM runs WHERE run_id = ?", (run_id,))
        return run_row(rows[0]) if rows else None

    async def find_run(self, ref: str) -> RunRow | None:
        """An exact run id, a unique prefix of one, or "last"/"latest" for the newest.

        Raises AmbiguousRunError when a prefix matches several runs.
        """
        if ref in ("last", "latest"):
            newest = await self.list_runs(1)
            return newest[0] if newest else None
        if self._empty or not ref:
            return None
        exact = await self.get_run(ref)
        if exact is not None:
            return exact
        rows = await self._fetch(
            f"SELECT {RUN_COLUMNS} FROM runs WHERE substr(run_id, 1, ?) = ? "
            "ORDER BY created_at DESC LIMIT 3",
            (len(ref), ref),
        )
        if len(rows) > 1:
            ids = ", ".join(r[0] for r in rows[:2]) + (", ..." if len(rows) > 2 else "")
            raise AmbiguousRunError(f"run id {ref!r} is ambiguous: matches {ids}")
        return run_row(rows[0]) if rows else None

    async def agents(self, run_id: str) -> list[AgentRow]:
        """The run's agents, the CEO first, then in spawn order."""
        run = await self.get_run(run_id)
        if run is None:
            return []
        rows = await self._fetch(
            f"SELECT {AGENT_COLUMNS} FROM agents WHERE run_id = ? "
            "ORDER BY agent_id != ?, spawn_seq",
            (run_id, CEO_ID),
        )
        return [agent_row(r, run_dead=run.status == "interrupted") for r in rows]

    async def events(self, run_id: str) -> list[Event]:
        """Every stored event of a run in order (text deltas possibly coalesced)."""
        return [event async for event in self.iter_events(run_id)]

    async def iter_events(self, run_id: str, chunk: int = 2000) -> AsyncIterator[Event]:
        """Like `events`, fetched `chunk` rows at a time for big runs."""
        if self._empty:
            return
        after = 0
        while True:
            rows = await self._fetch(
                "SELECT seq, payload FROM events WHERE run_id = ? AND seq > ? ORDER BY seq LIMIT ?",
                (run_id, after, chunk),
            )
            for seq, payload in rows:
                after = seq
                event = _decode(payload)
                if event is not None:
                    yield event
            if len(rows) < chunk:
                return

    async def conversation(
        self, run_id: str, agent_id: str, attempt: int | None = None
    ) -> list[dict[str, Any]]:
        """The agent's messages as sent to the API; `attempt` None means its latest."""
        if self._empty:
            return []
        if attempt is None:
            rows = await self._fetch(
                "SELECT attempt FROM agents WHERE run_id = ? AND agent_id = ?", (run_id, agent_id)
            )
            attempt = rows[0][0] if rows else 1
        rows = await self._fetch(
            "SELECT payload FROM events WHERE run_id = ? AND agent_id = ? "
            "AND kind = 'message' ORDER BY seq",
            (run_id, agent_id),
        )
        messages = []
        for (payload,) in rows:
            data = json.loads(payload)
            if data.get("attempt", 1) == attempt:
                messages.append({"role": data["role"], "content": data["content"]})
        return messages

    async def evidence_events(self, run_id: str) -> list[Event]:
        """The run's evidence and check events and its run_finished events, in order."""
        if self._empty:
            return []
        kinds = (*EVIDENCE_KINDS, RunFinished.kind)
        marks = ", ".join("?" * len(kinds))
        rows = await self._fetch(
            f"SELECT payload FROM events WHERE run_id = ? AND kind IN ({marks}) ORDER BY seq",
            (run_id, *kinds),
        )
        return [e for (payload,) in rows if (e := _decode(payload)) is not None]

    async def attempt_records(self, last_runs: int | None = None) -> list[AttemptRecord]:
        """Every agent attempt of the newest `last_runs` runs (all: None), for the scorecard
        (core/scorecard.py): its role, model, cost, how it ended and how its run ended."""
        if self._empty:
            return []
        runs = "SELECT run_id FROM runs ORDER BY created_at DESC, rowid DESC LIMIT ?"
        limit = -1 if last_runs is None else last_runs  # SQLite: a negative LIMIT is none
        rows = await self._fetch(
            "SELECT t.run_id, t.agent_id, t.attempt, t.model, a.role, t.cost_usd, a.attempt, "
            "r.status, r.pid, r.pid_token FROM attempts t "
            "JOIN agents a ON a.run_id = t.run_id AND a.agent_id = t.agent_id "
            "JOIN runs r ON r.run_id = t.run_id "
            f"WHERE t.run_id IN ({runs}) ORDER BY r.created_at, t.run_id, a.spawn_seq, t.attempt",
            (limit,),
        )
        ends: dict[tuple[str, str, int], tuple[AgentState, float | None]] = {}
        for run_id, payload in await self._fetch(
            "SELECT run_id, payload FROM events WHERE kind = ? "
            f"AND run_id IN ({runs}) ORDER BY run_id, seq",
            (AgentFinished.kind, limit),
        ):
            end = _decode(payload)
            if isinstance(end, AgentFinished) and end.agent_id is not None:
                ends[(run_id, end.agent_id, end.attempt)] = (end.state, end.elapsed_s)
        out = []
        for run_id, agent_id, attempt, model, role, cost, latest, status, pid, token in rows:
            if status == "running" and not pid_alive(pid, token):
                status = "interrupted"  # as history reads it (see store_schema.run_row)
            state, elapsed = ends.get((run_id, agent_id, attempt), (None, None))
            out.append(
                AttemptRecord(
                    run_id=run_id,
                    agent_id=agent_id,
                    attempt=attempt,
                    role=role,
                    model=model,
                    cost_usd=cost,
                    state=state,
                    elapsed_s=elapsed,
                    latest=attempt >= latest,
                    run_status=status,
                )
            )
        return out

    async def run_summary(self, run_id: str) -> dict[str, Any]:
        """The `run --json` object of the CLI contract."""
        run = await self.get_run(run_id)
        if run is None:
            raise StoreError(f"no run {run_id!r} in {self.path}")
        agents = await self.agents(run_id)
        events = await self.evidence_events(run_id)
        book = EvidenceBook.of(events)
        verification = Verification.of(events)
        ends = [e for e in events if isinstance(e, RunFinished)]
        error = ends[-1].error if ends and run.status == ends[-1].status else ""
        if not error and run.status in ("failed", "cancelled", "stopped", "interrupted"):
            error = run.status if run.status != "interrupted" else INTERRUPTED_REASON
        return {
            "run_id": run.run_id,
            "status": run.status,
            "result": run.result,
            "cost_usd": run.cost_usd,
            "usage": run.usage(),
            **({"estimated": True} if run.estimated else {}),  # as the live view's `~`
            "verified": verification.verified,
            "checks": verification.checks(),
            **({"error": error} if error else {}),
            "agents": [
                {**a.contract(), "evidence": book.ledger(a.agent_id, a.attempt).to_dict()}
                for a in agents
            ],
            "task": run.task,
            "created_at": run.created_at,
            "finished_at": run.finished_at,
        }


def _decode(payload: str) -> Event | None:
    try:
        return Event.from_dict(json.loads(payload))
    except (KeyError, TypeError, ValueError):
        log.warning("skipping an event this version cannot read: %.80s", payload)
        return None
