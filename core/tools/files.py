"""File tools: read, list, search, write and edit files inside the workspace.

Every path goes through `resolve_in_workspace`. The work runs in a thread so a big
directory or file never stalls the event loop, and every output is capped.
"""

from __future__ import annotations

import asyncio
import os
import re
import stat
from pathlib import Path
from typing import IO, Any

from core.tools.base import ToolContext, ToolError, ToolResult
from core.tools.workspace import display_path, resolve_in_workspace, workspace_root

MAX_READ_LINES = 2000
MAX_READ_OFFSET = 100_000_000  # a line number no text file here reaches; bounds the input
MAX_LINE_BYTES = 4000
SNIFF_BYTES = 8192
LIST_MAX_DEPTH = 3
LIST_MAX_ENTRIES = 500
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


def _rel(root: Path, path: Path) -> str:
    """`path` relative to the already resolved `root` (no filesystem calls, for walks)."""
    try:
        return path.relative_to(root).as_posix() or "."
    except ValueError:
        return str(path)


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


def _require_file(path: Path, rel: str) -> None:
    if not path.exists():
        raise ToolError(f"file not found: {rel}")
    if path.is_dir():
        raise ToolError(f"{rel} is a directory; use list_files to see its contents")
    if not path.is_file():
        raise ToolError(f"{rel} is not a regular file")


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
        path = resolve_in_workspace(ctx.workspace, args["path"])
        offset = _positive_int(args, "offset", 1)
        limit = min(_positive_int(args, "limit", MAX_READ_LINES), MAX_READ_LINES)
        rel = display_path(ctx.workspace, path)
        text = await asyncio.to_thread(_read_text, path, rel, offset, limit, ctx.output_cap_bytes)
        return ToolResult(text)


def _read_text(path: Path, rel: str, offset: int, limit: int, cap: int) -> str:
    _require_file(path, rel)
    with path.open("rb") as f:
        head = f.read(SNIFF_BYTES)
        if _looks_binary(head):
            size = path.stat().st_size
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
        path = resolve_in_workspace(ctx.workspace, args.get("path") or ".")
        text = await asyncio.to_thread(_list_dir, workspace_root(ctx.workspace), path)
        return ToolResult(text)


def _list_dir(root: Path, top: Path) -> str:
    rel_top = display_path(root, top)
    if not top.exists():
        raise ToolError(f"directory not found: {rel_top}")
    if not top.is_dir():
        raise ToolError(f"{rel_top} is a file, not a directory; use read_file")
    listing = _Listing(root)
    listing.walk(str(top), 1)
    out = listing.lines
    if not out:
        return f"{rel_top}/ is empty"
    if listing.capped:
        out.append(f"[listing capped at {LIST_MAX_ENTRIES} entries; list a subdirectory]")
    if listing.unexpanded:
        out.append("[directories marked [...] are deeper; list them with list_files path=...]")
    return "\n".join(out)


