"""The evidence ledger: what each agent attempt really did, recorded by the engine.

`ToolRecorder` sits at the tool-dispatch point of an agent's turn loop. It sees every
tool call and its result and emits `FileChanged` (path, bytes, sha256 before/after),
`CommandRan` (command, exit code, duration, timed out) and `UrlFetched` (url, status)
events. The model's words play no part: the hashes are read from the disk, the exit
codes come from the process. `Ledger` folds those events back into one attempt's record,
the same way live (the session, the TUI) and from the store (show, the summary).
"""

from __future__ import annotations

import asyncio
import os
import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core import workspace_scan
from core.events import ClaimsFlagged, CommandRan, Event, FileChanged, UrlFetched
from core.tools.base import ToolContext, ToolError, ToolResult

FILE_TOOLS = frozenset({"write_file", "edit_file"})
COMMAND_TOOLS = frozenset({"run_command", "run_check"})
FETCH_TOOLS = frozenset({"web_fetch"})
# Commands whose effect on the workspace is scanned: an agent's. The CEO's run_check
# verifies; what it writes (reports, caches) is not the agents' work.
SCANNED_COMMAND_TOOLS = frozenset({"run_command"})
SQLITE_SIDECARS = ("", "-wal", "-shm", "-journal")
BLOCK_ITEMS = 8  # entries of each kind in the evidence block; the rest are counted

_EXIT_RE = re.compile(r"^exit code (-?\d+)")
_TIMED_OUT_RE = re.compile(r"^timed out after")
_STATUS_RE = re.compile(r"^status: (\d{3})\b")


@dataclass
class _Probe:
    """What the recorder saw before a tool call ran."""

    name: str
    args: dict[str, Any]
    started: float
    rel: str = ""  # the file a write_file / edit_file call names ("" if refused)
    root_fd: int = -1  # the workspace's pinned fd, for a command's before/after scan
    files_before: workspace_scan.Snapshot | None = None  # before a command (None: unknown)


# Called when a write starts (path) and when it ends; the collision radar listens.
WriteHook = Callable[[str, str, bool], None]  # (agent_id, rel_path, finished)


