"""The worker tools by name, and building a role's tool set from its list of names."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from core.tools.base import Tool
from core.tools.files import EditFile, ListFiles, ReadFile, SearchFiles, WriteFile
from core.tools.shell import RunCommand
from core.tools.web import WebFetch

WORKER_TOOL_CLASSES: dict[str, Callable[[], Tool]] = {
    "read_file": ReadFile,
    "list_files": ListFiles,
    "search_files": SearchFiles,
    "write_file": WriteFile,
    "edit_file": EditFile,
    "run_command": RunCommand,
    "web_fetch": WebFetch,
}


def build_tools(names: Iterable[str]) -> dict[str, Tool]:
    """Fresh tool instances for these names, in order. Unknown names raise ValueError."""
    tools: dict[str, Tool] = {}
    for name in names:
        factory = WORKER_TOOL_CLASSES.get(name)
        if factory is None:
            known = ", ".join(sorted(WORKER_TOOL_CLASSES))
            raise ValueError(f"unknown tool {name!r} (known: {known})")
        tools[name] = factory()
    return tools
