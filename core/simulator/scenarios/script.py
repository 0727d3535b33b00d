"""A scripted run: the agents the CEO spawns, what each one writes and runs, and the check.

The default scenario builds a Script from the task text; a scenario file gives one
directly. File format (TOML shown; JSON with the same keys works too):

    plan = "Splitting this into three parts ..."     # CEO's first text (optional)
    final = "The page and the brief are ready ..."   # opening of the final answer (optional)
    final_partial = "Part of the work failed ..."    # opening when something failed (optional)
    retry_failed = true            # retry a failed agent or a failed check once (default true)
    tokens_per_s = 400             # pacing overrides (optional)
    latency_s = 0.15

    [steer]                        # optional: steered right after the spawn
    agent = 0                      # index into [[agents]]
    message = "Keep it short."

    [check]                        # optional: run by the CEO after the agents finish
    command = "grep -q 'id=\"contact\"' deliverables/site/index.html"
    agent = 2                      # the agent whose work it checks (retried when it fails)
    first_fails = true             # attempt 1 writes `first_content` (default true)
    feedback = "The page has no contact section ..."
    read = "deliverables/site/index.html"   # file the CEO reads before the final check

    [[agents]]
    role = "coding"                # coding, research, writer, analysis, data
    task = "Build the page ..."    # the sub-agent recognises itself by this text
    timeout_s = 120                # optional; also `model`
    commands = ["ls deliverables/site"]   # run with run_command, as written: the app's
                                          # permission policy decides (ask/allow/deny)
    report = "Built the page."     # start of the agent's final report
    [[agents.files]]
    path = "deliverables/site/index.html"
    content = "<!doctype html>..."
    first_content = "<!doctype html>..."  # optional: what attempt 1 writes instead
"""

from __future__ import annotations

import json
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


class ScriptError(ValueError):
    """A scenario file is malformed; the message names the key."""


@dataclass
class FileSpec:
    path: str
    content: str
    first_content: str | None = None
    # On a retry, an edit_file (old_text, new_text) instead of rewriting the file.
    fix: tuple[str, str] | None = None


@dataclass
class AgentSpec:
    role: str
    task: str
    files: list[FileSpec] = field(default_factory=list)
    commands: list[str] = field(default_factory=list)
    # Run on the first attempt only: commands the default policy asks about (so the demo
    # shows the approval inbox once); refused, the agent says it did not run them.
    smoke: list[str] = field(default_factory=list)
    report: str = ""
    timeout_s: float | None = None
    model: str | None = None
    search: str | None = None  # pattern for search_files on the first turn
    # Rebuilt by the agent itself (plans.spec_for), never read from a scenario file:
    bug: str = ""  # what the retry fixes, in the report
    switched_to: str = ""  # a note made the agent write this instead
    update: str = ""  # a file to read and extend with the requested sections
    subject: str = ""
    faq: str = ""  # real text for a requested FAQ section, when the agent has some
    sections: list[str] = field(default_factory=list)  # sections notes asked for
    unapplied: list[str] = field(default_factory=list)  # notes it could not carry out


@dataclass
class CheckSpec:
    command: str  # "" for the test command the checked agent reports
    agent: int
    first_fails: bool = True
    feedback: str = ""
    read: str | None = None


@dataclass
class SteerSpec:
    agent: int
    message: str


@dataclass
class Script:
    agents: list[AgentSpec]
    plan: str = ""
    final: str = ""
    final_partial: str = ""  # opening of the final answer when something failed
    check: CheckSpec | None = None
    steer: SteerSpec | None = None
    retry_failed: bool = True
    tokens_per_s: float | None = None
    latency_s: float | None = None
    read: str | None = None  # a deliverable the CEO reads before answering
    placeholder: str = ""  # what in the result is placeholder work, for the final answer

    def agent_for_task(self, task: str) -> AgentSpec | None:
        for agent in self.agents:
            if agent.task.strip() == task.strip():
                return agent
        return None


