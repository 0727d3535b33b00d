"""Finding the processes a test started, by a marker in their environment, via /proc.

A marker survives re-parenting (an orphan keeps its environment), so it finds grandchildren
whose parent died too. PID 1 here does not reap orphans: a zombie (state Z) counts as gone.
"""

from __future__ import annotations

import os
import secrets
import time
from pathlib import Path

MARKER_VAR = "DELEGATE_TEST_MARKER"


def new_marker() -> str:
    return "m-" + secrets.token_hex(8)


def _state(pid: str) -> str:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return ""
    return stat.rsplit(")", 1)[1].split()[0]  # the field after "(comm)"


def marked(marker: str) -> dict[int, str]:
    """Live (non-zombie) processes whose environment carries `marker`: pid -> command line."""
    needle = f"{MARKER_VAR}={marker}".encode()
    found: dict[int, str] = {}
    for pid in os.listdir("/proc"):
        if not pid.isdigit() or int(pid) == os.getpid():
            continue
        try:
            environ = Path(f"/proc/{pid}/environ").read_bytes()
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue
        if needle in environ.split(b"\0") and _state(pid) not in ("", "Z", "X"):
            found[int(pid)] = cmdline.replace(b"\0", b" ").decode(errors="replace").strip()
    return found


def wait_for(marker: str, predicate: object, timeout_s: float = 10.0) -> dict[int, str]:
    """Poll until `predicate(marked(marker))` is true; the last scan, or AssertionError."""
    deadline = time.monotonic() + timeout_s
    while True:
        procs = marked(marker)
        if predicate(procs):  # type: ignore[operator]
            return procs
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout_s}s; processes: {procs}")
        time.sleep(0.02)
