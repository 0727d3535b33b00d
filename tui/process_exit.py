"""Leaving the `delegate` process without the interpreter's shutdown tax.

A finished `delegate run` used to spend 0.4-0.5 s (more on a loaded machine) after its
summary, in interpreter shutdown: the final garbage collection walks the SDK's,
pydantic's and the run's whole object graph only to free memory the kernel is about to
take back anyway. Once everything is written (the store flushed and closed, the summary
printed), no child process is left and no other thread runs, the process flushes its
standard streams and ends with `os._exit`. Otherwise it leaves normally, with the objects
alive at that point frozen (`gc.freeze`), so the final collection skips them.

Only the program does this (`tui.cli.entry`); `tui.cli.main()` called from Python (the
tests) returns as any function does.
"""

from __future__ import annotations

import gc
import logging
import os
import sys
import threading
import time
from pathlib import Path
from typing import NoReturn

_written = False


def mark_written() -> None:
    """Called by a command once all it had to write is written (store closed, output
    printed). Without this call the process always leaves the normal way."""
    global _written
    _written = True


RESUMABLE = frozenset({"stopped", "cancelled", "failed", "unverified", "interrupted"})


def exit_note(run_id: str, status: str, stopped: int = 0) -> str:
    """What the TUI prints on stdout once it closed: the run, how it ended, and how to
    pick it up again when something is left to do."""
    line = f"delegate: run {run_id} {status}"
    if stopped:
        line += f" ({stopped} agent{'s' * (stopped != 1)} stopped)"
    if status in RESUMABLE:
        line += f"\nresume it with: delegate resume {run_id}"
    return line


def child_processes() -> list[int] | None:
    """Our live or unreaped child processes; None when the system cannot tell."""
    tasks = Path(f"/proc/{os.getpid()}/task")
    try:
        pids = [
            int(pid) for task in tasks.iterdir() for pid in (task / "children").read_text().split()
        ]
    except (OSError, ValueError):
        return None
    return pids


def other_threads() -> list[threading.Thread]:
    main = threading.main_thread()
    return [t for t in threading.enumerate() if t is not main and t.is_alive()]


# How long leaving waits for other threads that are ending (sqlite's worker thread sets
# its close's result, then still has to run to its end: a few ms, but over 0.1 s was seen
# at load 11). A join returns as soon as its thread ends, so this bound costs nothing
# then; only a thread that keeps working makes the process wait it out and leave the
# normal way.
THREADS_ENDING_S = 1.0


def threads_ended(within_s: float = THREADS_ENDING_S) -> bool:
    """Whether every other thread has ended, waiting up to `within_s` for those ending."""
    deadline = time.monotonic() + within_s
    for thread in other_threads():
        thread.join(max(0.0, deadline - time.monotonic()))
    return not other_threads()


def can_skip_shutdown() -> bool:
    return _written and child_processes() == [] and threads_ended()


def leave(code: int) -> NoReturn:
    """End the process with `code`: at once when nothing is left to do, else normally.

    With the Temporal SDK loaded (`--runner temporal`, `delegate worker`), its native
    runtime's threads made ~3 in 10 processes crash (exit 139/134) in interpreter
    shutdown after all work was done; a collection first and `os._exit` stop that."""
    temporal = "temporalio" in sys.modules
    if temporal:
        gc.collect()
    if can_skip_shutdown() or (temporal and _written):
        logging.shutdown()  # what atexit would have done for log handlers
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        except (OSError, ValueError):
            pass  # a closed pipe: the normal exit below reports it as Python always does
        else:
            os._exit(code)
    gc.freeze()  # the final collection then skips everything alive now
    sys.exit(code)
