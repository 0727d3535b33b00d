"""Bad tool input and cut tool calls through the real SDK over loopback: the model's JSON
text `1e999`/`NaN` parses to inf/nan, becomes a tool error naming the field, and the next
request still serialises; a reply cut at max_tokens inside a tool call loses that call
(never run, never left half in the history), the model is told, and the run goes on."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from core.config import Settings
from core.events import AgentStateChanged, RunFinished, ToolCallFinished, ToolCallStarted
from core.llm import ModelClient, make_client
from core.session import Session
from tests.fakeapi import DEFAULT_KEY, FakeAPI, Message, RecordedRequest, Reply, Text, ToolUse
from tests.scripted import Recorder
from tests.test_tool_input import BAD_VALUES, all_tools, matrix, minimal_args

RAW = {"1e999": "1e999", "NaN": "NaN", "-5": "-5", "1e12": "1e12", "string": '"5"'}
assert set(RAW) == set(BAD_VALUES)


def _is_ceo(request: RecordedRequest) -> bool:
    return any(t["name"] == "spawn_agent" for t in request.tools)


def _tool_results(request: RecordedRequest) -> list[dict[str, Any]]:
    last = request.messages[-1]
    content = last["content"] if isinstance(last["content"], list) else []
    return [b for b in content if b.get("type") == "tool_result"]


def _user_text(request: RecordedRequest) -> str:
    out = []
    for m in request.messages:
        if m["role"] == "user" and isinstance(m["content"], list):
            out.extend(b.get("text", "") for b in m["content"] if b.get("type") == "text")
    return "\n".join(out)


def _bad_call(name: str, field: str, bad: str, base: dict[str, Any]) -> ToolUse:
    text = json.dumps(base)
    sep = ", " if base else ""
    raw = text[:-1] + f'{sep}"{field}": {RAW[bad]}}}'
    return ToolUse(name, {}, raw=raw)


@pytest.fixture
async def api() -> AsyncIterator[FakeAPI]:
    async with FakeAPI() as server:
        yield server


def _session(tmp_path: Path, api: FakeAPI) -> Session:
    session = Session(
        Settings(workspace=tmp_path, simulate=True, assume_yes=True), interactive=False
    )
    sdk = make_client(DEFAULT_KEY, api.base_url, max_retries=0)
    session.client = ModelClient(sdk, retries=0)  # a malformed request would fail at once
    return session


async def _run(session: Session, task: str) -> tuple[Recorder, RunFinished]:
    rec = Recorder(session.bus)
    session.start(task)
    outcome = await session.wait_finished()
    await session.close()
    assert outcome is not None
    finished = rec.of(RunFinished)[-1]
    return rec, finished


async def test_the_whole_matrix_in_parallel_calls_through_the_sdk(
    api: FakeAPI, tmp_path: Path
) -> None:
    """One CEO reply holds every bad CEO-tool call; one worker reply every bad worker call."""
    tools = all_tools(tmp_path)
    cases = matrix(tmp_path)
    calls: dict[str, list[tuple[ToolUse, str, str]]] = {"ceo": [], "worker": []}
    for where, name, field, bad in cases:
        if where == "worker" and name not in ("read_file", "run_command"):
            continue  # the coding role's tools (web_fetch has no numeric field)
        call = _bad_call(name, field, bad, minimal_args(tools[where][name].input_schema))
        calls[where].append((call, field, bad))
    assert len(calls["ceo"]) >= 20 and len(calls["worker"]) >= 15

    def reply(request: RecordedRequest) -> Reply:
        assert request.body, "the request body did not parse"
        results = _tool_results(request)
        if _is_ceo(request):
            if len(request.messages) == 1:
                return Message([c for c, _, _ in calls["ceo"]], stop_reason="tool_use")
            if any(c.id == r["tool_use_id"] for r in results for c, _, _ in calls["ceo"]):
                spawn = ToolUse("spawn_agent", {"role": "coding", "task": "try bad input"})
                return Message([spawn], stop_reason="tool_use")
            if "wait_for_agents" not in json.dumps(request.messages):
                return Message([ToolUse("wait_for_agents", {})], stop_reason="tool_use")
            return Message([Text("all checked")])
        if len(request.messages) == 1:
            return Message([c for c, _, _ in calls["worker"]], stop_reason="tool_use")
        return Message([Text("worker done")])

    api.default = reply
    session = _session(tmp_path, api)
    rec, finished = await _run(session, "validate everything")
    assert finished.result == "all checked", finished
    errors = {e.tool_use_id: e for e in rec.of(ToolCallFinished)}
    for where in ("ceo", "worker"):
        for call, field, bad in calls[where]:
            done = errors[call.id]
            assert done.is_error and f"'{field}'" in done.output, (call.name, field, bad)
    # Every request the SDK sent parsed as strict JSON (no Infinity/NaN tokens), and the
    # history kept each bad call, its non-finite numbers as null.
    for request in api.requests:
        json.loads(request.raw, parse_constant=lambda c: pytest.fail(f"{c} in a request"))
    ceo_second = next(r for r in api.requests if _is_ceo(r) and len(r.messages) == 3)
    sent = {b["id"]: b["input"] for b in ceo_second.messages[1]["content"]}
    inf_call = next(c for c, _, bad in calls["ceo"] if bad == "1e999")
    assert None in sent[inf_call.id].values()
    # Events and the store copy hold no non-finite number either.
    for event in rec.of(ToolCallStarted):
        json.dumps(event.input, allow_nan=False)


async def test_wait_for_agents_with_1e999_goes_on(api: FakeAPI, tmp_path: Path) -> None:
    """The issue's case: it used to end the run as "the stream was malformed"."""
    bad = ToolUse("wait_for_agents", {}, raw='{"timeout_s": 1e999}')
    api.push(
        Message([bad], stop_reason="tool_use"),
        lambda r: Message([Text("finished: " + str(_tool_results(r)[0]["content"]))]),
    )
    _rec, finished = await _run(_session(tmp_path, api), "wait forever")
    assert finished.status != "failed", finished
    assert "'timeout_s' must be a finite number, got inf" in finished.result
    assert api.requests[1].body["messages"][1]["content"][0]["input"] == {"timeout_s": None}


