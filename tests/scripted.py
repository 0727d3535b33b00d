"""A scripted stand-in for core.llm.ModelClient, for supervisor and session unit tests.

The SDK path itself is covered by the loopback tests (test_llm*, test_simulator*); here
the model is a function of the request so tests can hold a reply open, fail a turn or
stream partial text exactly when they need to.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from core.agent import Agent, Emit
from core.bus import EventBus
from core.catalog import Catalog, Usage
from core.events import Event
from core.llm import TurnRequest, TurnResult, TurnSink
from core.local_runner import LocalRunner
from core.runner import AgentRunner, AttemptSpec
from core.supervisor import Supervisor
from core.tools.base import ToolContext
from core.tools.registry import build_tools

Script = Callable[[TurnRequest, TurnSink], Awaitable[TurnResult]]
_ids = itertools.count(1)


def text(body: str) -> TurnResult:
    return TurnResult([{"type": "text", "text": body}], "end_turn", Usage(100, 20))


def tool_use(name: str, args: dict[str, Any]) -> TurnResult:
    block = {"type": "tool_use", "id": f"toolu_{next(_ids):06d}", "name": name, "input": args}
    return TurnResult([block], "tool_use", Usage(100, 20))


def first_text(request: TurnRequest) -> str:
    content = request.messages[0]["content"]
    return str(content[0]["text"] if isinstance(content, list) else content)


def all_text(request: TurnRequest) -> str:
    """Every text block of the conversation, for asserting on what the model was sent."""
    out: list[str] = []
    for m in request.messages:
        content = m["content"]
        if isinstance(content, str):
            out.append(content)
            continue
        for b in content:
            if b.get("type") == "text":
                out.append(b["text"])
            elif b.get("type") == "tool_result":
                out.append(str(b.get("content")))
    return "\n".join(out)


class ScriptedModel:
    """Duck-types ModelClient: every turn is answered by `script`."""

    def __init__(self, script: Script) -> None:
        self.script = script
        self.requests: list[TurnRequest] = []

    async def stream_turn(self, request: TurnRequest, sink: TurnSink) -> TurnResult:
        self.requests.append(request)
        result = await self.script(request, sink)
        sink.on_usage(result.usage)
        return result


async def allow_all(agent_id: str, tool: str, command: str, cwd: str) -> tuple[bool, str]:
    return True, ""


class Recorder:
    """Collects events and lets a test wait for one that matches."""

    def __init__(self, bus: EventBus) -> None:
        self.events: list[Event] = []
        self._changed = asyncio.Event()
        bus.subscribe(self._on)

    def _on(self, event: Event) -> None:
        self.events.append(event)
        self._changed.set()

    def of(self, cls: type[Event], agent_id: str | None = None) -> list[Any]:
        return [
            e
            for e in self.events
            if isinstance(e, cls) and (agent_id is None or e.agent_id == agent_id)
        ]

    async def wait_for(self, predicate: Callable[[Event], bool], timeout_s: float = 5.0) -> Event:
        async def scan() -> Event:
            seen = 0
            while True:
                for event in self.events[seen:]:
                    if predicate(event):
                        return event
                seen = len(self.events)
                self._changed.clear()
                await self._changed.wait()

        return await asyncio.wait_for(scan(), timeout_s)


def local_runner(make_agent: ScriptedFactory, emit: Emit, model: ScriptedModel) -> LocalRunner:
    return LocalRunner(lambda spec, emit: make_agent(spec, emit, model), emit)


ScriptedFactory = Callable[[AttemptSpec, Emit, Any], Agent]
# How make_supervisor runs attempts, by name; tests/test_supervisor_elsewhere.py adds
# one whose attempts are not tasks of the test's loop.
RUNNERS: dict[str, Callable[[ScriptedFactory, Emit, ScriptedModel], AgentRunner]] = {
    "local": local_runner
}
# The runner make_supervisor uses unless told.
DEFAULT_RUNNER = "local"


def make_supervisor(
    model: ScriptedModel,
    workspace: Path,
    *,
    cap: int = 5,
    runner: str | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> tuple[Supervisor, EventBus, Recorder]:
    runner = runner or DEFAULT_RUNNER
    bus = EventBus()
    recorder = Recorder(bus)
    catalog = Catalog()

    def make_agent(spec: AttemptSpec, emit: Emit, client: Any) -> Agent:
        agent = Agent(
            run_id="run-test",
            agent_id=spec.agent_id,
            role=spec.role,
            model=spec.model,
            system=f"You are a {spec.role} sub-agent.",
            tools=build_tools(["read_file", "list_files", "run_command"]),
            ctx=ToolContext(workspace=workspace, agent_id=spec.agent_id, authorize=allow_all),
            client=client,
            catalog=catalog,
            emit=emit,
            attempt=spec.attempt,
        )
        agent.start(spec.first_message)
        return agent

    supervisor = Supervisor(
        run_id="run-test",
        emit=bus.publish,
        runner=RUNNERS[runner](make_agent, bus.publish, model),
        max_concurrent=cap,
        clock=clock,
    )
    return supervisor, bus, recorder
