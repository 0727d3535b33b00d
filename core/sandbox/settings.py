"""The `[sandbox]` settings: how commands are confined, and the limits they run under."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

SandboxMode = Literal["auto", "required", "off"]
SANDBOX_MODES: tuple[SandboxMode, ...] = ("auto", "required", "off")


@dataclass(frozen=True)
class SandboxSettings:
    """`auto`: bubblewrap when it can start, else every command asks; `required`: refuse to
    start without it; `off`: commands run unconfined (the user's explicit choice)."""

    mode: SandboxMode = "auto"
    bwrap: str | None = None  # a bwrap binary to use instead of looking for one
    env: tuple[str, ...] = ()  # more variable names passed to commands (allow-list)
    network: bool = False  # the default for every role; `[roles.X] network` overrides
    max_processes: int = 1024  # RLIMIT_NPROC (not enforced by the kernel for root)
    max_file_mb: int = 1024  # RLIMIT_FSIZE: the largest file a command can write
    max_memory_mb: int = 4096  # RLIMIT_DATA: heap and other private writable memory
    tmp_mb: int = 1024  # size of the private /tmp (and the private HOME in it)
