"""The CEO: its prompt and its delegation tools, bound to the Supervisor."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from core.ceo_prompt import ceo_system_prompt, valid_models
from core.collisions import CollisionRadar
from core.config import Settings
from core.evidence import EvidenceBook
from core.supervisor import AgentRecord, Supervisor, SupervisorError
from core.tools.base import Tool, ToolContext, ToolError, ToolResult
from core.tools.shell import MAX_COMMAND_TIMEOUT_S, command_timeout

MAX_AGENT_TIMEOUT_S = 86_400.0  # a day: the longest timeout the CEO may give an agent
MAX_WAIT_S = 3_600.0  # one wait_for_agents call; the CEO can wait again
MAX_LISTED = 40  # agents named in a wait_for_agents error
MAX_AGENT_BUDGET_USD = 1_000.0
PROGRESS_WAIT_S = 1.0  # a wait this long while agents ran is progress, not a repeat

__all__ = ["CeoTools", "ceo_system_prompt", "valid_models"]


def _obj(properties: dict[str, Any], required: list[str]) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": properties,
        "required": required,
        "additionalProperties": False,
    }


def _json(data: dict[str, Any]) -> ToolResult:
    """The model reads the JSON; the engine and the UI read `data`, the same receipt."""
    return ToolResult(json.dumps(data, ensure_ascii=False), data=data)


RunShell = Callable[[str, float], Awaitable[dict[str, Any]]]


@dataclass
class CeoTools:
    """The CEO's tools, bound to one run. `waiting_for` and `wake` serve the CEO's notices."""

    supervisor: Supervisor
    settings: Settings
    run_check_fn: RunShell
    read_file_tool: Tool
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    wake_note: str = ""  # why `wake` was set, when not by the operator
    waiting_for: set[str] = field(default_factory=set)
    # True while an operator message waits in the CEO's inbox (set by the Session).
    operator_pending: Callable[[], bool] = lambda: False
    # The engine's record of what each attempt did; its block follows each result.
    evidence: EvidenceBook = field(default_factory=EvidenceBook)
    # Which files each agent owns (spawn_agent's `files`); None: no radar (unit tests).
    radar: CollisionRadar | None = None
    alerts: list[str] = field(default_factory=list)  # collision notices for the next wait

    def report(self, record: AgentRecord) -> dict[str, Any]:
        """An ended agent for the CEO: its own words, then the engine's evidence block."""
        data = record.report()
        ledger = self.evidence.ledger(record.agent_id, record.attempt)
        data["result"] = f"{data['result'] or '(no result)'}\n\n{ledger.block()}"
        if ledger.claims:
            data["unsupported_claims"] = list(ledger.claims)
        return data

    def tools(self) -> dict[str, Tool]:
        roles = sorted(self.settings.roles)
        models = valid_models(self.settings)
        model_field = {
            "type": "string",
            "enum": models,
            "description": "override the role's model; one of the listed ids",
        }
        specs: list[Tool] = [
            _CeoTool(
                "spawn_agent",
                "Start a sub-agent on one self-contained task. Returns at once with its id and "
                "state (running, or queued when the concurrency cap is reached). Call several "
                "times in one reply to run agents in parallel.",
                _obj(
                    {
                        "role": {
                            "type": "string",
                            "enum": roles,
                            "description": "the kind of agent",
                        },
                        "task": {"type": "string", "description": "the complete task text"},
                        "model": model_field,
                        "files": {
                            "type": "array",
                            "items": {"type": "string"},
                            "description": "the files (or folders) this agent owns and may "
                            "write; parallel agents need disjoint files",
                        },
                        "timeout_s": {
                            "type": "number",
                            "exclusiveMinimum": 0,
                            "maximum": MAX_AGENT_TIMEOUT_S,
                            "description": "override the role's timeout, in seconds "
                            f"(max {MAX_AGENT_TIMEOUT_S:g})",
                        },
                        "budget_usd": {
                            "type": "number",
                            "exclusiveMinimum": 0,
                            "maximum": MAX_AGENT_BUDGET_USD,
                            "description": "the most this agent may spend, in dollars; it is "
                            "warned at 80% and stopped at 100% (the run's budget applies too)",
                        },
                    },
                    ["role", "task"],
                ),
                self._spawn,
                lambda a: f"spawn {a.get('role')}: {str(a.get('task', ''))[:60]}",
            ),
            _CeoTool(
                "wait_for_agents",
                "Wait until the given agents (default: every agent whose result you have not "
                "seen) end, then return each one's state, result, tokens, cost and elapsed "
                "time. Returns early on timeout_s or when the operator sends you a message.",
                _obj(
                    {
                        "agent_ids": {"type": "array", "items": {"type": "string"}},
                        "timeout_s": {
                            "type": "number",
                            "minimum": 0,
                            "maximum": MAX_WAIT_S,
                            "description": f"seconds to wait at most (max {MAX_WAIT_S:g})",
                        },
                    },
                    [],
                ),
                self._wait,
                lambda a: "wait for " + (", ".join(a.get("agent_ids") or []) or "all agents"),
            ),
            _CeoTool(
                "steer_agent",
                "Send a message to a running or queued agent; it is delivered at its next "
                "turn boundary. Returns a receipt.",
                _obj(
                    {"agent_id": {"type": "string"}, "message": {"type": "string"}},
                    ["agent_id", "message"],
                ),
                self._steer,
                lambda a: f"steer {a.get('agent_id')}: {str(a.get('message', ''))[:60]}",
            ),
            _CeoTool(
                "kill_agent",
                "Stop an agent now, with every process it started. Returns its final state.",
                _obj({"agent_id": {"type": "string"}}, ["agent_id"]),
                self._kill,
                lambda a: f"kill {a.get('agent_id')}",
            ),
            _CeoTool(
                "retry_agent",
                "Run an ended agent again as a new attempt, optionally on another model. The "
                "attempt is a fresh conversation: it gets its task and your feedback, nothing "
                "of its previous attempt, so put in the feedback everything it needs (what "
                "failed, the check's output, what to change). Returns the attempt number "
                "and state.",
                _obj(
                    {
                        "agent_id": {"type": "string"},
                        "feedback": {"type": "string"},
                        "model": model_field,
                    },
                    ["agent_id"],
                ),
                self._retry,
                lambda a: f"retry {a.get('agent_id')}",
            ),
            _CeoTool(
                "run_check",
                "Run a shell command in the workspace to verify the deliverable (the project's "
                "tests, a build, running the script on a sample). Returns the exit code and "
                "the tail of stdout and stderr. A command not on the allow list may wait for "
                "the operator's approval, and in a headless run it is refused (a tool error). "
                "Allowed: " + ", ".join(self.settings.allow_commands) + ".",
                _obj(
                    {
                        "command": {"type": "string"},
                        "timeout_s": {
                            "type": "number",
                            "exclusiveMinimum": 0,
                            "maximum": MAX_COMMAND_TIMEOUT_S,
                            "description": f"seconds (max {MAX_COMMAND_TIMEOUT_S:g})",
                        },
                    },
                    ["command"],
                ),
                self._run_check,
                lambda a: f"check: {a.get('command')}",
            ),
        ]
        tools = {t.name: t for t in specs}
        tools["read_file"] = self.read_file_tool
        return tools

    async def _spawn(self, args: dict[str, Any], ctx: ToolContext) -> ToolResult:
        role = args["role"]
        spec = self.settings.roles.get(role)
        if spec is None:
            raise ToolError(
                f"unknown role {role!r}; roles: {', '.join(sorted(self.settings.roles))}"
            )
        timeout = args.get("timeout_s", spec.timeout_s)
        if timeout is not None and timeout <= 0:
            raise ToolError("timeout_s must be positive")
        budget = args.get("budget_usd", spec.budget_usd)
        self._check_model(args.get("model"))
        files = [f for f in args.get("files") or [] if isinstance(f, str) and f.strip()]
        task = args["task"]
        if files:
            task += "\n\nYour files (write only these; other agents work beside you): " + (
                ", ".join(files)
            )
        try:
            record = self.supervisor.spawn(
                role,
                task,
                args.get("model") or spec.model,
                timeout,
                budget_usd=budget,
                token_budget=spec.token_budget,
            )
        except SupervisorError as exc:
            raise ToolError(str(exc)) from None
        if files and self.radar is not None:
            self.radar.own(record.agent_id, files)
        data: dict[str, Any] = {"agent_id": record.agent_id, "state": record.state}
        if record.state == "queued":
            data["queue_position"] = self.supervisor.queue_position(record.agent_id)
        return _json(data)

    async def _wait(self, args: dict[str, Any], ctx: ToolContext) -> ToolResult:
        ids = args.get("agent_ids")
        if ids:
            try:
                records = [self.supervisor.get(a) for a in ids]
            except SupervisorError as exc:
                raise ToolError(str(exc)) from None
        else:
            records = self.supervisor.unreported()
        if not records:
            raise ToolError(self._nothing_to_wait_for())
        if not self.operator_pending() and not self.alerts:
            self.wake.clear()
            self.wake_note = ""
        self.waiting_for = {r.agent_id for r in records}
        unfinished = sum(not r.finished for r in records)
        started = time.monotonic()
        try:
            await self.supervisor.wait(
                [r.agent_id for r in records], args.get("timeout_s"), wake=self.wake
            )
        finally:
            self.waiting_for = set()
        done = [r for r in records if r.finished]
        # Time passed while agents worked, or some ended: not a repeat, whatever it returns.
        progress = unfinished > 0 and (
            time.monotonic() - started >= PROGRESS_WAIT_S
            or sum(not r.finished for r in records) < unfinished
        )
        for r in done:
            r.reported = True
        data: dict[str, Any] = {
            "agents": [self.report(r) for r in done],
            "still_running": [r.agent_id for r in records if not r.finished],
        }
        if self.alerts:
            data["notices"], self.alerts = self.alerts, []
            data["note"] = "returned early: a file collision (see notices)"
        elif self.wake.is_set():
            data["note"] = "returned early: " + (
                self.wake_note or "the operator sent you a message"
            )
        # The UI's receipt: who ended how, who still runs (the results stay in the text).
        receipt = {
            "agents": [{"agent_id": r.agent_id, "state": r.state} for r in done],
            "still_running": data["still_running"],
        }
        return ToolResult(json.dumps(data, ensure_ascii=False), data=receipt, progress=progress)

    def wake_for(self, note: str) -> None:
        """End a wait_for_agents early (a stalled agent) with `note` as the reason."""
        if self.waiting_for:
            self.wake_note = note
            self.wake.set()

    def _nothing_to_wait_for(self) -> str:
        """Why wait_for_agents returned at once: every agent, its state, what to do next."""
        records = self.supervisor.agents()
        if not records:
            return (
                "nothing to wait for: no agent has been spawned in this run; "
                "spawn_agent first, or answer the operator"
            )
        shown = records[:MAX_LISTED]
        listed = ", ".join(f"{r.agent_id} {r.state}" for r in shown)
        if len(records) > len(shown):
            listed += f", and {len(records) - len(shown)} more"
        return (
            "nothing to wait for: every agent has ended and you have seen its result "
            f"({listed}). Nothing is running; waiting again returns this same error. "
            "retry_agent an agent that failed or was interrupted, spawn_agent new work, "
            "or answer the operator."
        )

    async def _steer(self, args: dict[str, Any], ctx: ToolContext) -> ToolResult:
        try:
            steer = self.supervisor.steer(args["agent_id"], args["message"], source="ceo")
        except SupervisorError as exc:
            raise ToolError(str(exc)) from None
        return _json({"steer_id": steer.steer_id, "status": "queued"})

    async def _kill(self, args: dict[str, Any], ctx: ToolContext) -> ToolResult:
        try:
            state = await self.supervisor.kill(args["agent_id"])
        except SupervisorError as exc:
            raise ToolError(str(exc)) from None
        record = self.supervisor.get(args["agent_id"])
        record.reported = True
        return _json({"agent_id": args["agent_id"], "state": state})

    def _check_model(self, model: Any) -> None:
        """An unknown model id is a tool error naming the valid ones, never a 404 later."""
        if model is None or model == "":
            return
        valid = valid_models(self.settings)
        if model not in valid:
            raise ToolError(f"unknown model {model!r}; valid model ids: {', '.join(valid)}")

    async def _retry(self, args: dict[str, Any], ctx: ToolContext) -> ToolResult:
        self._check_model(args.get("model"))
        try:
            record: AgentRecord = self.supervisor.retry(
                args["agent_id"], args.get("feedback"), args.get("model")
            )
        except SupervisorError as exc:
            raise ToolError(str(exc)) from None
        return _json(
            {"agent_id": record.agent_id, "attempt": record.attempt, "state": record.state}
        )

    async def _run_check(self, args: dict[str, Any], ctx: ToolContext) -> ToolResult:
        command = args["command"]
        allowed, reason = await ctx.authorize(
            ctx.agent_id, "run_check", command, str(ctx.workspace)
        )
        if not allowed:
            raise ToolError(reason)
        timeout = command_timeout(args.get("timeout_s"), ctx.command_timeout_s)
        outcome = await self.run_check_fn(command, timeout)
        # `data` is the evidence ledger's record of the check (core/evidence.py).
        data = {"exit_code": outcome.get("exit_code"), "timed_out": bool(outcome.get("timed_out"))}
        return ToolResult(_json(outcome).text, data=data)


ToolFn = Callable[[dict[str, Any], ToolContext], Awaitable[ToolResult]]


class _CeoTool:
    def __init__(
        self,
        name: str,
        description: str,
        input_schema: dict[str, Any],
        fn: ToolFn,
        summarize: Callable[[dict[str, Any]], str],
    ) -> None:
        self.name = name
        self.description = description
        self.input_schema = input_schema
        self._fn = fn
        self._summarize = summarize

    async def run(self, args: dict[str, Any], ctx: ToolContext) -> ToolResult:
        return await self._fn(args, ctx)

    def summary(self, args: dict[str, Any]) -> str:
        return self._summarize(args)
