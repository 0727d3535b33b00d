"""Tool input validation: every numeric field of every tool (the worker registry and the
CEO's tools, read from the code so new tools are covered) refuses inf, NaN, negative,
huge and wrong-typed values with a tool error that names the field, before the tool runs."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest

from core.config import Settings
from core.session import Session
from core.tools.base import Tool, ToolContext, ToolResult, execute
from core.tools.registry import WORKER_TOOL_CLASSES, build_tools
from core.tools.validate import finite_copy, numeric_fields, validate_input
from tests.scripted import allow_all

BAD_VALUES: dict[str, Any] = {
    "1e999": json.loads("1e999"),  # inf, as Python's JSON (and the SDK's parser) reads it
    "NaN": json.loads("NaN"),
    "-5": -5,
    "1e12": 1e12,
    "string": "5",
}


def all_tools(tmp_path: Path) -> dict[str, dict[str, Tool]]:
    """Every tool set an agent can get: each worker tool, and the CEO's tools."""
    session = Session(Settings(workspace=tmp_path, simulate=True), interactive=False)
    return {"worker": build_tools(WORKER_TOOL_CLASSES), "ceo": session.ceo_tools.tools()}


def minimal_args(schema: dict[str, Any]) -> dict[str, Any]:
    """Valid values for the required fields only."""
    out: dict[str, Any] = {}
    for name in schema.get("required", []):
        spec = schema["properties"][name]
        if "enum" in spec:
            out[name] = spec["enum"][0]
        elif spec.get("type") == "array":
            out[name] = []
        else:
            out[name] = {"string": "x", "integer": 1, "number": 1, "boolean": True}[spec["type"]]
    return out


def matrix(tmp_path: Path) -> list[tuple[str, str, str, str]]:
    """(tool set, tool, field, bad value name) for every numeric field of every tool."""
    cases = []
    for where, tools in all_tools(tmp_path).items():
        for tool in tools.values():
            for field in numeric_fields(tool.input_schema):
                cases.extend((where, tool.name, field, bad) for bad in BAD_VALUES)
    return cases


class _Spy:
    """Wraps a tool to see whether it ran."""

    def __init__(self, tool: Tool) -> None:
        self.tool = tool
        self.name = tool.name
        self.description = tool.description
        self.input_schema = tool.input_schema
        self.ran = False

    async def run(self, args: dict[str, Any], ctx: ToolContext) -> ToolResult:
        self.ran = True
        return ToolResult("ran")

    def summary(self, args: dict[str, Any]) -> str:
        return self.name


def test_the_matrix_covers_every_numeric_field(tmp_path: Path) -> None:
    cases = matrix(tmp_path)
    fields = {(w, t, f) for w, t, f, _ in cases}
    # Today: read_file offset/limit (worker and CEO), run_command, spawn_agent,
    # wait_for_agents and run_check timeouts. More tools only make the matrix bigger.
    assert {
        ("worker", "read_file", "offset"),
        ("worker", "read_file", "limit"),
        ("worker", "run_command", "timeout_s"),
        ("ceo", "spawn_agent", "timeout_s"),
        ("ceo", "wait_for_agents", "timeout_s"),
        ("ceo", "run_check", "timeout_s"),
        ("ceo", "read_file", "offset"),
    } <= fields
    assert len(cases) == len(fields) * len(BAD_VALUES)


def test_every_numeric_field_declares_its_range(tmp_path: Path) -> None:
    for tools in all_tools(tmp_path).values():
        for tool in tools.values():
            for field in numeric_fields(tool.input_schema):
                spec = tool.input_schema["properties"][field]
                assert "minimum" in spec or "exclusiveMinimum" in spec, (tool.name, field)
                assert "maximum" in spec or "exclusiveMaximum" in spec, (tool.name, field)
                assert spec.get("maximum", spec.get("exclusiveMaximum")) < 1e12


async def test_bad_numbers_are_tool_errors_naming_the_field(tmp_path: Path) -> None:
    tools_by_set = all_tools(tmp_path)
    ctx = ToolContext(workspace=tmp_path, agent_id="a", authorize=allow_all)
    checked = 0
    for where, name, field, bad in matrix(tmp_path):
        spy = _Spy(tools_by_set[where][name])
        base = minimal_args(spy.input_schema)
        assert validate_input(spy.input_schema, base) is None, (name, base)
        result = await execute({name: spy}, name, {**base, field: BAD_VALUES[bad]}, ctx)
        assert result.is_error, (where, name, field, bad)
        assert f"'{field}'" in result.text, result.text
        assert not spy.ran, (where, name, field, bad)
        # The error text itself is plain JSON-safe text.
        json.dumps(result.text, allow_nan=False)
        checked += 1
    assert checked >= 35


@pytest.mark.parametrize(
    ("schema", "args", "expected"),
    [
        ({"properties": {"n": {"type": "integer"}}}, {"n": 2.5}, "'n' must be a whole number"),
        ({"properties": {"n": {"type": "integer"}}}, {"n": True}, "'n' must be integer"),
        ({"required": ["p"], "properties": {"p": {"type": "string"}}}, {}, "missing required"),
        (
            {"properties": {"p": {"type": "string"}}, "additionalProperties": False},
            {"q": 1},
            "unknown field 'q'",
        ),
        ({"properties": {"r": {"enum": ["a", "b"]}}}, {"r": "c"}, "'r' must be one of"),
        (
            {"properties": {"ids": {"type": "array", "items": {"type": "string"}}}},
            {"ids": ["a", 3]},
            "'ids[1]' must be string",
        ),
        ({"properties": {"t": {"type": "number", "minimum": 0}}}, {"t": -1}, "at least 0"),
        (
            {"properties": {"t": {"type": "number", "exclusiveMinimum": 0}}},
            {"t": 0},
            "greater than 0",
        ),
        ({"properties": {"t": {"type": "number"}}}, {"t": -math.inf}, "finite number, got -inf"),
        ({}, ["not", "an", "object"], "input must be an object"),
    ],
)
def test_validator_cases(schema: dict[str, Any], args: Any, expected: str) -> None:
    problem = validate_input(schema, args)
    assert problem is not None and expected in problem


def test_validator_accepts_good_input_and_optional_null() -> None:
    schema = {
        "properties": {
            "t": {"type": "number", "exclusiveMinimum": 0, "maximum": 600},
            "n": {"type": "integer", "minimum": 1},
        },
        "required": ["n"],
        "additionalProperties": False,
    }
    assert validate_input(schema, {"n": 3, "t": 600}) is None
    assert validate_input(schema, {"n": 3, "t": None}) is None  # optional null = not given
    assert validate_input(schema, {"n": None}) is not None  # a required field may not be null


def test_finite_copy_replaces_only_non_finite_numbers() -> None:
    clean = {"a": [1, 2.5, "x"], "b": {"c": None}}
    assert finite_copy(clean) is clean  # untouched input keeps its identity
    dirty = {"a": [1, math.inf], "b": {"c": math.nan}, "d": "NaN"}
    assert finite_copy(dirty) == {"a": [1, None], "b": {"c": None}, "d": "NaN"}
    json.dumps(finite_copy(dirty), allow_nan=False)
    assert dirty["a"][1] == math.inf  # the original is not changed
