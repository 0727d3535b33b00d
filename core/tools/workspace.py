"""Path confinement: every file tool resolves its paths here, so nothing escapes the workspace.

A path is resolved with all symlinks followed (also a dangling one, and every existing
parent of a path that does not exist yet) and must land inside the resolved workspace.
"""

from __future__ import annotations

import os
from pathlib import Path

from core.tools.base import ToolError


def workspace_root(workspace: Path) -> Path:
    """The workspace with its own symlinks resolved: what every path is compared with."""
    return Path(os.path.realpath(workspace))


def resolve_in_workspace(workspace: Path, path: str) -> Path:
    """The real path of `path` (relative to the workspace, or absolute inside it).

    Raises ToolError for anything that resolves outside: `..`, absolute paths elsewhere,
    symlinks pointing out, paths through a symlinked parent, and `~` (never expanded).
    """
    if "\x00" in path:
        raise ToolError(f"invalid path {path!r}: it contains a NUL byte")
    if path.startswith("~"):
        raise ToolError(
            f"path {path!r} is refused: `~` is not expanded; use a path relative to the workspace"
        )
    root = workspace_root(workspace)
    candidate = Path(path.strip() or ".")
    if not candidate.is_absolute():
        candidate = root / candidate
    # realpath (non-strict) follows every symlink it can, including dangling ones and
    # the existing parents of a not-yet-existing path, then appends the remainder.
    resolved = Path(os.path.realpath(candidate))
    if not resolved.is_relative_to(root):
        raise ToolError(
            f"path {path!r} is outside the workspace ({root}); "
            "only files inside the workspace can be used"
        )
    return resolved


def display_path(workspace: Path, path: Path) -> str:
    """`path` relative to the workspace, for tool output ('.' for the workspace itself)."""
    root = workspace_root(workspace)
    try:
        rel = path.relative_to(root)
    except ValueError:
        return str(path)
    return rel.as_posix() or "."


def workspace_problem(path: Path) -> str | None:
    """Why `path` cannot be a workspace (one line), or None. Cheap to import: the CLI
    checks this before anything loads the model SDK."""
    if not path.exists():
        return f"workspace does not exist: {path}"
    if not path.is_dir():
        return f"workspace is not a directory: {path}"
    if not os.access(path, os.R_OK | os.W_OK | os.X_OK):
        return f"workspace is not writable: {path}"
    return None
