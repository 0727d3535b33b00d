"""Session: the CEO's loop with its tools, operator messages, notices and denials."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from core.config import Settings
from core.events import MessageAppended, OperatorMessage, RunFinished, ToolCallFinished
from core.llm import TurnRequest, TurnResult, TurnSink
from core.session import Session
from tests.scripted import Recorder, ScriptedModel, all_text, text, tool_use


def _session(tmp_path: Path, ceo: ScriptedModel, *, interactive: bool = False) -> Session:
    settings = Settings(workspace=tmp_path, simulate=True)
    session = Session(settings, interactive=interactive)
    session.client = ceo  # type: ignore[assignment]
    return session


def _said(event: object, text: str) -> bool:
    return isinstance(event, MessageAppended) and text in json.dumps(event.content)


def _is_ceo(request: TurnRequest) -> bool:
    return any(t["name"] == "spawn_agent" for t in request.tools)


async def test_operator_message_to_a_busy_ceo_is_queued_then_delivered(tmp_path: Path) -> None:
    worker_gate = asyncio.Event()

    async def script(request: TurnRequest, sink: TurnSink) -> TurnResult:
        if not _is_ceo(request):
            await worker_gate.wait()
            return text("worker report")
        seen = all_text(request)
        if "[operator] also add a FAQ" in seen:
            return text("Noted the FAQ; all done.")
        if len(request.messages) == 1:
            return tool_use("spawn_agent", {"role": "writer", "task": "write copy"})
        return tool_use("wait_for_agents", {})

    model = ScriptedModel(script)
    session = _session(tmp_path, model)
    rec = Recorder(session.bus)
    session.start("Write a landing page")
    await rec.wait_for(lambda e: isinstance(e, ToolCallFinished) and e.name == "spawn_agent")
    # The CEO is now inside wait_for_agents: busy.
    await asyncio.sleep(0)
    assert session.say("also add a FAQ") is True
    message = rec.of(OperatorMessage)[-1]
    assert message.queued and message.text == "also add a FAQ"
    # wait_for_agents returns early so the CEO reads the message while the writer works.
    await rec.wait_for(
        lambda e: (
            isinstance(e, ToolCallFinished)
            and e.name == "wait_for_agents"
            and "returned early" in e.output
        )
    )
    await rec.wait_for(lambda e: _said(e, "Noted the FAQ"))
    worker_gate.set()
    outcome = await asyncio.wait_for(session.wait_finished(), 10)
    await session.close()
    # Answered, but nothing checked the writer's work: an honest `unverified`.
    assert (outcome.status, outcome.verified) == ("unverified", False)
    assert outcome.result == "Noted the FAQ; all done."


async def test_ceo_is_told_when_an_agent_ends_while_it_is_not_waiting(tmp_path: Path) -> None:
    async def script(request: TurnRequest, sink: TurnSink) -> TurnResult:
        if not _is_ceo(request):
            return text("the research summary")
        seen = all_text(request)
        if "[agent research-1 finished: done] the research summary" in seen:
            return text("Research is in.")
        if len(request.messages) == 1:
            return tool_use("spawn_agent", {"role": "research", "task": "look"})
        return text("I will wait for the notice.")

    session = _session(tmp_path, ScriptedModel(script))
    session.start("Research")
    outcome = await asyncio.wait_for(session.wait_finished(), 10)
    await session.close()
    assert outcome.status == "unverified"  # no check ran
    assert outcome.result == "Research is in."


async def test_headless_denial_reaches_the_model_as_a_tool_error(tmp_path: Path) -> None:
    async def script(request: TurnRequest, sink: TurnSink) -> TurnResult:
        if len(request.messages) == 1:
            return tool_use("run_check", {"command": "rm -rf build"})
        return text("could not run it")

    model = ScriptedModel(script)
    session = _session(tmp_path, model)
    rec = Recorder(session.bus)
    session.start("Clean up")
    await asyncio.wait_for(session.wait_finished(), 10)
    await session.close()
    result = model.requests[1].messages[-1]["content"][0]
    assert result["type"] == "tool_result" and result["is_error"] is True
    assert "not allowed in a headless run" in result["content"]
    finished = rec.of(ToolCallFinished)
    assert finished[0].is_error


async def test_run_check_returns_exit_code_and_tails(tmp_path: Path) -> None:
    (tmp_path / "page.html").write_text("<h1>hi</h1>")

    async def script(request: TurnRequest, sink: TurnSink) -> TurnResult:
        if len(request.messages) == 1:
            return tool_use("run_check", {"command": "grep -c h1 page.html"})
        return text("checked")

    model = ScriptedModel(script)
    session = _session(tmp_path, model)
    session.start("Check")
    await asyncio.wait_for(session.wait_finished(), 10)
    await session.close()
    payload = json.loads(model.requests[1].messages[-1]["content"][0]["content"])
    assert payload["exit_code"] == 0 and payload["stdout_tail"].strip() == "1"


async def test_failed_sub_agent_makes_the_run_failed(tmp_path: Path) -> None:
    async def script(request: TurnRequest, sink: TurnSink) -> TurnResult:
        if not _is_ceo(request):
            from core.llm import TurnError

            raise TurnError("overloaded", status=529, error_type="overloaded_error", retryable=True)
        if len(request.messages) == 1:
            return tool_use("spawn_agent", {"role": "coding", "task": "build"})
        if "wait_for_agents" not in json.dumps(request.messages):
            return tool_use("wait_for_agents", {})
        return text("The coding agent failed.")

    session = _session(tmp_path, ScriptedModel(script))
    rec = Recorder(session.bus)
    session.start("Build")
    outcome = await asyncio.wait_for(session.wait_finished(), 10)
    await session.close()
    assert outcome.status == "failed"
    assert rec.of(RunFinished)[-1].status == "failed"


async def test_interactive_close_after_the_answer_records_unverified(tmp_path: Path) -> None:
    async def script(request: TurnRequest, sink: TurnSink) -> TurnResult:
        return text("Here is your answer.")

    session = _session(tmp_path, ScriptedModel(script), interactive=True)
    rec = Recorder(session.bus)
    session.start("Question")
    await rec.wait_for(lambda e: e.kind == "notice" and "waiting for you" in e.text)
    assert session.answered
    await session.close()
    finished = rec.of(RunFinished)
    assert [f.status for f in finished] == ["unverified"]  # answered; no check ran
    assert finished[0].result == "Here is your answer."
    assert finished[0].verified is False and finished[0].error == ""


async def test_interactive_close_after_a_checked_answer_records_done(tmp_path: Path) -> None:
    async def script(request: TurnRequest, sink: TurnSink) -> TurnResult:
        if len(request.messages) == 1:
            return tool_use("run_check", {"command": "ls"})
        return text("Checked: ls passes.")

    session = _session(tmp_path, ScriptedModel(script), interactive=True)
    rec = Recorder(session.bus)
    session.start("Question")
    await rec.wait_for(lambda e: e.kind == "notice" and "waiting for you" in e.text)
    await session.close()
    finished = rec.of(RunFinished)
    assert [(f.status, f.verified) for f in finished] == [("done", True)]


async def test_interactive_close_mid_run_records_stopped(tmp_path: Path) -> None:
    never = asyncio.Event()

    async def script(request: TurnRequest, sink: TurnSink) -> TurnResult:
        await never.wait()
        return text("unreachable")

    session = _session(tmp_path, ScriptedModel(script), interactive=True)
    rec = Recorder(session.bus)
    session.start("Question")
    await rec.wait_for(lambda e: e.kind == "turn_started")
    assert not session.answered
    await session.close()
    assert [f.status for f in rec.of(RunFinished)] == ["stopped"]
