"""Commands die with the worker that runs them: a worker killed with -9 leaves none running.

A cancelled activity stops its command's process group (core.tools.shell); a worker
that is killed outright cancels nothing, so each command is also tied to the worker's
life. In the sandbox that is bubblewrap's `--die-with-parent` and its PID namespace
(every process of the command dies, daemons included). Unconfined, the command runs
under a small guard shell started through `setpriv --pdeathsig TERM` (util-linux): when
the worker dies the kernel sends the guard SIGTERM and the guard kills the command's
whole process group. Without `setpriv`, or for a process that left the group (`setsid`),
nothing does: the README says so.
"""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path

from core.sandbox import CommandRunner

# Runs the command in the background and waits for it (its exit status is the guard's);
# SIGTERM (the worker died, or the command is stopped) kills the whole process group.
GUARD = 'trap "kill -KILL 0" TERM; "$@" & wait $!'


@dataclasses.dataclass(frozen=True)
class DyingRunner(CommandRunner):
    setpriv: str | None = None

    def argv(
        self, command: str, cwd: Path, workspace: Path, pinned_fd: int | None = None
    ) -> list[str]:
        argv = super().argv(command, cwd, workspace, pinned_fd)
        if self.confined or self.setpriv is None:
            return argv
        return [self.setpriv, "--pdeathsig", "TERM", "--", "/bin/sh", "-c", GUARD, "guard", *argv]


def die_with_worker(runner: CommandRunner) -> CommandRunner:
    fields = {f.name: getattr(runner, f.name) for f in dataclasses.fields(runner)}
    return DyingRunner(**fields, setpriv=shutil.which("setpriv"))