class ToolRecorder:
    """Records one agent attempt's tool calls as evidence events."""

    def __init__(
        self,
        *,
        run_id: str,
        agent_id: str,
        attempt: int,
        emit: Callable[[Event], None],
        on_write: WriteHook | None = None,
        unscanned: tuple[Path, ...] = (),
    ) -> None:
        self.run_id = run_id
        self.agent_id = agent_id
        self.attempt = attempt
        self.emit = emit
        self.on_write = on_write
        # Files no command's scan reports: the run's own database (and its SQLite
        # sidecars) when it lives in the workspace; the store writes it all the time.
        self.unscanned = tuple(
            Path(str(p) + suffix) for p in unscanned for suffix in SQLITE_SIDECARS
        )

    async def before(self, name: str, args: Any, ctx: ToolContext) -> _Probe | None:
        if not isinstance(args, dict):
            return None
        probe = _Probe(name, args, time.monotonic())
        if name in FILE_TOOLS and isinstance(args.get("path"), str):
            try:  # the path as the tool will show it (lexical: nothing is opened here)
                probe.rel = ctx.files().display(args["path"])
            except ToolError:
                return probe  # the tool refuses it too; nothing is written
            if self.on_write is not None:
                self.on_write(self.agent_id, probe.rel, False)
        elif name in SCANNED_COMMAND_TOOLS and isinstance(args.get("command"), str):
            # What the command changes on disk is a change too (sed -i, a script): the
            # workspace's files are stamped now and compared when it ends.
            try:
                probe.root_fd = ctx.files().fd
            except ToolError:
                return probe
            probe.files_before = await asyncio.to_thread(workspace_scan.snapshot, probe.root_fd)
        return probe

    async def after(self, probe: _Probe | None, result: ToolResult) -> None:
        if probe is None:
            return
        name, args = probe.name, probe.args
        duration = round(time.monotonic() - probe.started, 3)
        data = result.data or {}
        if name in FILE_TOOLS and probe.rel:
            # The tool reports what it wrote (bytes, sha256 of the old and new content),
            # measured on the file descriptors it used: nothing is read again by path.
            for write in result.writes:
                self._emit(
                    FileChanged,
                    tool=name,
                    path=write.path,
                    bytes=write.bytes_written,
                    sha256_before=write.sha256_before,
                    sha256_after=write.sha256_after,
                )
            if self.on_write is not None:
                self.on_write(self.agent_id, probe.rel, True)
        elif name in COMMAND_TOOLS and isinstance(args.get("command"), str):
            ran, exit_code, timed_out = _command_outcome(result, data)
            if ran and probe.root_fd >= 0:
                await self._command_changes(name, probe)
            if ran:
                self._emit(
                    CommandRan,
                    tool=name,
                    command=args["command"],
                    exit_code=exit_code,
                    duration_s=float(data.get("duration_s", duration)),
                    timed_out=timed_out,
                )
        elif name in FETCH_TOOLS and isinstance(args.get("url"), str):
            status = data.get("status")
            if status is None:
                match = _STATUS_RE.match(result.text)
                status = int(match.group(1)) if match else None
            error = "" if status is not None else result.text.splitlines()[0][:200]
            self._emit(UrlFetched, url=args["url"].strip(), status=status, error=error)

    async def _command_changes(self, tool: str, probe: _Probe) -> None:
        """A FileChanged for each file the command created, modified or deleted.

        They come before the command's CommandRan: a check that changes files (a build)
        still ran after its own changes."""
        before, fd = probe.files_before, probe.root_fd
        after = await asyncio.to_thread(workspace_scan.snapshot, fd)
        if before is None or after is None:
            # Too many files to scan: what the command did is unknown, so it counts as
            # a change (a model cannot blind the ledger by making files first).
            self._emit(
                FileChanged,
                tool=tool,
                path=".",
                bytes=0,
                sha256_before="",
                sha256_after="",
                change="unknown",
            )
            return
        changes = await asyncio.to_thread(workspace_scan.diff, fd, before, after)
        skip = self._unscanned_in(probe)
        for change in changes:
            if change.path in skip:
                continue
            self._emit(
                FileChanged,
                tool=tool,
                path=change.path,
                bytes=change.size,
                sha256_before=None if change.kind == "created" else "",
                sha256_after=change.sha256,
                change=change.kind,
            )

    def _unscanned_in(self, probe: _Probe) -> set[str]:
        root = Path(os.readlink(f"/proc/self/fd/{probe.root_fd}"))
        out = set()
        for path in self.unscanned:
            try:
                out.add(str(path.resolve().relative_to(root)))
            except (OSError, ValueError):
                continue  # not in the workspace
        return out

    def _emit(self, cls: Callable[..., Event], **fields: Any) -> None:
        self.emit(cls(run_id=self.run_id, agent_id=self.agent_id, attempt=self.attempt, **fields))


def _command_outcome(result: ToolResult, data: dict[str, Any]) -> tuple[bool, int | None, bool]:
    """(ran, exit code, timed out) from the tool's data, else from its status line."""
    if "exit_code" in data or "timed_out" in data:
        code = data.get("exit_code")
        return True, code if isinstance(code, int) else None, bool(data.get("timed_out"))
    first = result.text.splitlines()[0] if result.text else ""
    if match := _EXIT_RE.match(first):
        return True, int(match.group(1)), False
    if _TIMED_OUT_RE.match(first):
        return True, None, True
    return False, None, False  # refused or invalid: nothing ran


# --- the ledger ---------------------------------------------------------------


