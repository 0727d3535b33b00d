"""File tools: read, list, search, write and edit files inside the workspace.

Every path is opened beneath the pinned workspace fd (`core.tools.workspace`): no
symlink is followed, hard-linked files are refused, and listing and searching walk
directory fds. The work runs in a thread so a big directory or file never stalls the
event loop, and every output is capped.
"""

from __future__ import annotations

import asyncio
import os
import re
import stat
from collections.abc import Iterator
from typing import IO, Any

from core.tools.base import ToolContext, ToolError, ToolResult
from core.tools.workspace import DIR_FLAGS, READ_FLAGS, TEMP_PREFIX, Workspace, check_regular

MAX_READ_LINES = 2000
MAX_READ_OFFSET = 100_000_000  # a line number no text file here reaches; bounds the input
MAX_LINE_BYTES = 4000
SNIFF_BYTES = 8192
LIST_MAX_DEPTH = 3
LIST_MAX_ENTRIES = 500
SEARCH_MAX_DEPTH = 64
SEARCH_MAX_MATCHES = 200
SEARCH_MAX_FILE_BYTES = 5_000_000
SEARCH_LINE_CHARS = 300
EDIT_MAX_FILE_BYTES = 10_000_000
SKIP_DIRS = frozenset(
    {
        ".git",
        ".hg",
        ".svn",
        ".venv",
        "venv",
        "node_modules",
        "__pycache__",
        ".mypy_cache",
        ".pytest_cache",
        ".ruff_cache",
        ".tox",
    }
)


def _short(value: Any, width: int = 80) -> str:
    text = " ".join(str(value).split())
    return text if len(text) <= width else text[: width - 1] + "…"


def _looks_binary(chunk: bytes) -> bool:
    return b"\x00" in chunk


def _read_line(f: IO[bytes], max_bytes: int) -> tuple[bytes, bool] | None:
    """One line of at most `max_bytes`; the rest of a longer line is skipped, not stored."""
    line = f.readline(max_bytes)
    if not line:
        return None
    if line.endswith(b"\n") or len(line) < max_bytes:
        return line, False
    while True:
        rest = f.readline(65536)
        if not rest or rest.endswith(b"\n"):
            return line, True


def _positive_int(args: dict[str, Any], name: str, default: int) -> int:
    value = args.get(name)
    if value is None:
        return default
    if value < 1:
        raise ToolError(f"{name} must be at least 1, got {value}")
    return int(value)


class ReadFile:
    name = "read_file"
    description = (
        "Read a text file in the workspace. Returns up to 2000 lines; for longer files "
        "call again with `offset` (1-based line number) and `limit`. Binary files are refused."
    )

    def __init__(self) -> None:
        self.input_schema: dict[str, Any] = {
            "type": "object",
            "properties": {
                "path": {"type": "string", "description": "Path relative to the workspace."},
                "offset": {
                    "type": "integer",
                    "minimum": 1,
                    "maximum": MAX_READ_OFFSET,
                    "description": "First line to return (1-based).",
                },
                "limit": {
                    "type": "integer",
                    "minimum": 1,
                    "maximum": MAX_READ_LINES,
                    "description": f"How many lines (max {MAX_READ_LINES}).",
                },
            },
            "required": ["path"],
            "additionalProperties": False,
        }

    def summary(self, args: dict[str, Any]) -> str:
        return f"read_file {_short(args.get('path', ''))}"

    async def run(self, args: dict[str, Any], ctx: ToolContext) -> ToolResult:
        ws = ctx.files()
        parts = ws.parts(args["path"])
        offset = _positive_int(args, "offset", 1)
        limit = min(_positive_int(args, "limit", MAX_READ_LINES), MAX_READ_LINES)
        text = await asyncio.to_thread(_read_text, ws, parts, offset, limit, ctx.output_cap_bytes)
        return ToolResult(text)


def _read_text(ws: Workspace, parts: tuple[str, ...], offset: int, limit: int, cap: int) -> str:
    rel = "/".join(parts) or "."
    f, st = ws.open_file(parts)
    with f:
        head = f.read(SNIFF_BYTES)
        if _looks_binary(head):
            size = st.st_size
            raise ToolError(
                f"{rel} looks like a binary file ({size} bytes); read_file shows text only"
            )
        f.seek(0)
        lines: list[str] = []
        used = 0
        lineno = 0
        more = False
        while (item := _read_line(f, MAX_LINE_BYTES)) is not None:
            lineno += 1
            if lineno < offset:
                continue
            if len(lines) >= limit:
                more = True
                break
            raw, cut = item
            text = raw.decode("utf-8", "replace").rstrip("\r\n")
            if cut:
                text += f" [... line cut after {MAX_LINE_BYTES} bytes]"
            size = len(text.encode()) + 1
            if lines and used + size > cap:
                more = True
                break
            lines.append(text)
            used += size
    if lineno == 0:
        return "(empty file)"
    if not lines:
        return f"{rel} has {lineno} lines; offset {offset} is past the end"
    body = "\n".join(lines)
    if more:
        last = offset + len(lines) - 1
        body += (
            f"\n[showing lines {offset}-{last} of {rel}; the file continues: "
            f"call read_file with offset={last + 1}]"
        )
    return body


