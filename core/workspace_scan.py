"""What a command changed in the workspace: a stat snapshot before it, a diff after it.

The evidence ledger sees write_file and edit_file through the tools themselves; a
command (`sed -i`, a script, `git checkout`) changes files without them. So around each
command the recorder takes a snapshot of the workspace (path -> inode, size, mtime),
walked beneath the workspace's pinned directory fd without following a symlink, and
reports what was created, modified or deleted. Tool caches (`__pycache__`,
`.pytest_cache`, ...) and `.git` are skipped: running the tests writes them, and they
are not the work. A workspace with more than `MAX_ENTRIES` files is not scanned (the
result is None: unknown, and the recorder counts the command as a change), so a huge
tree costs one bounded walk, not a slow command.
"""

from __future__ import annotations

import hashlib
import os
import stat
from dataclasses import dataclass
from typing import Literal

MAX_ENTRIES = 20_000
HASH_LIMIT = 8 * 1024 * 1024  # files larger than this are reported without a hash

SKIPPED_DIRS = frozenset(
    {
        ".git",
        ".hg",
        ".svn",
        "__pycache__",
        ".pytest_cache",
        ".mypy_cache",
        ".ruff_cache",
        ".tox",
        ".nox",
        ".venv",
        "venv",
        "node_modules",
        ".cache",
    }
)
SKIPPED_SUFFIXES = (".pyc", ".pyo")

Stamp = tuple[int, int, int]  # inode, size, mtime in ns
Snapshot = dict[str, Stamp]  # relative path -> stamp, regular files and symlinks


@dataclass(frozen=True)
class Change:
    path: str  # relative to the workspace
    kind: Literal["created", "modified", "deleted"]
    size: int  # after the command; 0 when deleted
    sha256: str  # of the content after the command; "" when deleted or too large


def snapshot(root_fd: int) -> Snapshot | None:
    """Every file beneath the directory fd `root_fd`; None when there are too many."""
    files: Snapshot = {}
    seen = 0
    for dirpath, dirnames, filenames, dir_fd in os.fwalk(".", dir_fd=root_fd):
        dirnames[:] = [d for d in dirnames if d not in SKIPPED_DIRS]
        seen += len(dirnames)
        # A symlink to a directory is listed with the directories (never walked into):
        # it is recorded as the link it is.
        for name in [*filenames, *_dir_links(dirnames, dir_fd)]:
            if name.endswith(SKIPPED_SUFFIXES):
                continue
            try:
                st = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
            except OSError:
                continue  # gone between the listing and the stat
            if not (stat.S_ISREG(st.st_mode) or stat.S_ISLNK(st.st_mode)):
                continue
            rel = os.path.normpath(os.path.join(dirpath, name))
            files[rel] = (st.st_ino, st.st_size, st.st_mtime_ns)
        if seen + len(files) > MAX_ENTRIES:
            return None
    return files


def _dir_links(dirnames: list[str], dir_fd: int) -> list[str]:
    links = []
    for name in dirnames:
        try:
            if stat.S_ISLNK(os.stat(name, dir_fd=dir_fd, follow_symlinks=False).st_mode):
                links.append(name)
        except OSError:
            continue
    return links


def diff(root_fd: int, before: Snapshot, after: Snapshot) -> list[Change]:
    """What changed from `before` to `after`, sorted by path, with content hashes."""
    changes: list[Change] = []
    for path in sorted(before.keys() | after.keys()):
        old, new = before.get(path), after.get(path)
        if old == new:
            continue
        if new is None:
            changes.append(Change(path, "deleted", 0, ""))
            continue
        kind: Literal["created", "modified"] = "created" if old is None else "modified"
        changes.append(Change(path, kind, new[1], _sha256(root_fd, path, new[1])))
    return changes


def _sha256(root_fd: int, path: str, size: int) -> str:
    """The file's sha256, opened beneath `root_fd` with no symlink followed; "" if not."""
    if size > HASH_LIMIT:
        return ""
    cur = os.dup(root_fd)
    try:
        *dirs, name = path.split("/")
        for part in dirs:
            nxt = os.open(part, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=cur)
            os.close(cur)
            cur = nxt
        fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK, dir_fd=cur)
    except OSError:
        return ""  # a symlink, or gone again
    finally:
        os.close(cur)
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return ""
        digest = hashlib.sha256()
        while chunk := os.read(fd, 1 << 16):
            digest.update(chunk)
        return digest.hexdigest()
    except OSError:
        return ""
    finally:
        os.close(fd)
