"""The SQLite schema of the event store, its read rows and errors, and projection <-> row mapping.

`events` is the append-only log (replay and resume read it); `runs`, `agents` and
`attempts` are projections kept current by the writer so history is fast.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.agent_summary import AgentSummary
from core.errors import DelegateError
from core.events import TERMINAL_STATES, RunStatus
from core.projections import AgentProjection, AttemptUsage, RunProjection, pid_alive

SCHEMA_VERSION = 2  # 2: `estimated` on runs, agents and attempts
BUSY_CODES = {5, 6}  # SQLITE_BUSY, SQLITE_LOCKED
CORRUPT_CODES = {11, 26}  # SQLITE_CORRUPT, SQLITE_NOTADB
# Errors after which nothing more can be written: the run cannot be recorded.
WRITE_FATAL = {
    13: "disk full",  # SQLITE_FULL
    10: "I/O error",  # SQLITE_IOERR
    8: "the database became read-only",  # SQLITE_READONLY
    14: "the database file cannot be opened",  # SQLITE_CANTOPEN
    11: "the database is damaged",  # SQLITE_CORRUPT
    26: "the database is damaged",  # SQLITE_NOTADB
    3: "permission denied",  # SQLITE_PERM
}
NOT_OURS = "not a delegate database (or a damaged one)"


class StoreError(DelegateError):
    """A store problem; `str()` is one line for the user."""


class AmbiguousRunError(StoreError):
    """A run id prefix matches more than one run."""


def error_code(exc: BaseException) -> int:
    return int(getattr(exc, "sqlite_errorcode", 0) or 0) & 0xFF


def write_failure(exc: BaseException, path: Path) -> StoreError | None:
    """The one line for an error that stops all writing (disk full...), or None."""
    if isinstance(exc, sqlite3.Error):
        what = WRITE_FATAL.get(error_code(exc))
        if what is None and "no such table" in str(exc):
            what = NOT_OURS  # a table dropped under a running app
    elif isinstance(exc, OSError):
        what = exc.strerror or type(exc).__name__
    else:
        what = None
    return None if what is None else StoreError(f"cannot write the run's events: {what} ({path})")


def store_error(exc: BaseException, path: Path) -> StoreError:
    """The one-line StoreError for an sqlite3 error on the database at `path`."""
    code, text = error_code(exc), str(exc)
    if code in BUSY_CODES or "locked" in text:
        return StoreError(f"database is locked by another process: {path}")
    if code in CORRUPT_CODES or "malformed" in text or "not a database" in text:
        return StoreError(f"database is corrupt: {path}")
    if code in WRITE_FATAL:
        return StoreError(f"database error ({WRITE_FATAL[code]}): {path}")
    return StoreError(f"database error ({text}): {path}")


SCHEMA = """
BEGIN IMMEDIATE;
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS events (
    run_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    ts REAL NOT NULL,
    kind TEXT NOT NULL,
    agent_id TEXT,
    payload TEXT NOT NULL,
    PRIMARY KEY (run_id, seq)
);
CREATE INDEX IF NOT EXISTS events_messages ON events (run_id, agent_id, seq)
    WHERE kind = 'message';