class _Listing:
    """A depth-first listing. A method, not a nested function: a closure that calls
    itself is a reference cycle, left for the garbage collector on every call."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.lines: list[str] = []
        self.capped = False
        self.unexpanded = False

    def walk(self, directory: str, level: int) -> None:
        out = self.lines
        try:
            with os.scandir(directory) as it:
                entries = sorted(it, key=lambda e: e.name)
        except OSError as exc:
            out.append(f"{_rel(self.root, Path(directory))}/ [unreadable: {exc.strerror}]")
            return
        for entry in entries:
            if len(out) >= LIST_MAX_ENTRIES:
                self.capped = True
                return
            rel = _rel(self.root, Path(entry.path))
            if entry.is_symlink():
                out.append(f"{rel} -> {os.readlink(entry.path)}")
            elif entry.is_dir(follow_symlinks=False):
                if entry.name in SKIP_DIRS:
                    continue
                if level < LIST_MAX_DEPTH:
                    out.append(f"{rel}/")
                    self.walk(entry.path, level + 1)
                else:
                    out.append(f"{rel}/ [...]")
                    self.unexpanded = True
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
        path = resolve_in_workspace(ctx.workspace, args.get("path") or ".")
        root = workspace_root(ctx.workspace)
        text = await asyncio.to_thread(_search, root, path, regex, ctx.output_cap_bytes)
        return ToolResult(text)


def _iter_files(top: Path) -> list[Path]:
    if top.is_file():
        return [top]
    files: list[Path] = []
    for dirpath, dirnames, filenames in os.walk(top, followlinks=False):
        dirnames[:] = sorted(d for d in dirnames if d not in SKIP_DIRS)
        for name in sorted(filenames):
            full = Path(dirpath, name)
            if not full.is_symlink():  # a symlink could point outside the workspace
                files.append(full)
    return files


def _search(root: Path, top: Path, regex: re.Pattern[str], cap: int) -> str:
    rel_top = display_path(root, top)
    if not top.exists():
        raise ToolError(f"path not found: {rel_top}")
    out: list[str] = []
    used = 0
    too_big = 0
    stopped = ""
    for file in _iter_files(top):
        if stopped:
            break
        try:
            st = file.stat()
            if not stat.S_ISREG(st.st_mode):  # a FIFO or device would block the read
                continue
            if st.st_size > SEARCH_MAX_FILE_BYTES:
                too_big += 1
                continue
            with file.open("rb") as f:
                if _looks_binary(f.read(SNIFF_BYTES)):
                    continue
                f.seek(0)
                rel = _rel(root, file)
                for lineno, raw in enumerate(f, 1):
                    line = raw.decode("utf-8", "replace").rstrip("\r\n")
                    if not regex.search(line):
                        continue
                    if len(line) > SEARCH_LINE_CHARS:
                        line = line[:SEARCH_LINE_CHARS] + "…"
                    entry = f"{rel}:{lineno}: {line}"
                    if len(out) >= SEARCH_MAX_MATCHES or used + len(entry) + 1 > cap:
                        stopped = f"[stopped after {len(out)} matches; narrow the pattern or path]"
                        break
                    out.append(entry)
                    used += len(entry) + 1
        except OSError:
            continue
    if not out:
        out.append(f"no matches for /{regex.pattern}/ in {rel_top}")
    if stopped:
        out.append(stopped)
    if too_big:
        out.append(f"[skipped {too_big} files larger than {SEARCH_MAX_FILE_BYTES} bytes]")
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
        path = resolve_in_workspace(ctx.workspace, args["path"])
        rel = display_path(ctx.workspace, path)
        data = args["content"].encode("utf-8")
        return ToolResult(await asyncio.to_thread(_write, path, rel, data))


def _write(path: Path, rel: str, data: bytes) -> str:
    if path.is_dir():
        raise ToolError(f"{rel} is a directory")
    existed = path.exists()
    if existed and not path.is_file():
        raise ToolError(f"{rel} is not a regular file")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    except OSError as exc:
        raise ToolError(f"cannot write {rel}: {exc.strerror or exc}") from None
    return f"wrote {len(data)} bytes to {rel} ({'replaced' if existed else 'new file'})"


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
        path = resolve_in_workspace(ctx.workspace, args["path"])
        rel = display_path(ctx.workspace, path)
        text = await asyncio.to_thread(_edit, path, rel, args["old_text"], args["new_text"])
        return ToolResult(text)


def _edit(path: Path, rel: str, old: str, new: str) -> str:
    if not old:
        raise ToolError("old_text is empty; use write_file to create or replace a whole file")
    if old == new:
        raise ToolError("old_text and new_text are the same; nothing to change")
    _require_file(path, rel)
    if path.stat().st_size > EDIT_MAX_FILE_BYTES:
        raise ToolError(f"{rel} is larger than {EDIT_MAX_FILE_BYTES} bytes; edit_file refuses it")
    raw = path.read_bytes()
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
    updated = text[:at] + new + text[at + len(old) :]
    try:
        path.write_bytes(updated.encode("utf-8"))
    except OSError as exc:
        raise ToolError(f"cannot write {rel}: {exc.strerror or exc}") from None
    line = text.count("\n", 0, at) + 1
    return (
        f"edited {rel} at line {line}: replaced {old.count(chr(10)) + 1} line(s) "
        f"with {new.count(chr(10)) + 1}"
    )
