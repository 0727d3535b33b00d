"""Tool input checked against the tool's `input_schema` before the tool runs.

The model controls tool input, so every call (worker tools and the CEO's) goes
through `validate_input` first: wrong types, missing or unknown fields, values outside
an `enum`, numbers that are not finite (`1e999` and `NaN` parse to inf and nan in
Python's JSON) or outside `minimum`/`maximum`/`exclusiveMinimum`/`exclusiveMaximum`.
Each problem is one line that names the field, for a tool error the model can fix.

`finite_copy` makes a value safe to keep in the conversation and the store: JSON has
no inf or NaN, and the SDK's request encoder refuses them.
"""

from __future__ import annotations

import math
from typing import Any

__all__ = ["finite_copy", "numeric_fields", "validate_input"]

_JSON_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
    "array": (list,),
    "object": (dict,),
    "null": (type(None),),
}
_JSON_NAMES: dict[type, str] = {
    str: "a string",
    int: "an integer",
    float: "a number",
    bool: "a boolean",
    list: "an array",
    dict: "an object",
    type(None): "null",
}


def _describe(value: Any) -> str:
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if math.isnan(value) else ("inf" if value > 0 else "-inf")
    if isinstance(value, bool | int | float):
        return f"{value!r}"
    return _JSON_NAMES.get(type(value), type(value).__name__)


def _is_kind(value: Any, kind: str) -> bool:
    if kind in ("integer", "number") and isinstance(value, bool):
        return False
    return isinstance(value, _JSON_TYPES.get(kind, (object,)))


def _check_number(where: str, value: float, spec: dict[str, Any]) -> str | None:
    if not math.isfinite(value):
        return f"field {where!r} must be a finite number, got {_describe(value)}"
    low, high = spec.get("minimum"), spec.get("maximum")
    if low is not None and value < low:
        return f"field {where!r} must be at least {low:g}, got {value:g}"
    if high is not None and value > high:
        return f"field {where!r} must be at most {high:g}, got {value:g}"
    low, high = spec.get("exclusiveMinimum"), spec.get("exclusiveMaximum")
    if low is not None and value <= low:
        return f"field {where!r} must be greater than {low:g}, got {value:g}"
    if high is not None and value >= high:
        return f"field {where!r} must be less than {high:g}, got {value:g}"
    return None


def _check(where: str, value: Any, spec: dict[str, Any]) -> str | None:
    """The first problem with `value` at path `where` against the sub-schema `spec`."""
    want = spec.get("type")
    kinds: list[str] = want if isinstance(want, list) else [want] if want else []
    if kinds and not any(_is_kind(value, k) for k in kinds):
        if isinstance(value, float) and "integer" in kinds and math.isfinite(value):
            return f"field {where!r} must be a whole number, got {value:g}"
        return f"field {where!r} must be {' or '.join(kinds)}, got {_describe(value)}"
    if isinstance(value, int | float) and not isinstance(value, bool):
        problem = _check_number(where, float(value), spec)
        if problem:
            return problem
    if "enum" in spec and value not in spec["enum"]:
        choices = ", ".join(repr(c) for c in spec["enum"])
        return f"field {where!r} must be one of {choices}, got {value!r:.60}"
    if isinstance(value, list) and isinstance(spec.get("items"), dict):
        for i, item in enumerate(value):
            problem = _check(f"{where}[{i}]", item, spec["items"])
            if problem:
                return problem
    if isinstance(value, dict) and ("properties" in spec or "required" in spec):
        return _check_object(f"{where}.", value, spec)
    return None


def _check_object(prefix: str, args: dict[str, Any], schema: dict[str, Any]) -> str | None:
    props: dict[str, Any] = schema.get("properties", {})
    for name in schema.get("required", []):
        if name not in args:
            return f"missing required field {prefix + name!r}"
    for name, value in args.items():
        spec = props.get(name)
        if spec is None:
            if schema.get("additionalProperties", True) is False:
                known = ", ".join(sorted(props)) or "none"
                return f"unknown field {prefix + name!r} (fields: {known})"
            continue
        if value is None and name not in schema.get("required", []):
            continue  # an optional field given as null means "not given"
        problem = _check(prefix + name, value, spec)
        if problem:
            return problem
    return None


def validate_input(schema: dict[str, Any], args: Any) -> str | None:
    """Check tool input against its schema; the problem as one line naming the field, or None."""
    if not isinstance(args, dict):
        return f"input must be an object, got {_describe(args)}"
    return _check_object("", args, schema)


def finite_copy(value: Any) -> Any:
    """`value` with every inf/NaN replaced by None (JSON null); the same object when clean."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        items = {k: finite_copy(v) for k, v in value.items()}
        return value if all(items[k] is value[k] for k in value) else items
    if isinstance(value, list):
        out = [finite_copy(v) for v in value]
        return value if all(a is b for a, b in zip(out, value, strict=True)) else out
    return value


def numeric_fields(schema: dict[str, Any]) -> list[str]:
    """Top-level fields of type number or integer (for tests and schema lints)."""
    out = []
    for name, spec in schema.get("properties", {}).items():
        want = spec.get("type")
        kinds = want if isinstance(want, list) else [want]
        if "number" in kinds or "integer" in kinds:
            out.append(name)
    return out