CREATE TABLE IF NOT EXISTS runs (
    run_id TEXT PRIMARY KEY,
    task TEXT NOT NULL,
    status TEXT NOT NULL,
    created_at REAL NOT NULL,
    finished_at REAL,
    workspace TEXT NOT NULL,
    ceo_model TEXT NOT NULL,
    simulated INTEGER NOT NULL,
    max_concurrent INTEGER NOT NULL,
    result TEXT,
    cost_usd REAL,
    input_tokens INTEGER NOT NULL,
    output_tokens INTEGER NOT NULL,
    cache_read_tokens INTEGER NOT NULL,
    cache_write_tokens INTEGER NOT NULL,
    agents INTEGER NOT NULL,
    pid INTEGER,
    pid_token TEXT NOT NULL,
    resumed_from TEXT,
    estimated INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS runs_created ON runs (created_at);
CREATE INDEX IF NOT EXISTS runs_status ON runs (status);
CREATE TABLE IF NOT EXISTS agents (
    run_id TEXT NOT NULL,
    agent_id TEXT NOT NULL,
    role TEXT NOT NULL,
    model TEXT NOT NULL,
    task TEXT NOT NULL,
    status TEXT NOT NULL,
    attempt INTEGER NOT NULL,
    input_tokens INTEGER NOT NULL,
    output_tokens INTEGER NOT NULL,
    cache_read_tokens INTEGER NOT NULL,
    cache_write_tokens INTEGER NOT NULL,
    cost_usd REAL,
    elapsed_s REAL,
    timeout_s REAL,
    result TEXT,
    queue_position INTEGER,
    last_tool TEXT NOT NULL,
    spawn_seq INTEGER NOT NULL,
    spawned_at REAL NOT NULL,
    started_at REAL,
    finished_at REAL,
    context_tokens INTEGER NOT NULL,
    context_window INTEGER,
    estimated INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (run_id, agent_id)
);
CREATE TABLE IF NOT EXISTS attempts (
    run_id TEXT NOT NULL,
    agent_id TEXT NOT NULL,
    attempt INTEGER NOT NULL,
    model TEXT NOT NULL,
    input_tokens INTEGER NOT NULL,
    output_tokens INTEGER NOT NULL,
    cache_read_tokens INTEGER NOT NULL,
    cache_write_tokens INTEGER NOT NULL,
    cost_usd REAL,
    context_tokens INTEGER NOT NULL,
    estimated INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (run_id, agent_id, attempt)
);
INSERT OR REPLACE INTO meta (key, value) VALUES ('schema_version', '2');
COMMIT;
"""

# `estimated` (2): the usage (output, cost) was partly counted from streamed text because
# the run ended mid-reply; shown with `~` as the live view does. Older rows read 0.
ESTIMATED = ("runs", "agents", "attempts")
# version -> the script that brings a file of that version to the next one.
MIGRATIONS: dict[int, str] = {
    1: "BEGIN IMMEDIATE;\n"
    + "".join(
        f"ALTER TABLE {table} ADD COLUMN estimated INTEGER NOT NULL DEFAULT 0;\n"
        for table in ESTIMATED
    )
    + "UPDATE meta SET value = '2' WHERE key = 'schema_version';\nCOMMIT;\n",
}


def shadow_views(version: int) -> list[str]:
    """For a read-only file of an older `version`: temporary views (found before the
    file's own tables) that add the columns it lacks with their defaults."""
    if version >= 2:
        return []
    return [
        f"CREATE TEMP VIEW {table} AS SELECT *, 0 AS estimated FROM main.{table}"
        for table in ESTIMATED
    ]


RUN_COLUMNS = (
    "run_id, task, status, created_at, finished_at, workspace, ceo_model, simulated, "
    "max_concurrent, result, cost_usd, input_tokens, output_tokens, cache_read_tokens, "
    "cache_write_tokens, agents, pid, pid_token, resumed_from, estimated"
)
AGENT_COLUMNS = (
    "run_id, agent_id, role, model, task, status, attempt, input_tokens, output_tokens, "
    "cache_read_tokens, cache_write_tokens, cost_usd, elapsed_s, timeout_s, result, "
    "queue_position, last_tool, spawn_seq, spawned_at, started_at, finished_at, "
    "context_tokens, context_window, estimated"
)
ATTEMPT_COLUMNS = (
    "run_id, agent_id, attempt, model, input_tokens, output_tokens, cache_read_tokens, "
    "cache_write_tokens, cost_usd, context_tokens, estimated"
)


def _insert(table: str, columns: str) -> str:
    marks = ", ".join("?" * len(columns.split(",")))
    return f"INSERT OR REPLACE INTO {table} ({columns}) VALUES ({marks})"


INSERT_EVENT = "INSERT INTO events (run_id, seq, ts, kind, agent_id, payload) VALUES (?,?,?,?,?,?)"
UPSERT_RUN = _insert("runs", RUN_COLUMNS)
UPSERT_AGENT = _insert("agents", AGENT_COLUMNS)
UPSERT_ATTEMPT = _insert("attempts", ATTEMPT_COLUMNS)


@dataclass(frozen=True)
class RunRow:
    """One run as `history` lists it. `cost_usd` is None when some agent's cost is unknown."""

    run_id: str
    task: str
    status: RunStatus
    created_at: float
    finished_at: float | None
    workspace: str
    ceo_model: str
    simulated: bool
    max_concurrent: int
    result: str | None
    cost_usd: float | None
    input_tokens: int
    output_tokens: int
    cache_read_tokens: int
    cache_write_tokens: int
    agents: int
    pid: int | None
    resumed_from: str | None
    estimated: bool = False  # some usage counted from streamed text (the run ended mid-reply)

    def usage(self) -> dict[str, int]:
        return {
            "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens,
            "cache_read_tokens": self.cache_read_tokens,
            "cache_write_tokens": self.cache_write_tokens,
        }


@dataclass(frozen=True, kw_only=True)
class AgentRow(AgentSummary):
    """One agent of a run as stored: its summary, and what only the store keeps."""

    run_id: str
    queue_position: int | None
    last_tool: str
    spawned_at: float
    started_at: float | None
    finished_at: float | None
    context_tokens: int
    context_window: int | None


def run_row(r: sqlite3.Row | tuple[Any, ...]) -> RunRow:
    """A `runs` row as read; a 'running' run whose process is gone reads as interrupted."""
    status = r[2]
    if status == "running" and not pid_alive(r[16], r[17]):
        status = "interrupted"
    return RunRow(
        r[0], r[1], status, r[3], r[4], r[5], r[6], bool(r[7]), r[8], r[9], r[10],
        r[11], r[12], r[13], r[14], r[15], r[16], r[18], bool(r[19]),
    )  # fmt: skip


def agent_row(r: sqlite3.Row | tuple[Any, ...], run_dead: bool = False) -> AgentRow:
    """An `agents` row as read; a live agent of a run whose process is gone reads as
    interrupted."""
    state = r[5]
    if run_dead and state not in TERMINAL_STATES:
        state = "interrupted"
    return AgentRow(
        agent_id=r[1], role=r[2], model=r[3], task=r[4], state=state, attempt=r[6],
        input_tokens=r[7], output_tokens=r[8], cache_read_tokens=r[9],
        cache_write_tokens=r[10], cost_usd=r[11], elapsed_s=r[12], timeout_s=r[13],
        result=r[14], run_id=r[0], queue_position=r[15], last_tool=r[16], spawned_at=r[18],
        started_at=r[19], finished_at=r[20], context_tokens=r[21], context_window=r[22],
        estimated=bool(r[23]),
    )  # fmt: skip


def run_params(run: RunProjection) -> tuple[Any, ...]:
    cost, tokens, estimated = run_totals(run)
    return (
        run.run_id, run.task, run.status, run.created_at or 0.0, run.finished_at,
        run.workspace, run.ceo_model, int(run.simulated), run.max_concurrent, run.result,
        cost, *tokens, len(run.agents), run.pid, run.pid_token, run.resumed_from,
        int(estimated),
    )  # fmt: skip


def run_totals(run: RunProjection) -> tuple[float | None, tuple[int, int, int, int], bool]:
    """`run.cost_usd()`, `run.tokens()` and `run.estimated()` in one pass over the agents'
    attempts (a run's row is saved with every batch that moved its usage: with 1000
    agents, three passes over all of them 20 times a second). The cost is summed per
    agent, then over agents, as `cost_usd` sums it: the same float."""
    inp = out = read = write = 0
    total: float | None = 0.0
    estimated = False
    for agent in run.agents.values():
        subtotal: float | None = 0.0
        for u in agent.attempts.values():
            inp += u.input_tokens
            out += u.output_tokens
            read += u.cache_read_tokens
            write += u.cache_write_tokens
            estimated = estimated or u.estimated
            if subtotal is not None:
                subtotal = None if u.cost_usd is None else subtotal + u.cost_usd
        if total is not None:
            total = None if subtotal is None else total + subtotal
    return total, (inp, out, read, write), estimated


def agent_params(a: AgentProjection) -> tuple[Any, ...]:
    return (
        a.run_id, a.agent_id, a.role, a.model, a.task, a.state, a.attempt, *a.tokens(),
        a.cost_usd(), a.elapsed_s, a.timeout_s, a.result, a.queue_position, a.last_tool,
        a.spawn_seq, a.spawned_at, a.started_at, a.finished_at, a.context_tokens(),
        a.context_window, int(a.estimated()),
    )  # fmt: skip


def attempt_params(a: AgentProjection, attempt: int) -> tuple[Any, ...]:
    u = a.attempts[attempt]
    return (
        a.run_id, a.agent_id, attempt, u.model, u.input_tokens, u.output_tokens,
        u.cache_read_tokens, u.cache_write_tokens, u.cost_usd, u.context_tokens,
        int(u.estimated),
    )  # fmt: skip


def run_projection(
    run_id: str,
    run: Any,
    agents: list[Any],
    attempts: list[Any],
    max_seq: int | None,
    last_ts: float | None,
) -> RunProjection:
    """Rebuild a run's projection from its stored rows (a run resumed or recovered)."""
    proj = RunProjection(run_id, next_seq=(max_seq or 0) + 1, last_ts=last_ts or 0.0)
    if run is not None:
        proj.exists = True
        (
            _, proj.task, proj.status, proj.created_at, proj.finished_at, proj.workspace,
            proj.ceo_model, simulated, proj.max_concurrent, proj.result,
        ) = run[:10]  # fmt: skip
        proj.simulated = bool(simulated)
        proj.pid, proj.pid_token, proj.resumed_from = run[16], run[17], run[18]
    for r in agents:
        a = AgentProjection(run_id, r[1], spawn_seq=r[17], spawned_at=r[18])
        a.role, a.model, a.task, a.state, a.attempt = r[2], r[3], r[4], r[5], r[6]
        a.elapsed_s, a.timeout_s, a.result, a.queue_position, a.last_tool = r[12:17]
        a.started_at, a.finished_at, a.context_window = r[19], r[20], r[22]
        proj.agents[a.agent_id] = a
    for r in attempts:
        agent = proj.agents.get(r[1])
        if agent is not None:
            agent.attempts[r[2]] = AttemptUsage(
                r[3], r[4], r[5], r[6], r[7], r[8], r[9], estimated=bool(r[10])
            )
    return proj
