"""Helpers for the sandbox tests: a whole headless Session whose scripted CEO hands one
coding agent a list of tool calls (the attacker controls the model's output), and a
snapshot of everything outside the workspace the test planted, to prove nothing changed.
"""

from __future__ import annotations

import asyncio
import hashlib
import inspect
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from core.config import Settings
from core.events import ApprovalRequested, Event, ToolCallFinished
from core.llm import TurnRequest, TurnResult, TurnSink
from core.sandbox import SandboxSettings, detect_runner
from core.session import Session
from tests.scripted import ScriptedModel, text, tool_use


def _probe() -> str:
    """'' when bubblewrap can start here, else why not (the skip reason)."""
    with tempfile.TemporaryDirectory() as scratch:
        runner = detect_runner(SandboxSettings(), Path(scratch).resolve())
    return "" if runner.confined else runner.reason


NO_SANDBOX = _probe()
needs_sandbox = pytest.mark.skipif(
    bool(NO_SANDBOX), reason=f"bubblewrap cannot start on this machine: {NO_SANDBOX}"
)


@dataclass
class AgentRun:
    session: Session
    events: list[Event] = field(default_factory=list)

    def results(self, agent_id: str = "coding-1") -> list[ToolCallFinished]:
        return [
            e for e in self.events if isinstance(e, ToolCallFinished) and e.agent_id == agent_id
        ]

    def outputs(self, agent_id: str = "coding-1") -> list[str]:
        return [e.output for e in self.results(agent_id)]

    def approvals(self) -> list[ApprovalRequested]:
        return [e for e in self.events if isinstance(e, ApprovalRequested)]


def layout(tmp_path: Path) -> tuple[Path, Path]:
    """A workspace and, beside it, an `outside` folder with a secret and a private key."""
    ws = tmp_path / "ws"
    outside = tmp_path / "outside"
    ws.mkdir()
    outside.mkdir()
    (outside / "secret.txt").write_text("outside-secret-2718\n")
    (outside / "id_test.pem").write_text(
        "-----BEGIN PRIVATE KEY-----\nOUTSIDE-PRIVATE-KEY-1618\n-----END PRIVATE KEY-----\n"
    )
    return ws.resolve(), outside.resolve()


def snapshot(*roots: Path) -> dict[str, str]:
    """Every file and folder under `roots`, with a hash of each file's bytes."""
    seen: dict[str, str] = {}
    for root in roots:
        for dirpath, dirnames, filenames in os.walk(root):
            for name in dirnames:
                seen[os.path.join(dirpath, name)] = "dir"
            for name in filenames:
                path = os.path.join(dirpath, name)
                with open(path, "rb") as f:
                    seen[path] = hashlib.sha256(f.read()).hexdigest()
    return seen


def settings_for(ws: Path, **overrides: Any) -> Settings:
    """Defaults as shipped (ask mode, the default allow list), headless, simulated CEO."""
    return Settings(workspace=ws, simulate=True).with_overrides(**overrides)


async def _check(until: Any, run: AgentRun) -> bool:
    result = until(run)
    return bool(await result) if inspect.isawaitable(result) else bool(result)


async def agent_run(
    settings: Settings,
    calls: list[tuple[str, dict[str, Any]]],
    *,
    interactive: bool = False,
    until: Any = None,
    timeout_s: float = 60.0,
) -> AgentRun:
    """The CEO spawns `coding-1`, whose model makes `calls` one per turn, then reports.

    The run goes to its end (or, with `until(run)`, until that is true; then it is closed).
    """

    async def script(request: TurnRequest, sink: TurnSink) -> TurnResult:
        is_ceo = any(t["name"] == "spawn_agent" for t in request.tools)
        turn = sum(1 for m in request.messages if m["role"] == "assistant")
        if is_ceo:
            if turn == 0:
                return tool_use("spawn_agent", {"role": "coding", "task": "do the steps"})
            if turn == 1:
                return tool_use("wait_for_agents", {})
            return text("All steps done.")
        if turn < len(calls):
            return tool_use(*calls[turn])
        return text("done with the steps")

    session = Session(settings, interactive=interactive)
    session.client = ScriptedModel(script)  # type: ignore[assignment]
    run = AgentRun(session)
    session.bus.subscribe(run.events.append)
    session.start("Run the steps")
    try:
        if until is None:
            await asyncio.wait_for(session.wait_finished(), timeout_s)
        else:
            deadline = asyncio.get_running_loop().time() + timeout_s
            while not await _check(until, run):
                if asyncio.get_running_loop().time() > deadline:
                    raise AssertionError("condition not met in time")
                await asyncio.sleep(0.02)
    finally:
        await session.close()
    return run
