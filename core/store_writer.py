"""The store's background writer: the only code that writes to the database.

`append` only puts the event on a list and wakes the writer task. The writer commits
what accumulated every ~50 ms (at once when a batch is full or someone awaits
`flush`) with `executemany` in ONE transaction, updating the projections in that
same transaction. A `kill -9` therefore loses at most about the last batch.

Text coalescing: within one batch, consecutive `TextDelta` (or `ThinkingDelta`)
events of the same agent and turn, with no other event of that agent between them,
are stored as ONE row (texts concatenated, the first one's timestamp). Replay shows
the same text per agent; only the chunking and the cross-agent interleaving differ.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import sqlite3
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiosqlite

from core import redact
from core.events import Event, TextDelta, ThinkingDelta
from core.projections import Projector, RunProjection, interruption_events, pid_alive
from core.store_schema import (
    AGENT_COLUMNS,
    ATTEMPT_COLUMNS,
    BUSY_CODES,
    INSERT_EVENT,
    RUN_COLUMNS,
    UPSERT_AGENT,
    UPSERT_ATTEMPT,
    UPSERT_RUN,
    StoreError,
    agent_params,
    attempt_params,
    error_code,
    run_params,
    run_projection,
    write_failure,
)

log = logging.getLogger(__name__)

FLUSH_INTERVAL_S = 0.05
BATCH_MAX = 5000

Delta = TextDelta | ThinkingDelta
_DELTAS = (TextDelta, ThinkingDelta)  # for isinstance: a tuple is quicker than the union


@dataclass(frozen=True)
class StoreStats:
    appended: int
    written_events: int  # appended events committed (a coalesced row counts each delta)
    written_rows: int
    batches: int
    max_batch_size: int
    max_batch_latency_s: float  # first append of a batch -> its commit
    failed_events: int
    pending: int


_encode = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, default=str).encode


def _event_dict(event: Event) -> dict[str, Any]:
    """`event.to_dict()`, done faster: the fields of a dataclass are its `__dict__`."""
    try:
        return {**vars(event), "kind": event.kind}
    except TypeError:  # a slotted event class
        return event.to_dict()


def _encoded(rows: list[list[Any]]) -> Iterator[tuple[Any, ...]]:
    # The last line of defence: every row is redacted as it is written (deltas already
    # coalesced, so a secret split across a batch's deltas is caught here too).
    scrub = redact.current().redact
    for run_id, seq, ts, kind, agent_id, payload in rows:
        data = payload if isinstance(payload, dict) else _event_dict(payload)
        yield run_id, seq, ts, kind, agent_id, scrub(_encode(data))


class StoreWriter:
    def __init__(self, db: aiosqlite.Connection, path: Path) -> None:
        self._db = db
        self._path = path
        self._projector = Projector()
        self._runs: dict[str, RunProjection] = {}
        self._pending: list[Event] = []
        self._pending_since = 0.0
        self._wake = asyncio.Event()
        self._urgent = asyncio.Event()
        self._waiters: list[tuple[int, asyncio.Future[None]]] = []
        self._task: asyncio.Task[None] | None = None
        self._closing = False
        self._appended = self._done = self._rows = self._batches = self._failed = 0
        self._max_batch = 0
        self._max_latency = 0.0
        # Set once writing became impossible (disk full, I/O error): one line for the
        # user. From then on events are counted as lost, never retried one by one.
        self.failure: StoreError | None = None
        self.on_failure: Callable[[StoreError], None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name="store-writer")

    def append(self, event: Event) -> None:
        if self._closing:
            raise StoreError(f"store is closed: {self._path}")
        if self.failure is not None:
            self._appended += 1
            self._done += 1
            self._failed += 1
            return
        if not self._pending:
            self._pending_since = time.monotonic()
        self._pending.append(event)
        self._appended += 1
        if len(self._pending) >= BATCH_MAX:
            self._urgent.set()
        self._wake.set()

    async def flush(self) -> None:
        """Wait until what was appended is committed; raises the failure if writing stopped."""
        if self.failure is not None:
            raise self.failure
        if self._done >= self._appended or self._task is None:
            return
        if self._task.done():
            raise StoreError(f"store writer stopped: {self._path}")
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append((self._appended, fut))
        self._urgent.set()
        self._wake.set()
        await fut

    async def close(self) -> None:
        """Write what is pending and stop the task; the connection stays open."""
        self._closing = True
        if self._task is not None:
            self._urgent.set()
            self._wake.set()
            await self._task

    @property
    def stats(self) -> StoreStats:
        return StoreStats(
            self._appended, self._done - self._failed, self._rows, self._batches,
            self._max_batch, self._max_latency, self._failed, len(self._pending),
        )  # fmt: skip

    async def recover(self) -> None:
        """End the runs whose process died, with events, in one transaction."""
        await self._db.execute("BEGIN IMMEDIATE")
        try:
            rows = await self._db.execute_fetchall(
                "SELECT run_id, pid, pid_token FROM runs WHERE status = 'running'"
            )
            events: list[Event] = []
            for run_id, pid, token in rows:
                if pid == os.getpid() or not pid_alive(pid, token):
                    events.extend(interruption_events(await self._load(run_id)))
            if events:
                log.info("marking interrupted: %s", sorted({e.run_id for e in events}))
                await self._stage_and_save(events)
            await self._db.execute("COMMIT")
        except BaseException:
            await self._rollback()
            raise

    async def _loop(self) -> None:
        while True:
            await self._wake.wait()
            if self._pending and not self._urgent.is_set():
                delay = self._pending_since + FLUSH_INTERVAL_S - time.monotonic()
                if delay > 0:
                    with contextlib.suppress(TimeoutError):
                        async with asyncio.timeout(delay):
                            await self._urgent.wait()
            self._wake.clear()
            since = self._pending_since
            batch, self._pending = self._pending[:BATCH_MAX], self._pending[BATCH_MAX:]
            if self._pending:
                self._wake.set()
            if batch and self.failure is None:
                await self._write(batch)
                self._max_latency = max(self._max_latency, time.monotonic() - since)
            elif batch:
                self._failed += len(batch)
            self._done += len(batch)
            self._waiters = [(t, f) for t, f in self._waiters if not _settle(t, f, self._done)]
            if not self._waiters and len(self._pending) < BATCH_MAX:
                self._urgent.clear()
            if self._closing and not self._pending:
                return

    async def _write(self, batch: list[Event]) -> None:
        """Commit one batch; retry while locked; otherwise isolate the bad events."""
        delay = 0.05
        while True:
            try:
                await self._commit(batch)
                return
            except (sqlite3.Error, OSError) as exc:
                fatal = write_failure(exc, self._path)
                if fatal is not None:
                    self._fail(fatal, len(batch))
                    return
                if not isinstance(exc, sqlite3.Error) or error_code(exc) not in BUSY_CODES:
                    log.warning("store: cannot write a batch of %d events: %s", len(batch), exc)
                    break
                if self._closing:
                    log.error("store locked at close, %d events lost: %s", len(batch), exc)
                    self._failed += len(batch)
                    return
                log.warning("store busy, retrying a batch of %d: %s", len(batch), exc)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 1.0)
            except Exception as exc:
                log.warning("store: cannot write a batch of %d events: %r", len(batch), exc)
                break
        if len(batch) == 1:
            self._failed += 1
            return
        for event in batch:  # isolate the event that cannot be stored; keep the others
            if self.failure is not None:
                self._failed += 1
            else:
                await self._write([event])

    def _fail(self, failure: StoreError, lost: int) -> None:
        """Writing is impossible: say so once, drop what is pending, accept no more."""
        self._failed += lost
        if self.failure is not None:
            return
        self.failure = failure
        self._failed += len(self._pending)
        self._done += len(self._pending)
        self._pending = []
        for _target, fut in self._waiters:
            if not fut.done():
                fut.set_exception(failure)
        self._waiters = []
        if self.on_failure is not None:
            self.on_failure(failure)
        else:
            log.error("%s", failure)

    async def _commit(self, batch: list[Event]) -> None:
        await self._db.execute("BEGIN IMMEDIATE")
        try:
            rows = await self._stage_and_save(batch)
            await self._db.execute("COMMIT")
        except BaseException:
            await self._rollback()
            raise
        self._batches += 1
        self._rows += rows
        self._max_batch = max(self._max_batch, len(batch))

    async def _rollback(self) -> None:
        """Undo the open transaction and forget projections that may be ahead of it."""
        with contextlib.suppress(sqlite3.Error):
            await self._db.execute("ROLLBACK")
        self._runs.clear()
        self._projector.clear_dirty()

    async def _stage_and_save(self, events: Iterable[Event]) -> int:
        """Inside a transaction: store events (deltas coalesced), fold and save projections."""
        rows: list[list[Any]] = []
        deltas: list[tuple[int, Delta, list[str]]] = []  # every delta row, with its texts
        open_delta: dict[tuple[str, str], tuple[int, Delta, list[str]]] = {}
        for event in events:
            run = self._runs.get(event.run_id) or await self._load(event.run_id)
            key = (event.run_id, event.agent_id or "")
            if isinstance(event, _DELTAS):
                held = open_delta.get(key)
                if held is not None:
                    first, parts = held[1], held[2]
                    if type(first) is type(event) and first.turn == event.turn:
                        parts.append(event.text)
                        continue
                open_delta[key] = (len(rows), event, [event.text])
                deltas.append(open_delta[key])
            elif event.agent_id is not None:
                open_delta.pop(key, None)
            seq = run.next_seq
            run.next_seq += 1
            rows.append([event.run_id, seq, event.ts, event.kind, event.agent_id, event])
            self._projector.apply(run, event, seq)
        for index, first, parts in deltas:
            if len(parts) > 1:
                rows[index][5] = {**_event_dict(first), "text": "".join(parts)}
        # Encoded lazily by executemany in the connection's thread, off the event loop.
        await self._db.executemany(INSERT_EVENT, _encoded(rows))
        await self._save_projections()
        return len(rows)

    async def _save_projections(self) -> None:
        p, runs = self._projector, self._runs
        run_rows = [run_params(runs[r]) for r in p.dirty_runs if runs[r].exists]
        agent_rows = [agent_params(runs[r].agents[a]) for r, a in p.dirty_agents]
        attempt_rows = [attempt_params(runs[r].agents[a], n) for r, a, n in p.dirty_attempts]
        p.clear_dirty()
        deep = redact.current().deep
        run_rows, agent_rows, attempt_rows = deep(run_rows), deep(agent_rows), deep(attempt_rows)
        if run_rows:
            await self._db.executemany(UPSERT_RUN, run_rows)
        if agent_rows:
            await self._db.executemany(UPSERT_AGENT, agent_rows)
        if attempt_rows:
            await self._db.executemany(UPSERT_ATTEMPT, attempt_rows)

    async def _load(self, run_id: str) -> RunProjection:
        """Projection of a run this process has not touched yet (new, resumed or recovered)."""
        db, key = self._db, (run_id,)
        run = await db.execute_fetchall(f"SELECT {RUN_COLUMNS} FROM runs WHERE run_id = ?", key)
        agents = await db.execute_fetchall(
            f"SELECT {AGENT_COLUMNS} FROM agents WHERE run_id = ?", key
        )
        attempts = await db.execute_fetchall(
            f"SELECT {ATTEMPT_COLUMNS} FROM attempts WHERE run_id = ?", key
        )
        last = list(
            await db.execute_fetchall(
                "SELECT seq, ts FROM events WHERE run_id = ? ORDER BY seq DESC LIMIT 1", key
            )
        )
        proj = run_projection(
            run_id,
            next(iter(run), None),
            list(agents),
            list(attempts),
            last[0][0] if last else None,
            last[0][1] if last else None,
        )
        self._runs[run_id] = proj
        return proj


def _settle(target: int, fut: asyncio.Future[None], done: int) -> bool:
    if target > done:
        return False
    if not fut.done():
        fut.set_result(None)
    return True
