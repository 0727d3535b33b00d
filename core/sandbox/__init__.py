"""Confining agents' commands: bubblewrap on Linux, an allow-listed environment everywhere."""

from core.sandbox.runner import (
    UNCONFINED,
    CommandRunner,
    SandboxRequired,
    SandboxState,
    detect_runner,
)
from core.sandbox.settings import SANDBOX_MODES, SandboxMode, SandboxSettings

__all__ = [
    "SANDBOX_MODES",
    "UNCONFINED",
    "CommandRunner",
    "SandboxMode",
    "SandboxRequired",
    "SandboxSettings",
    "SandboxState",
    "detect_runner",
]