def _get(table: dict[str, Any], key: str, kind: type, where: str, default: Any = None) -> Any:
    if key not in table:
        if default is None and kind is not type(None):
            return None
        return default
    value = table[key]
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if not isinstance(value, kind) or (kind is not bool and isinstance(value, bool)):
        raise ScriptError(f"{where}{key}: expected {kind.__name__}, got {value!r}")
    return value


def _need(table: dict[str, Any], key: str, kind: type, where: str) -> Any:
    if key not in table:
        raise ScriptError(f"{where}{key}: required")
    return _get(table, key, kind, where)


def parse_script(data: dict[str, Any]) -> Script:
    agents: list[AgentSpec] = []
    raw_agents = _need(data, "agents", list, "")
    if not raw_agents:
        raise ScriptError("agents: at least one agent is required")
    for i, raw in enumerate(raw_agents):
        where = f"agents[{i}]."
        if not isinstance(raw, dict):
            raise ScriptError(f"agents[{i}]: expected a table")
        files = []
        for j, f in enumerate(_get(raw, "files", list, where, [])):
            fw = f"{where}files[{j}]."
            if not isinstance(f, dict):
                raise ScriptError(f"{where}files[{j}]: expected a table")
            files.append(
                FileSpec(
                    _need(f, "path", str, fw),
                    _need(f, "content", str, fw),
                    _get(f, "first_content", str, fw),
                )
            )
        commands = _get(raw, "commands", list, where, [])
        if not all(isinstance(c, str) for c in commands):
            raise ScriptError(f"{where}commands: expected a list of strings")
        agents.append(
            AgentSpec(
                role=_need(raw, "role", str, where),
                task=_need(raw, "task", str, where),
                files=files,
                commands=list(commands),
                report=_get(raw, "report", str, where, ""),
                timeout_s=_get(raw, "timeout_s", float, where),
                model=_get(raw, "model", str, where),
            )
        )
    check = None
    if "check" in data:
        c = _get(data, "check", dict, "")
        check = CheckSpec(
            command=_need(c, "command", str, "check."),
            agent=int(_get(c, "agent", int, "check.", len(agents) - 1)),
            first_fails=bool(_get(c, "first_fails", bool, "check.", True)),
            feedback=_get(c, "feedback", str, "check.", ""),
            read=_get(c, "read", str, "check."),
        )
        if not 0 <= check.agent < len(agents):
            raise ScriptError(f"check.agent: no agent {check.agent}")
    steer = None
    if "steer" in data:
        s = _get(data, "steer", dict, "")
        steer = SteerSpec(int(_need(s, "agent", int, "steer.")), _need(s, "message", str, "steer."))
        if not 0 <= steer.agent < len(agents):
            raise ScriptError(f"steer.agent: no agent {steer.agent}")
    return Script(
        agents=agents,
        plan=_get(data, "plan", str, "", ""),
        final=_get(data, "final", str, "", ""),
        final_partial=_get(data, "final_partial", str, "", ""),
        check=check,
        steer=steer,
        retry_failed=bool(_get(data, "retry_failed", bool, "", True)),
        tokens_per_s=_get(data, "tokens_per_s", float, ""),
        latency_s=_get(data, "latency_s", float, ""),
    )


def load_script(path: Path) -> Script:
    """Read a .toml or .json scenario file; ScriptError names what is wrong."""
    try:
        raw = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ScriptError(f"{path}: cannot read: {exc.strerror or exc}") from None
    try:
        data = json.loads(raw) if path.suffix == ".json" else tomllib.loads(raw)
    except (ValueError, tomllib.TOMLDecodeError) as exc:
        raise ScriptError(f"{path}: {exc}") from None
    if not isinstance(data, dict):
        raise ScriptError(f"{path}: expected a table at the top level")
    return parse_script(data)
