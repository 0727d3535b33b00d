"""The error a tool raises for the model to read (its own module so that every tool
module, and the workspace's confinement, can use it without importing each other)."""

from __future__ import annotations


class ToolError(Exception):
    """Raised by a tool for a failure the model should read and react to."""


class ApprovalNeeded(Exception):
    """Raised by an `authorize` hook that cannot wait for the operator where the tool
    runs (a Temporal worker): the call stops here, unrun, and runs again once the
    operator answered `request` elsewhere. `core.tools.base.execute` lets it through."""

    def __init__(self, tool: str, command: str, cwd: str) -> None:
        super().__init__(f"{tool} needs the operator's approval: {command}")
        self.tool = tool
        self.command = command
        self.cwd = cwd
