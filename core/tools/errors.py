"""The error a tool raises for the model to read (its own module so that every tool
module, and the workspace's confinement, can use it without importing each other)."""

from __future__ import annotations


class ToolError(Exception):
    """Raised by a tool for a failure the model should read and react to."""
