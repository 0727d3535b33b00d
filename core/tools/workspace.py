"""Path confinement: the workspace is opened once as a directory fd, and every path a file
tool uses is resolved beneath that fd, one component at a time, following no symlink.

Checking a path string (`realpath`) and then opening it by name can be raced: between the
two, a file or a parent folder can be swapped for a symlink that leads out, and the open
follows it. Here nothing is checked by name and then opened again by name:

- On Linux (x86_64, aarch64) one `openat2(root_fd, path, RESOLVE_BENEATH |
  RESOLVE_NO_SYMLINKS)` resolves the path in the kernel; elsewhere (or where a seccomp
  filter refuses openat2) each component is opened with `O_NOFOLLOW | O_DIRECTORY`
  relative to the previous component's fd. A symlink anywhere in the path is refused.
- A regular file with more than one hard link is refused, for reading and for writing:
  its other name may be outside the workspace.
- A write goes to a temporary file created in the target's directory fd, then renamed
  over the target within that fd: a symlink or a hard link swapped in at the last
  moment is replaced, never written through.
- The root is pinned: `Workspace` opens the directory once (per session, or per agent
  for a bare `ToolContext`), so replacing the workspace folder mid-run, by a symlink to
  `/` or by another folder, does not move the tools.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import posixpath
import stat
import sys
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from core.tools.errors import ToolError

DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
# O_NONBLOCK: opening a FIFO must not wait for a writer (the fd is checked right after).
READ_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
TEMP_PREFIX = ".delegate-write-"
HASH_CHUNK = 1 << 20

# openat2(2): struct open_how and its resolve flags (linux/openat2.h).
RESOLVE_NO_MAGICLINKS = 0x02
RESOLVE_NO_SYMLINKS = 0x04
RESOLVE_BENEATH = 0x08
_OPENAT2_SYSCALL = {"x86_64": 437, "amd64": 437, "aarch64": 437, "arm64": 437}


class _Openat2:
    """openat2(2) through libc's `syscall()` (Python 3.11 has no os.openat2)."""

    def __init__(self, number: int) -> None:
        import ctypes  # here: the CLI imports this module for `workspace_problem`

        class OpenHow(ctypes.Structure):
            _fields_ = [
                ("flags", ctypes.c_uint64),
                ("mode", ctypes.c_uint64),
                ("resolve", ctypes.c_uint64),
            ]

        self._ctypes = ctypes
        self._how = OpenHow
        self._number = number
        self._syscall = ctypes.CDLL(None, use_errno=True).syscall
        self._syscall.restype = ctypes.c_long

    def __call__(self, dir_fd: int, path: str, flags: int) -> int:
        ct = self._ctypes
        how = self._how(flags, 0, RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS)
        raw = os.fsencode(path)
        while True:
            fd = int(
                self._syscall(
                    ct.c_long(self._number),
                    ct.c_int(dir_fd),
                    ct.c_char_p(raw),
                    ct.byref(how),
                    ct.c_size_t(ct.sizeof(how)),
                )
            )
            if fd >= 0:
                return fd
            code = ct.get_errno()
            if code != errno.EINTR:
                raise OSError(code, os.strerror(code), path)


_openat2: _Openat2 | None = None
_openat2_probed = False


def openat2_available() -> bool:
    """Whether paths are resolved by openat2 here (else by the O_NOFOLLOW walk)."""
    return _get_openat2() is not None


def use_openat2(enabled: bool) -> None:
    """Turn openat2 off (the portable walk is used) or back on (probed again). For tests."""
    global _openat2, _openat2_probed
    _openat2, _openat2_probed = None, not enabled


def _get_openat2() -> _Openat2 | None:
    global _openat2, _openat2_probed
    if _openat2_probed:
        return _openat2
    _openat2_probed = True
    number = _OPENAT2_SYSCALL.get(os.uname().machine.lower())
    if not sys.platform.startswith("linux") or number is None:
        return None
    try:
        candidate = _Openat2(number)
        top = os.open("/", DIR_FLAGS)
        try:
            os.close(candidate(top, ".", DIR_FLAGS))
        finally:
            os.close(top)
    except (OSError, AttributeError):
        return None  # ENOSYS (old kernel), EPERM (a seccomp filter), no libc syscall()
    _openat2 = candidate
    return candidate