@dataclass
class Ledger:
    """One agent attempt's evidence, folded from its events."""

    agent_id: str
    attempt: int
    files: list[FileChanged] = field(default_factory=list)
    commands: list[CommandRan] = field(default_factory=list)
    urls: list[UrlFetched] = field(default_factory=list)
    claims: list[str] = field(default_factory=list)

    def add(self, event: Event) -> None:
        if isinstance(event, FileChanged):
            self.files.append(event)
        elif isinstance(event, CommandRan):
            self.commands.append(event)
        elif isinstance(event, UrlFetched):
            self.urls.append(event)
        elif isinstance(event, ClaimsFlagged):
            self.claims = list(event.claims)

    @property
    def empty(self) -> bool:
        return not (self.files or self.commands or self.urls)

    def to_dict(self) -> dict[str, Any]:
        """The summary's `agents[].evidence`."""
        return {
            "attempt": self.attempt,
            "files": [
                {
                    "path": f.path,
                    "tool": f.tool,
                    "bytes": f.bytes,
                    "sha256_before": f.sha256_before,
                    "sha256_after": f.sha256_after,
                    **({"change": f.change} if f.change else {}),
                }
                for f in self.files
            ],
            "commands": [
                {
                    "command": c.command,
                    "tool": c.tool,
                    "exit_code": c.exit_code,
                    "duration_s": c.duration_s,
                    "timed_out": c.timed_out,
                }
                for c in self.commands
            ],
            "urls": [{"url": u.url, "status": u.status} for u in self.urls],
            "unsupported_claims": list(self.claims),
        }

    def lines(self) -> list[str]:
        """Short lines: one per file, command and URL (capped), then the flagged claims."""
        out: list[str] = []
        out += _capped([_file_line(f) for f in self.files], "file changes")
        out += _capped([_command_line(c) for c in self.commands], "commands")
        out += _capped([_url_line(u) for u in self.urls], "fetches")
        if not out:
            out.append("no files written, no commands run, no URLs fetched")
        out += [f"UNSUPPORTED CLAIM: {c}" for c in self.claims]
        return out

    def block(self) -> str:
        """The engine-written block that follows an agent's result for the CEO."""
        head = f"[evidence recorded by delegate for {self.agent_id} attempt {self.attempt}]"
        return "\n".join([head, *("- " + line for line in self.lines())])


def _capped(lines: list[str], what: str) -> list[str]:
    if len(lines) <= BLOCK_ITEMS:
        return lines
    return [*lines[:BLOCK_ITEMS], f"... and {len(lines) - BLOCK_ITEMS} more {what}"]


def _short_hash(h: str | None) -> str:
    return h[:8] if h else "new"


def _file_line(f: FileChanged) -> str:
    if f.tool in COMMAND_TOOLS and f.change == "unknown":
        return (
            f"the workspace has over {workspace_scan.MAX_ENTRIES:,} files: what a command "
            "changed is not known (counted as a change)"
        )
    if f.tool in COMMAND_TOOLS:
        size = "" if f.change == "deleted" else f" ({f.bytes} bytes)"
        return f"{f.path} {f.change or 'changed'} by a command{size}"
    verb = "edited" if f.tool == "edit_file" else "wrote"
    if f.sha256_before == f.sha256_after:
        change = "unchanged"
    else:
        change = f"sha256 {_short_hash(f.sha256_before)} -> {_short_hash(f.sha256_after)}"
    return f"{verb} {f.path} ({f.bytes} bytes, {change})"


def _command_line(c: CommandRan) -> str:
    status = "timed out" if c.timed_out else f"exit {c.exit_code}"
    cmd = " ".join(c.command.split())
    cmd = cmd if len(cmd) <= 100 else cmd[:99] + "…"
    return f"ran `{cmd}`: {status} ({c.duration_s:.1f} s)"


def _url_line(u: UrlFetched) -> str:
    return f"fetched {u.url}: " + (str(u.status) if u.status is not None else "no response")


class EvidenceBook:
    """Every attempt's ledger in a run, keyed by (agent id, attempt)."""

    def __init__(self) -> None:
        self.ledgers: dict[tuple[str, int], Ledger] = {}

    def ledger(self, agent_id: str, attempt: int) -> Ledger:
        key = (agent_id, attempt)
        ledger = self.ledgers.get(key)
        if ledger is None:
            ledger = self.ledgers[key] = Ledger(agent_id, attempt)
        return ledger

    def observe(self, event: Event) -> None:
        if event.agent_id is None:
            return
        if isinstance(event, FileChanged | CommandRan | UrlFetched | ClaimsFlagged):
            self.ledger(event.agent_id, event.attempt).add(event)

    @classmethod
    def of(cls, events: Iterable[Event]) -> EvidenceBook:
        book = cls()
        for event in events:
            book.observe(event)
        return book


EVIDENCE_KINDS = (
    FileChanged.kind,
    CommandRan.kind,
    UrlFetched.kind,
    ClaimsFlagged.kind,
)
