"""The tool registry and `execute()`: schemas, unknown tools and invalid input."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.config import Settings, worker_tool_names
from core.tools.base import ToolContext, execute, tool_spec
from core.tools.registry import WORKER_TOOL_CLASSES, build_tools


async def _allow(agent_id: str, tool: str, command: str, cwd: str) -> tuple[bool, str]:
    return True, ""


def test_registry_matches_config() -> None:
    """The config knows the registry's tools, and its default roles name only those."""
    assert set(WORKER_TOOL_CLASSES) == worker_tool_names()
    for role in Settings().roles.values():
        assert set(role.tools) <= set(WORKER_TOOL_CLASSES), role.name


@pytest.mark.parametrize("name", sorted(WORKER_TOOL_CLASSES))
def test_schemas_are_strict(name: str) -> None:
    tool = build_tools([name])[name]
    spec = tool_spec(tool)
    assert spec["name"] == name and spec["description"]
    schema = spec["input_schema"]
    assert schema["type"] == "object"
    assert schema["additionalProperties"] is False
    assert "required" in schema
    assert set(schema["required"]) <= set(schema["properties"])
    assert tool.summary({})  # tolerant of missing fields


def test_build_tools_unknown_name() -> None:
    with pytest.raises(ValueError, match="unknown tool 'rm_rf'"):
        build_tools(["read_file", "rm_rf"])


@pytest.mark.parametrize(
    ("name", "args", "message"),
    [
        ("nope", {}, "unknown tool 'nope'"),
        ("read_file", {}, "missing required field 'path'"),
        ("read_file", {"path": 3}, "field 'path' must be string"),
        ("read_file", {"path": "a", "offset": "1"}, "field 'offset' must be integer"),
        ("read_file", {"path": "a", "offset": True}, "field 'offset' must be integer"),
        ("write_file", {"path": "a", "content": "x", "mode": "w"}, "unknown field 'mode'"),
        ("run_command", ["ls"], "input must be an object"),
    ],
)
async def test_execute_reports_bad_calls(
    tmp_path: Path, name: str, args: object, message: str
) -> None:
    ctx = ToolContext(workspace=tmp_path, agent_id="a", authorize=_allow)
    res = await execute(build_tools(WORKER_TOOL_CLASSES), name, args, ctx)
    assert res.is_error and message in res.text