@dataclass(frozen=True)
class FileWrite:
    """What one write did to one file: for the tool's reply and for an evidence ledger."""

    path: str  # relative to the workspace
    bytes_written: int
    sha256_before: str | None  # None: the file did not exist
    sha256_after: str

    @property
    def created(self) -> bool:
        return self.sha256_before is None


def _join(parts: tuple[str, ...]) -> str:
    return "/".join(parts) or "."


class Workspace:
    """The workspace directory, pinned: opened once; every path is resolved beneath it.

    Paths are relative to the workspace, or absolute under the path it had when opened.
    Every method raises ToolError, with a message for the model, for what it refuses.
    """

    def __init__(self, path: Path) -> None:
        given = os.path.abspath(path)
        fd = os.open(given, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        self.fd = fd
        self._finalizer = weakref.finalize(self, os.close, fd)
        try:  # exactly the directory the fd holds
            real = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            real = os.path.realpath(given)
        self.path = Path(real)
        self._aliases = tuple(dict.fromkeys([real, given]))

    def close(self) -> None:
        self._finalizer()

    # --- paths (no filesystem access) -----------------------------------------

    def parts(self, path: str) -> tuple[str, ...]:
        """`path` as components beneath the root; `..` and absolute paths that leave it are
        refused here, lexically, before anything is opened."""
        if "\x00" in path:
            raise ToolError(f"invalid path {path!r}: it contains a NUL byte")
        text = path.strip() or "."
        if text.startswith("~"):
            raise ToolError(
                f"path {path!r} is refused: `~` is not expanded; "
                "use a path relative to the workspace"
            )
        if text.startswith("/"):
            inner = self._under_root(posixpath.normpath(text))
            if inner is None:
                raise self._escapes(path)
            text = inner
        norm = posixpath.normpath(text)
        if norm == ".." or norm.startswith("../"):
            raise self._escapes(path)
        return tuple(p for p in norm.split("/") if p not in ("", "."))

    def _under_root(self, absolute: str) -> str | None:
        for base in self._aliases:
            if absolute == base:
                return "."
            prefix = base.rstrip("/") + "/"
            if absolute.startswith(prefix):
                return absolute[len(prefix) :]
        return None

    def _escapes(self, path: str) -> ToolError:
        return ToolError(
            f"refused: path {path!r} escapes the workspace; "
            f"it is outside the workspace ({self.path})"
        )

    def display(self, path: str) -> str:
        """`path` as the tools show it, relative to the workspace ('.' for the root)."""
        return _join(self.parts(path))

    # --- opening ----------------------------------------------------------------

    def open_dir(self, parts: tuple[str, ...]) -> int:
        """A new fd for the directory `parts`; the caller closes it."""
        try:
            return self._open_beneath(parts, DIR_FLAGS)
        except OSError as exc:
            raise self._explain(parts, exc, want_dir=True) from None

    def open_file(self, parts: tuple[str, ...]) -> tuple[BinaryIO, os.stat_result]:
        """The regular file `parts`, open for reading, and its stat (one link only)."""
        try:
            fd = self._open_beneath(parts, READ_FLAGS)
        except OSError as exc:
            raise self._explain(parts, exc, want_dir=False) from None
        try:
            st = os.fstat(fd)
            check_regular(st, _join(parts))
            os.set_blocking(fd, True)
        except BaseException:
            os.close(fd)
            raise
        return os.fdopen(fd, "rb"), st

    def open_any(self, parts: tuple[str, ...]) -> tuple[int, os.stat_result]:
        """A new fd (read-only, the caller closes it) and stat for `parts`, of any type."""
        try:
            fd = self._open_beneath(parts, READ_FLAGS)
        except OSError as exc:
            raise self._explain(parts, exc, missing="path") from None
        try:
            return fd, os.fstat(fd)
        except BaseException:
            os.close(fd)
            raise

    def _open_beneath(self, parts: tuple[str, ...], flags: int) -> int:
        """Open root/parts with `flags`, through no symlink; OSError as the open fails."""
        opener = _get_openat2()
        if opener is not None:
            try:
                return opener(self.fd, _join(parts), flags)
            except OSError as exc:
                # EAGAIN: the kernel saw a concurrent rename it could not rule out; the
                # walk below is just as safe. Anything else is the answer.
                if exc.errno != errno.EAGAIN:
                    raise
        if not parts:
            return os.open(".", flags | os.O_NOFOLLOW, dir_fd=self.fd)
        cur = os.dup(self.fd)
        try:
            for name in parts[:-1]:
                nxt = os.open(name, DIR_FLAGS, dir_fd=cur)
                os.close(cur)
                cur = nxt
            return os.open(parts[-1], flags | os.O_NOFOLLOW, dir_fd=cur)
        finally:
            os.close(cur)

    def _open_parent(self, parts: tuple[str, ...], *, create: bool) -> int:
        """An fd for the directory holding `parts[-1]`, creating missing folders if asked
        (mkdir and open relative to the previous folder's fd, never by a path string)."""
        dirs = parts[:-1]
        try:
            return self._open_beneath(dirs, DIR_FLAGS)
        except FileNotFoundError:
            if not create:
                raise self._explain(parts, FileNotFoundError(errno.ENOENT, "")) from None
        except OSError as exc:
            raise self._explain(parts, exc) from None
        cur = os.dup(self.fd)
        try:
            for name in dirs:
                try:
                    try:
                        nxt = os.open(name, DIR_FLAGS, dir_fd=cur)
                    except FileNotFoundError:
                        with contextlib.suppress(FileExistsError):
                            os.mkdir(name, 0o777, dir_fd=cur)
                        nxt = os.open(name, DIR_FLAGS, dir_fd=cur)
                except OSError as exc:
                    raise self._explain(parts, exc) from None
                os.close(cur)
                cur = nxt
            return os.dup(cur)
        finally:
            os.close(cur)

    # --- errors -----------------------------------------------------------------

    def _explain(
        self, parts: tuple[str, ...], exc: OSError, *, want_dir: bool = False, missing: str = ""
    ) -> ToolError:
        """The tool error for a failed open of `parts`."""
        rel = _join(parts)
        code = exc.errno
        if code in (errno.ELOOP, errno.ENOTDIR):
            # ENOTDIR too: O_DIRECTORY | O_NOFOLLOW on a symlink fails with it.
            found = self._first_non_dir(parts)
            if found is not None:
                count, st = found
                if stat.S_ISLNK(st.st_mode):
                    return symlink_refused(_join(parts[:count]))
                if count < len(parts):
                    return ToolError(
                        f"{_join(parts[:count])} is not a directory (in the path {rel})"
                    )
                if want_dir:
                    return ToolError(f"{rel} is a file, not a directory; use read_file")
            # The path changed between the refused open and this look at it (a race).
            return ToolError(
                f"refused: {rel} had a symlink or a file in its path when opened "
                "(file tools do not follow symlinks: one could lead outside the workspace)"
            )
        if code == errno.EXDEV:
            return self._escapes(rel)
        if code == errno.ENOENT:
            what = missing or ("directory" if want_dir else "file")
            return ToolError(f"{what} not found: {rel}")
        if code in (errno.EACCES, errno.EPERM):
            return ToolError(f"cannot open {rel}: permission denied")
        return ToolError(f"cannot open {rel}: {exc.strerror or exc}")

    def _first_non_dir(self, parts: tuple[str, ...]) -> tuple[int, os.stat_result] | None:
        """How many components lead to the first one that is not a directory (a symlink,
        a file), with its lstat; None if all are folders or one is missing. For error
        messages only: the refusal itself was the open's."""
        cur = os.dup(self.fd)
        try:
            for i, name in enumerate(parts):
                try:
                    st = os.stat(name, dir_fd=cur, follow_symlinks=False)
                    if not stat.S_ISDIR(st.st_mode):
                        return i + 1, st
                    if i + 1 < len(parts):
                        nxt = os.open(name, DIR_FLAGS, dir_fd=cur)
                        os.close(cur)
                        cur = nxt
                except OSError:
                    return None
            return None
        finally:
            os.close(cur)

    # --- writing ----------------------------------------------------------------

    def write_bytes(self, parts: tuple[str, ...], data: bytes) -> FileWrite:
        """Create or replace the file `parts` with `data`, creating its folders."""
        rel = _join(parts)
        if not parts:
            raise ToolError(f"{rel} is a directory")
        parent = self._open_parent(parts, create=True)
        try:
            before, mode = _current(parent, parts[-1], rel)
            replace_in(parent, parts[-1], data, mode, rel)
        finally:
            os.close(parent)
        return FileWrite(rel, len(data), before, hashlib.sha256(data).hexdigest())

    def edit_bytes(
        self, parts: tuple[str, ...], change: Callable[[bytes], bytes], max_bytes: int
    ) -> FileWrite:
        """Read the file `parts` (at most `max_bytes`), and replace it by `change(old)`.
        Both happen in the one directory fd, so the file edited is the file read."""
        rel = _join(parts)
        if not parts:
            raise ToolError(f"{rel} is a directory; use list_files to see its contents")
        parent = self._open_parent(parts, create=False)
        try:
            try:
                fd = os.open(parts[-1], READ_FLAGS, dir_fd=parent)
            except OSError as exc:
                raise self._explain(parts, exc) from None
            with os.fdopen(fd, "rb") as f:
                st = os.fstat(fd)
                check_regular(st, rel)
                if st.st_size > max_bytes:
                    raise ToolError(f"{rel} is larger than {max_bytes} bytes; edit_file refuses it")
                os.set_blocking(fd, True)
                old = f.read(max_bytes + 1)
            new = change(old)
            replace_in(parent, parts[-1], new, st.st_mode, rel)
        finally:
            os.close(parent)
        return FileWrite(
            rel, len(new), hashlib.sha256(old).hexdigest(), hashlib.sha256(new).hexdigest()
        )


def symlink_refused(rel: str) -> ToolError:
    return ToolError(
        f"refused: {rel} is a symlink; file tools do not follow symlinks "
        "(one could lead outside the workspace)"
    )


def check_regular(st: os.stat_result, rel: str) -> None:
    """Refuse what an open fd shows is not a plain file of one link."""
    if stat.S_ISDIR(st.st_mode):
        raise ToolError(f"{rel} is a directory; use list_files to see its contents")
    if not stat.S_ISREG(st.st_mode):
        raise ToolError(f"{rel} is not a regular file")
    if st.st_nlink > 1:
        raise ToolError(
            f"refused: {rel} has {st.st_nlink} hard links "
            "(a hard link could point outside the workspace)"
        )


def _current(parent: int, name: str, rel: str) -> tuple[str | None, int | None]:
    """The hash and mode of the file about to be replaced, or (None, None) if there is none."""
    try:
        fd = os.open(name, READ_FLAGS, dir_fd=parent)
    except FileNotFoundError:
        return None, None
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise symlink_refused(rel) from None
        if exc.errno in (errno.EACCES, errno.EPERM):
            raise ToolError(f"cannot replace {rel}: permission denied") from None
        raise ToolError(f"cannot replace {rel}: {exc.strerror or exc}") from None
    with os.fdopen(fd, "rb") as f:
        st = os.fstat(fd)
        check_regular(st, rel)
        os.set_blocking(fd, True)
        digest = hashlib.sha256()
        while chunk := f.read(HASH_CHUNK):
            digest.update(chunk)
    return digest.hexdigest(), st.st_mode


def replace_in(parent: int, name: str, data: bytes, mode: int | None, rel: str) -> None:
    """Write `data` to a new file in the directory fd `parent`, then rename it to `name`
    there (atomic: a reader sees the old file or the new one, and whatever `name` was a
    moment ago, symlink or hard link, is replaced rather than written through)."""
    temp = f"{TEMP_PREFIX}{os.urandom(6).hex()}.tmp"
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
    try:
        fd = os.open(temp, flags, 0o666, dir_fd=parent)
    except OSError as exc:
        raise ToolError(f"cannot write {rel}: {exc.strerror or exc}") from None
    try:
        try:
            if mode is not None:
                os.fchmod(fd, stat.S_IMODE(mode))
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
        finally:
            os.close(fd)
        os.rename(temp, name, src_dir_fd=parent, dst_dir_fd=parent)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            os.unlink(temp, dir_fd=parent)
        if not isinstance(exc, OSError):
            raise
        if exc.errno == errno.EISDIR:
            raise ToolError(f"{rel} is a directory") from None
        raise ToolError(f"cannot write {rel}: {exc.strerror or exc}") from None


def workspace_root(workspace: Path) -> Path:
    """The workspace with its own symlinks resolved (where commands run)."""
    return Path(os.path.realpath(workspace))


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