class ListFiles:
    name = "list_files"
    description = (
        "List files and directories in the workspace (or under `path`), sorted, "
        "three levels deep. Skips .git, .venv, node_modules and __pycache__."
    )

    def __init__(self) -> None:
        self.input_schema: dict[str, Any] = {
            "type": "object",
            "properties": {
                "path": {"type": "string", "description": "Directory relative to the workspace."},
            },
            "required": [],
            "additionalProperties": False,
        }

    def summary(self, args: dict[str, Any]) -> str:
        return f"list_files {_short(args.get('path') or '.')}"

    async def run(self, args: dict[str, Any], ctx: ToolContext) -> ToolResult:
        ws = ctx.files()
        parts = ws.parts(args.get("path") or ".")
        return ToolResult(await asyncio.to_thread(_list_dir, ws, parts))


def _list_dir(ws: Workspace, parts: tuple[str, ...]) -> str:
    rel_top = "/".join(parts) or "."
    top = ws.open_dir(parts)
    listing = _Listing()
    try:
        listing.walk(top, "/".join(parts) + "/" if parts else "", 1)
    finally:
        os.close(top)
    out = listing.lines
    if not out:
        return f"{rel_top}/ is empty"
    if listing.capped:
        out.append(f"[listing capped at {LIST_MAX_ENTRIES} entries; list a subdirectory]")
    if listing.unexpanded:
        out.append("[directories marked [...] are deeper; list them with list_files path=...]")
    return "\n".join(out)


