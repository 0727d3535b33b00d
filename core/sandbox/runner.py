"""The one place every command is turned into a process: the sandbox runner.

`detect_runner(settings, workspace)` looks for bubblewrap once at start and proves it
works by running `true` inside the same sandbox a command gets. The resulting
`CommandRunner` says whether commands are confined (`state`), and gives the argv and the
allow-listed environment of each command; core.tools.shell runs them.
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Literal

from core.errors import DelegateError
from core.sandbox.bwrap import SANDBOX_HOME, Bwrap, bwrap_argv, find_bwrap
from core.sandbox.env import command_env
from core.sandbox.settings import SandboxSettings

# `sandboxed`: bubblewrap confines every command. `unavailable`: none could start, so
# every command asks. `off`: the user turned it off; commands run unconfined.
SandboxState = Literal["sandboxed", "unavailable", "off"]
PROBE_TIMEOUT_S = 10.0


class SandboxRequired(DelegateError):
    """`[sandbox] mode = "required"` and no sandbox can start; `str()` is one line."""


@dataclass(frozen=True)
class CommandRunner:
    state: SandboxState
    settings: SandboxSettings = field(default_factory=SandboxSettings)
    bwrap: Bwrap | None = None
    reason: str = ""  # why there is no sandbox
    network: bool = False

    @property
    def confined(self) -> bool:
        return self.state == "sandboxed" and self.bwrap is not None

    def with_network(self, network: bool | None) -> CommandRunner:
        """The same runner for a role that turns the network on (or off)."""
        if network is None or network == self.network:
            return self
        return replace(self, network=network)

    def describe(self) -> str:
        """One line for the start of a run and the header's tooltip."""
        if self.confined:
            assert self.bwrap is not None
            net = "on" if self.network else "off"
            return f"sandbox: bubblewrap {self.bwrap.version_text}, network {net} by default"
        if self.state == "off":
            return (
                'sandbox: off ([sandbox] mode = "off"): commands run unconfined, '
                "and commands that run workspace code always ask"
            )
        return f"sandbox: none ({self.reason}): every command asks before it runs"

    def env(self, source: dict[str, str] | None = None) -> dict[str, str]:
        source = dict(os.environ) if source is None else source
        home = SANDBOX_HOME if self.confined else source.get("HOME", SANDBOX_HOME)
        return command_env(source, self.settings.env, home)

    def argv(
        self, command: str, cwd: Path, workspace: Path, pinned_fd: int | None = None
    ) -> list[str]:
        """The process to start for one shell command run in `cwd` (inside `workspace`);
        `pinned_fd`, an open fd of the workspace passed to the child, is what gets bound."""
        shell = ["/bin/sh", "-c", command]
        if not self.confined:
            return shell
        assert self.bwrap is not None
        return bwrap_argv(
            self.bwrap,
            self.settings,
            workspace=workspace,
            cwd=cwd,
            network=self.network,
            pinned_fd=pinned_fd,
            env=os.environ,
            command=shell,
        )


UNCONFINED = CommandRunner("off", reason="no sandbox was set up for this context")


def _probe(bwrap: Bwrap, settings: SandboxSettings, workspace: Path) -> str:
    """Run `true` in the sandbox; '' when it worked, else the reason in one line."""
    runner = CommandRunner("sandboxed", settings, bwrap)
    try:
        done = subprocess.run(
            runner.argv("true", workspace, workspace),
            env=runner.env(),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=PROBE_TIMEOUT_S,
            check=False,
        )
    except (OSError, subprocess.SubprocessError) as exc:
        return f"bwrap did not start: {exc}"
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or [f"exit code {done.returncode}"])[-1]
        return f"bwrap cannot start here: {last}"
    return ""


_cache: dict[tuple[SandboxSettings, str], CommandRunner] = {}


def detect_runner(settings: SandboxSettings, workspace: Path) -> CommandRunner:
    """The runner for this run, probed once per process (settings and workspace).

    Raises SandboxRequired in `required` mode when no sandbox can start.
    """
    key = (settings, str(workspace))
    runner = _cache.get(key)
    if runner is None:
        runner = _detect(settings, workspace)
        _cache[key] = runner
    if settings.mode == "required" and not runner.confined:
        raise SandboxRequired(
            f'sandbox: [sandbox] mode = "required" but no sandbox can start ({runner.reason})'
        )
    return runner


def _detect(settings: SandboxSettings, workspace: Path) -> CommandRunner:
    network = settings.network
    if settings.mode == "off":
        return CommandRunner("off", settings, network=network, reason="turned off")
    if not sys.platform.startswith("linux"):
        reason = f"no sandbox for {sys.platform} yet (bubblewrap is Linux only)"
        return CommandRunner("unavailable", settings, network=network, reason=reason)
    bwrap, why = find_bwrap(settings.bwrap)
    if bwrap is None:
        return CommandRunner("unavailable", settings, network=network, reason=why)
    problem = _probe(bwrap, settings, workspace)
    if problem:
        return CommandRunner("unavailable", settings, network=network, reason=problem)
    return CommandRunner("sandboxed", settings, bwrap, network=network)
