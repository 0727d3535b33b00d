"""Scenario names and files: `load_scenario("default" | "default:approval" | "timeout"
| "failure" | "api-errors"
| "load:agents=N,tps=T,seconds=S[,jitter=J]" | "path/to/file.toml" | "path/to/file.json")`.
"""

from __future__ import annotations

from pathlib import Path

from core.errors import DelegateError
from core.simulator.scenarios.api_errors import ApiErrorsScenario
from core.simulator.scenarios.base import Conversation, Scenario
from core.simulator.scenarios.default import DefaultScenario, ScriptScenario
from core.simulator.scenarios.failure import FailureScenario
from core.simulator.scenarios.load import LoadScenario
from core.simulator.scenarios.script import ScriptError, load_script
from core.simulator.scenarios.timeout import TimeoutScenario

SCENARIO_NAMES = ("default", "default:approval", "timeout", "failure", "api-errors", "load")


class ScenarioError(DelegateError, ValueError):
    """An unknown scenario name or a bad scenario file; the message says which (one line
    for the user: `delegate simulator --scenario NAME` stops with it)."""


def load_scenario(spec: str | Path) -> Scenario:
    text = str(spec)
    if isinstance(spec, Path) or text.endswith((".toml", ".json")):
        try:
            return ScriptScenario(load_script(Path(text)), name=Path(text).name)
        except ScriptError as exc:
            raise ScenarioError(str(exc)) from None
    name, _, params = text.partition(":")
    try:
        if name == "load":
            return LoadScenario.parse(params)
        if name == "default" and params == "approval":
            return DefaultScenario(approval=True)
    except ValueError as exc:
        raise ScenarioError(str(exc)) from None
    simple: dict[str, type[Scenario]] = {
        "default": DefaultScenario,
        "timeout": TimeoutScenario,
        "failure": FailureScenario,
        "api-errors": ApiErrorsScenario,
    }
    if name in simple and not params:
        return simple[name]()
    raise ScenarioError(
        f"unknown scenario {text!r} (known: {', '.join(SCENARIO_NAMES)}, or a .toml/.json file)"
    )


__all__ = ["SCENARIO_NAMES", "Conversation", "Scenario", "ScenarioError", "load_scenario"]
