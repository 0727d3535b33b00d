"""The honest run outcome: which checks ran, whether one passed after the last change.

A run is `verified` only when at least one `run_check` passed after the last file
change by any agent, and none run after that change failed. The same fold serves the
live session (its status), the store (the summary of a recorded run) and the TUI.
A "change" is what the evidence ledger saw: a write_file or edit_file, or a file a
command created, modified or deleted (found by a stat scan of the workspace around it,
caches and `.git` left out; see core/workspace_scan.py).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from core.events import CommandRan, Event, FileChanged, RunStatus

CHECK_TOOL = "run_check"


@dataclass(frozen=True)
class Check:
    command: str
    exit_code: int | None
    timed_out: bool
    order: int

    @property
    def passed(self) -> bool:
        return self.exit_code == 0 and not self.timed_out


@dataclass
class Verification:
    """Folds FileChanged and run_check CommandRan events, in stream order."""

    checks_seen: list[Check] = field(default_factory=list)
    last_change: int = 0  # order of the last file change; 0 = none
    changes: int = 0
    _order: int = 0

    def observe(self, event: Event) -> None:
        if isinstance(event, FileChanged):
            self._order += 1
            self.last_change = self._order
            self.changes += 1
        elif isinstance(event, CommandRan) and event.tool == CHECK_TOOL:
            self._order += 1
            self.checks_seen.append(
                Check(event.command, event.exit_code, event.timed_out, self._order)
            )

    @classmethod
    def of(cls, events: Iterable[Event]) -> Verification:
        v = cls()
        for event in events:
            v.observe(event)
        return v

    def after_change(self) -> list[Check]:
        return [c for c in self.checks_seen if c.order > self.last_change]

    @property
    def verified(self) -> bool:
        after = self.after_change()
        return bool(after) and all(c.passed for c in after)

    def checks(self) -> list[dict[str, Any]]:
        """The summary's `checks`: each run_check with whether it ran after the last change."""
        return [
            {
                "command": c.command,
                "exit_code": c.exit_code,
                "after_last_change": c.order > self.last_change,
                **({"timed_out": True} if c.timed_out else {}),
            }
            for c in self.checks_seen
        ]

    def headline(self) -> str:
        """One line for the header: 'verified: `cmd` passed after the last change', or why not."""
        after = self.after_change()
        if self.verified:
            return f"verified: `{after[-1].command}` passed after the last change"
        failed = [c for c in after if not c.passed]
        if failed:
            c = failed[-1]
            how = "timed out" if c.timed_out else f"failed (exit {c.exit_code})"
            return f"not verified: `{c.command}` {how} after the last change"
        if self.checks_seen:
            return "not verified: no check ran after the last change"
        return "not verified: no check ran"


def settle(status: RunStatus, verified: bool) -> RunStatus:
    """An answered run is `done` only when verified; otherwise `unverified`."""
    if status == "done" and not verified:
        return "unverified"
    return status