async def test_max_tokens_inside_a_tool_call_drops_it_and_goes_on(
    api: FakeAPI, tmp_path: Path
) -> None:
    """A worker's reply: a complete read_file, then a write_file cut mid-content."""
    (tmp_path / "in.txt").write_text("hello\n")
    read = ToolUse("read_file", {"path": "in.txt"})
    cut = ToolUse("write_file", {}, raw='{"path": "out.txt", "content": "half a fi')
    seen: dict[str, RecordedRequest] = {}

    def reply(request: RecordedRequest) -> Reply:
        if _is_ceo(request):
            if len(request.messages) == 1:
                spawn = ToolUse("spawn_agent", {"role": "coding", "task": "copy in.txt"})
                return Message([spawn], stop_reason="tool_use")
            if len(request.messages) == 3:
                return Message([ToolUse("wait_for_agents", {})], stop_reason="tool_use")
            return Message([Text("CEO: done")])
        if len(request.messages) == 1:
            return Message([Text("Reading, then writing."), read, cut], stop_reason="max_tokens")
        seen["worker"] = request
        return Message([Text("I will write it in parts next time.")])

    api.default = reply
    rec, finished = await _run(_session(tmp_path, api), "copy a file")
    assert finished.result == "CEO: done"
    assert not (tmp_path / "out.txt").exists()  # the cut call never ran
    request = seen["worker"]
    assistant = request.messages[1]["content"]
    assert [b["type"] for b in assistant] == ["text", "tool_use"]  # the cut call is gone
    assert assistant[1]["id"] == read.id
    results = _tool_results(request)
    assert [r["tool_use_id"] for r in results] == [read.id]
    assert "hello" in str(results[0]["content"])
    assert "cut off at the output limit" in _user_text(request)
    assert "write_file" in _user_text(request)
    assert [e.name for e in rec.of(ToolCallStarted) if e.agent_id != "ceo"] == ["read_file"]


async def test_a_ceo_reply_cut_in_its_only_tool_call_never_ends_done_empty(
    api: FakeAPI, tmp_path: Path
) -> None:
    cut = ToolUse("spawn_agent", {}, raw='{"role": "coding", "task": "build the whole')
    api.push(
        Message([cut], stop_reason="max_tokens"),
        lambda r: Message([Text("Told it was cut; answering without agents.")]),
    )
    rec, finished = await _run(_session(tmp_path, api), "big task")
    assert finished.result == "Told it was cut; answering without agents."
    second = api.requests[1].body["messages"]
    # No assistant message with a half call: the notice joined the first user message.
    assert [m["role"] for m in second] == ["user"]
    assert "spawn_agent call" in json.dumps(second)
    assert not rec.of(ToolCallStarted)


async def test_replies_cut_again_and_again_fail_the_agent(api: FakeAPI, tmp_path: Path) -> None:
    def cut(request: RecordedRequest) -> Reply:
        return Message(
            [ToolUse("run_check", {}, raw='{"command": "echo')], stop_reason="max_tokens"
        )

    api.default = cut
    rec, finished = await _run(_session(tmp_path, api), "loop")
    assert finished.status == "failed"
    ceo = [e for e in rec.of(AgentStateChanged, "ceo") if e.state == "failed"]
    assert ceo and "cut at max_tokens" in ceo[-1].reason, ceo
    assert len(api.requests) == 3