class _Listing:
    """A depth-first listing over directory fds (each folder opened beneath its parent's
    fd with O_NOFOLLOW, so a folder swapped for a symlink is never entered). A method,
    not a nested function: a closure that calls itself is a reference cycle, left for
    the garbage collector on every call."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.capped = False
        self.unexpanded = False

    def walk(self, dir_fd: int, prefix: str, level: int) -> None:
        out = self.lines
        try:
            with os.scandir(dir_fd) as it:
                entries = sorted(it, key=lambda e: e.name)
        except OSError as exc:
            out.append(f"{prefix or './'} [unreadable: {exc.strerror}]")
            return
        for entry in entries:
            if entry.name.startswith(TEMP_PREFIX):  # a write in progress
                continue
            if len(out) >= LIST_MAX_ENTRIES:
                self.capped = True
                return
            rel = prefix + entry.name
            if entry.is_symlink():
                try:
                    out.append(f"{rel} -> {os.readlink(entry.name, dir_fd=dir_fd)}")
                except OSError:
                    out.append(f"{rel} -> ?")
            elif entry.is_dir(follow_symlinks=False):
                if entry.name in SKIP_DIRS:
                    continue
                if level >= LIST_MAX_DEPTH:
                    out.append(f"{rel}/ [...]")
                    self.unexpanded = True
                    continue
                out.append(f"{rel}/")
                try:
                    sub = os.open(entry.name, DIR_FLAGS, dir_fd=dir_fd)
                except OSError as exc:
                    out[-1] += f" [unreadable: {exc.strerror}]"
                    continue
                try:
                    self.walk(sub, rel + "/", level + 1)
                finally:
                    os.close(sub)
            else:
                out.append(rel)


class SearchFiles:
    name = "search_files"
    description = (
        "Search text files in the workspace (or under `path`) for a Python regular "
        "expression; returns `path:line: text` lines (at most 200). Use (?i) to ignore case."
    )

    def __init__(self) -> None:
        self.input_schema: dict[str, Any] = {
            "type": "object",
            "properties": {
                "pattern": {"type": "string", "description": "Python regular expression."},
                "path": {"type": "string", "description": "File or directory to search."},
            },
            "required": ["pattern"],
            "additionalProperties": False,
        }

    def summary(self, args: dict[str, Any]) -> str:
        where = args.get("path") or "."
        return f"search_files /{_short(args.get('pattern', ''), 50)}/ in {_short(where, 40)}"

    async def run(self, args: dict[str, Any], ctx: ToolContext) -> ToolResult:
        try:
            regex = re.compile(args["pattern"])
        except re.error as exc:
            raise ToolError(f"invalid regular expression {args['pattern']!r}: {exc}") from None
        ws = ctx.files()
        parts = ws.parts(args.get("path") or ".")
        text = await asyncio.to_thread(_search, ws, parts, regex, ctx.output_cap_bytes)
        return ToolResult(text)


class _SearchWalk:
    """The regular files under a directory fd, depth first, files before folders, each
    folder opened beneath its parent with O_NOFOLLOW; symlinks are never followed."""

    def __init__(self) -> None:
        self.too_deep = 0

    def files(self, dir_fd: int, prefix: str, depth: int) -> Iterator[tuple[int, str, str]]:
        """(fd of the folder, name, path to show) for each file."""
        try:
            with os.scandir(dir_fd) as it:
                entries = sorted(it, key=lambda e: e.name)
        except OSError:
            return
        folders: list[str] = []
        for entry in entries:
            if entry.name.startswith(TEMP_PREFIX):  # a write in progress
                continue
            if entry.is_dir(follow_symlinks=False):
                if entry.name not in SKIP_DIRS:
                    folders.append(entry.name)
            elif entry.is_file(follow_symlinks=False):
                yield dir_fd, entry.name, prefix + entry.name
        for name in folders:
            if depth >= SEARCH_MAX_DEPTH:
                self.too_deep += 1
                continue
            try:
                sub = os.open(name, DIR_FLAGS, dir_fd=dir_fd)
            except OSError:
                continue
            try:
                yield from self.files(sub, f"{prefix}{name}/", depth + 1)
            finally:
                os.close(sub)


def _search(ws: Workspace, parts: tuple[str, ...], regex: re.Pattern[str], cap: int) -> str:
    rel_top = "/".join(parts) or "."
    found = _Matches(regex, cap)
    top, st = ws.open_any(parts)
    try:
        if not stat.S_ISDIR(st.st_mode):  # the path is one file: search it alone
            check_regular(st, rel_top)
            os.set_blocking(top, True)
            with os.fdopen(os.dup(top), "rb") as f:
                found.scan(f, st, rel_top)
            return found.report(rel_top)
        walk = _SearchWalk()
        for dir_fd, name, rel in walk.files(top, "/".join(parts) + "/" if parts else "", 0):
            if found.stopped:
                break
            found.scan_at(dir_fd, name, rel)
    finally:
        os.close(top)
    if walk.too_deep:
        found.notes.append(
            f"[skipped {walk.too_deep} folders deeper than {SEARCH_MAX_DEPTH} levels]"
        )
    return found.report(rel_top)


class _Matches:
    """Matching lines collected across files, within the match count and byte cap."""

    def __init__(self, regex: re.Pattern[str], cap: int) -> None:
        self.regex = regex
        self.cap = cap
        self.out: list[str] = []
        self.used = 0
        self.stopped = ""
        self.too_big = 0
        self.linked = 0
        self.notes: list[str] = []

    def scan_at(self, dir_fd: int, name: str, rel: str) -> None:
        try:
            fd = os.open(name, READ_FLAGS, dir_fd=dir_fd)  # ELOOP if it became a symlink
        except OSError:
            return
        with os.fdopen(fd, "rb") as f:
            st = os.fstat(fd)
            if not stat.S_ISREG(st.st_mode):  # a FIFO or device would block the read
                return
            if st.st_nlink > 1:  # its other name could be outside the workspace
                self.linked += 1
                return
            os.set_blocking(fd, True)
            self.scan(f, st, rel)

    def scan(self, f: IO[bytes], st: os.stat_result, rel: str) -> None:
        if st.st_size > SEARCH_MAX_FILE_BYTES:
            self.too_big += 1
            return
        try:
            if _looks_binary(f.read(SNIFF_BYTES)):
                return
            f.seek(0)
            for lineno, raw in enumerate(f, 1):
                line = raw.decode("utf-8", "replace").rstrip("\r\n")
                if not self.regex.search(line):
                    continue
                if len(line) > SEARCH_LINE_CHARS:
                    line = line[:SEARCH_LINE_CHARS] + "…"
                entry = f"{rel}:{lineno}: {line}"
                if len(self.out) >= SEARCH_MAX_MATCHES or self.used + len(entry) + 1 > self.cap:
                    self.stopped = (
                        f"[stopped after {len(self.out)} matches; narrow the pattern or path]"
                    )
                    return
                self.out.append(entry)
                self.used += len(entry) + 1
        except OSError:
            return

    def report(self, rel_top: str) -> str:
        out = self.out
        if not out:
            out.append(f"no matches for /{self.regex.pattern}/ in {rel_top}")
        if self.stopped:
            out.append(self.stopped)
        if self.too_big:
            out.append(f"[skipped {self.too_big} files larger than {SEARCH_MAX_FILE_BYTES} bytes]")
        if self.linked:
            out.append(
                f"[skipped {self.linked} files with more than one hard link "
                "(a hard link could point outside the workspace)]"
            )
        out.extend(self.notes)
        return "\n".join(out)


class WriteFile:
    name = "write_file"
    description = (
        "Write a text file in the workspace, replacing it if it exists; "
        "parent directories are created."
    )

    def __init__(self) -> None:
        self.input_schema: dict[str, Any] = {
            "type": "object",
            "properties": {
                "path": {"type": "string", "description": "Path relative to the workspace."},
                "content": {"type": "string", "description": "The whole new file content."},
            },
            "required": ["path", "content"],
            "additionalProperties": False,
        }

    def summary(self, args: dict[str, Any]) -> str:
        size = len(str(args.get("content", "")).encode())
        return f"write_file {_short(args.get('path', ''))} ({size} bytes)"

    async def run(self, args: dict[str, Any], ctx: ToolContext) -> ToolResult:
        ws = ctx.files()
        parts = ws.parts(args["path"])
        data = args["content"].encode("utf-8")
        done = await asyncio.to_thread(ws.write_bytes, parts, data)
        how = "new file" if done.created else "replaced"
        return ToolResult(
            f"wrote {done.bytes_written} bytes to {done.path} ({how})", writes=(done,)
        )


class EditFile:
    name = "edit_file"
    description = (
        "Replace one exact occurrence of `old_text` with `new_text` in a workspace file. "
        "`old_text` must match exactly once, whitespace included; add surrounding lines "
        "to make it unique."
    )

    def __init__(self) -> None:
        self.input_schema: dict[str, Any] = {
            "type": "object",
            "properties": {
                "path": {"type": "string", "description": "Path relative to the workspace."},
                "old_text": {"type": "string", "description": "Exact text to replace."},
                "new_text": {"type": "string", "description": "Replacement text."},
            },
            "required": ["path", "old_text", "new_text"],
            "additionalProperties": False,
        }

    def summary(self, args: dict[str, Any]) -> str:
        return f"edit_file {_short(args.get('path', ''))}"

    async def run(self, args: dict[str, Any], ctx: ToolContext) -> ToolResult:
        ws = ctx.files()
        parts = ws.parts(args["path"])
        edit = _Edit("/".join(parts) or ".", args["old_text"], args["new_text"])
        edit.check()
        done = await asyncio.to_thread(ws.edit_bytes, parts, edit.apply, EDIT_MAX_FILE_BYTES)
        return ToolResult(edit.report, writes=(done,))


class _Edit:
    """One exact replacement; `apply` maps the file's bytes to the new bytes."""

    def __init__(self, rel: str, old: str, new: str) -> None:
        self.rel, self.old, self.new = rel, old, new
        self.report = ""

    def check(self) -> None:
        if not self.old:
            raise ToolError("old_text is empty; use write_file to create or replace a whole file")
        if self.old == self.new:
            raise ToolError("old_text and new_text are the same; nothing to change")

    def apply(self, raw: bytes) -> bytes:
        rel, old, new = self.rel, self.old, self.new
        if _looks_binary(raw[:SNIFF_BYTES]):
            raise ToolError(f"{rel} looks like a binary file; edit_file edits text only")
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise ToolError(f"{rel} is not UTF-8 text; edit_file cannot edit it") from None
        count = text.count(old)
        if count == 0 and "\r\n" in text and "\r\n" not in old:
            # The model writes \n; the file uses CRLF line endings.
            old, new = old.replace("\n", "\r\n"), new.replace("\n", "\r\n")
            count = text.count(old)
        if count == 0:
            raise ToolError(
                f"old_text was not found in {rel}; it must match the file exactly, including "
                "whitespace and indentation (read_file shows the current text)"
            )
        if count > 1:
            raise ToolError(
                f"old_text occurs {count} times in {rel}; include more surrounding text "
                "so it matches exactly once"
            )
        at = text.index(old)
        line = text.count("\n", 0, at) + 1
        self.report = (
            f"edited {rel} at line {line}: replaced {old.count(chr(10)) + 1} line(s) "
            f"with {new.count(chr(10)) + 1}"
        )
        return (text[:at] + new + text[at + len(old) :]).encode("utf-8")
