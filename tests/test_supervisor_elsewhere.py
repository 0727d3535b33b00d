"""The Supervisor's whole suite again, on a runner whose attempts are not tasks of the
test's loop (tests/thread_runner.py): nothing but the runner may assume they are."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from core.agent import Emit
from core.events import TextDelta
from core.llm import TurnRequest, TurnResult, TurnSink
from tests import scripted
from tests.scripted import ScriptedFactory, ScriptedModel, make_supervisor, text
from tests.test_supervisor import *  # noqa: F403  (every test there runs here again)
from tests.thread_runner import ThreadAttempt, ThreadRunner


@pytest.fixture(autouse=True)
async def elsewhere(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[list[ThreadRunner]]:
    """Every make_supervisor in this module runs its attempts on a ThreadRunner."""
    made: list[ThreadRunner] = []

    def thread_runner(
        make_agent: ScriptedFactory, emit: Emit, model: ScriptedModel
    ) -> ThreadRunner:
        runner = ThreadRunner(make_agent, emit, model)
        made.append(runner)
        return runner

    monkeypatch.setitem(scripted.RUNNERS, "thread", thread_runner)
    monkeypatch.setattr(scripted, "DEFAULT_RUNNER", "thread")
    yield made
    for runner in made:
        await runner.aclose()


async def test_attempts_here_are_not_tasks_of_this_loop(
    tmp_path: Path, elsewhere: list[ThreadRunner]
) -> None:
    release = asyncio.Event()

    async def held(request: TurnRequest, sink: TurnSink) -> TurnResult:
        sink.on_text("working")
        await release.wait()
        return text("done")

    sup, _, rec = make_supervisor(ScriptedModel(held), tmp_path)
    record = sup.spawn("coding", "t", "claude-haiku-5-5", None)
    await rec.wait_for(lambda e: isinstance(e, TextDelta))
    assert isinstance(record.handle, ThreadAttempt)
    names = [t.get_name() for t in asyncio.all_tasks()]
    assert not [n for n in names if n.startswith("agent:")]
    assert elsewhere[0].loop is not asyncio.get_running_loop()
    release.set()
    await sup.wait([record.agent_id], timeout_s=5)
    assert record.state == "done" and record.usage.output_tokens == 20
