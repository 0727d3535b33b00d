"""Scenario decisions, the prompt cache and the SSE frames, checked without timing."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import pytest

from core.config import ROLE_PROMPTS
from core.simulator import ScenarioError, load_scenario
from core.simulator.cache import PromptCache
from core.simulator.reply import Reply, Text, ToolCall
from core.simulator.scenarios.base import Conversation
from core.simulator.scenarios.load import LoadScenario
from core.simulator.wire import stream_events, usage_json

CEO_TOOLS = ["spawn_agent", "wait_for_agents", "steer_agent", "kill_agent", "retry_agent",
             "run_check", "read_file"]  # fmt: skip
WORKER_TOOLS = ["read_file", "list_files", "search_files", "write_file", "edit_file",
                "run_command"]  # fmt: skip
WRAP = "[system] Time is nearly up: stop now and report what you have."


def body(tools: list[str], messages: list[Any], system: str = "") -> dict[str, Any]:
    return {"model": "claude-haiku-5-5", "max_tokens": 8000, "system": system,
            "tools": [{"name": t} for t in tools], "messages": messages}  # fmt: skip


def play(reply: Reply, results: list[str], notes: list[str] = (), n: int = 0) -> list[Any]:
    """The assistant message for `reply` and a user message answering each call in order."""
    content: list[Any] = []
    answers: list[Any] = []
    for i, block in enumerate(reply.blocks):
        if isinstance(block, Text):
            content.append({"type": "text", "text": block.text})
        elif isinstance(block, ToolCall):
            tid = f"toolu_{n}_{i}"
            content.append({"type": "tool_use", "id": tid, "name": block.name,
                            "input": block.input})  # fmt: skip
            answers.append({"type": "tool_result", "tool_use_id": tid,
                            "content": results[len(answers) % len(results)]})  # fmt: skip
    answers += [{"type": "text", "text": t} for t in notes]
    return [{"role": "assistant", "content": content}, {"role": "user", "content": answers}]


def worker(role: str) -> str:
    return ROLE_PROMPTS[role] + " You work inside the workspace directory."


def test_timeout_scenario_one_agent_ignores_wrap_up_one_obeys() -> None:
    sc = load_scenario("timeout")
    first = sc.reply(Conversation(body(CEO_TOOLS, [{"role": "user", "content": "Survey docs"}])))
    spawns = [c.input for c in first.calls]
    assert [s["role"] for s in spawns] == ["research", "writer"]
    assert all(4 <= s["timeout_s"] <= 8 for s in spawns)
    for role, obeys in (("research", False), ("writer", True)):
        msgs: list[Any] = [
            {"role": "user", "content": spawns[0 if role == "research" else 1]["task"]}
        ]
        reply = sc.reply(Conversation(body(WORKER_TOOLS, msgs, worker(role))))
        msgs += play(reply, ["ok"], [WRAP])
        after = sc.reply(Conversation(body(WORKER_TOOLS, msgs, worker(role))))
        assert bool(after.calls) is not obeys
        if obeys:
            assert after.text and "Wrapping up" in after.blocks[0].text  # type: ignore[union-attr]


def test_load_scenario_parses_and_streams_long_turns() -> None:
    sc = load_scenario("load:agents=7,tps=80,seconds=6")
    assert isinstance(sc, LoadScenario) and (sc.agents, sc.tps, sc.seconds) == (7, 80.0, 6.0)
    first = sc.reply(Conversation(body(CEO_TOOLS, [{"role": "user", "content": "go"}])))
    assert len(first.calls) == 7 and len({c.input["role"] for c in first.calls}) == 5
    msgs: list[Any] = [{"role": "user", "content": first.calls[0].input["task"]}]
    for _ in range(3):
        reply = sc.reply(Conversation(body(WORKER_TOOLS, msgs, worker("coding"))))
        text = reply.blocks[0]
        assert isinstance(text, Text) and len(text.text) >= 80 * 6 / 3 * 4
        assert reply.tokens_per_s == 80 and [c.name for c in reply.calls] == ["list_files"]
        msgs += play(reply, ["a.txt"], n=len(msgs))
    final = sc.reply(Conversation(body(WORKER_TOOLS, msgs, worker("coding"))))
    assert not final.calls and final.final_stop_reason == "end_turn"
    with pytest.raises(ScenarioError, match="agents"):
        load_scenario("load:agent=3")


def test_load_jitter_varies_turn_lengths_deterministically() -> None:
    def lengths(spec: str) -> list[int]:
        sc = load_scenario(spec)
        first = sc.reply(Conversation(body(CEO_TOOLS, [{"role": "user", "content": "go"}])))
        out = []
        for call in first.calls:
            msgs: list[Any] = [{"role": "user", "content": call.input["task"]}]
            text = sc.reply(Conversation(body(WORKER_TOOLS, msgs, worker("coding")))).blocks[0]
            assert isinstance(text, Text)
            out.append(len(text.text))
        return out

    even = lengths("load:agents=8,tps=50,seconds=60")
    varied = lengths("load:agents=8,tps=50,seconds=60,jitter=0.3")
    base = min(even)
    assert max(even) - base < 80  # lockstep: every turn as long, to a sentence
    assert max(varied) - min(varied) > 0.2 * base
    assert all(0.69 * base <= n <= 1.31 * base + 80 for n in varied)
    assert varied == lengths("load:agents=8,tps=50,seconds=60,jitter=0.3")
    with pytest.raises(ScenarioError, match="jitter"):
        load_scenario("load:agents=2,jitter=1.5")


def test_scenario_file_drives_ceo_and_workers(tmp_path: Path) -> None:
    path = tmp_path / "demo.toml"
    path.write_text(
        'final = "All good."\n'
        '[check]\ncommand = "grep -q done out/a.txt"\nagent = 0\nfeedback = "add `done`"\n'
        '[[agents]]\nrole = "data"\ntask = "Make out/a.txt"\ncommands = ["wc -l out/a.txt"]\n'
        '[[agents.files]]\npath = "out/a.txt"\ncontent = "done\\n"\nfirst_content = "draft\\n"\n'
    )
    sc = load_scenario(str(path))
    first = sc.reply(Conversation(body(CEO_TOOLS, [{"role": "user", "content": "x"}])))
    assert [c.input for c in first.calls] == [{"role": "data", "task": "Make out/a.txt"}]
    msgs: list[Any] = [{"role": "user", "content": "Make out/a.txt"}]
    msgs += play(sc.reply(Conversation(body(WORKER_TOOLS, msgs, worker("data")))), ["ok"])
    write = sc.reply(Conversation(body(WORKER_TOOLS, msgs, worker("data"))))
    assert write.calls[0].input == {"path": "out/a.txt", "content": "draft\n"}
    bad = tmp_path / "bad.toml"
    bad.write_text('[[agents]]\nrole = "data"\n')
    with pytest.raises(ScenarioError, match=r"agents\[0\]\.task"):
        load_scenario(str(bad))
    with pytest.raises(ScenarioError, match="unknown scenario"):
        load_scenario("nope")


def test_ceo_handles_finish_notice_and_operator_after_the_end() -> None:
    sc = load_scenario("default")
    task = "Research onboarding and write a report"
    msgs: list[Any] = [{"role": "user", "content": task}]
    first = sc.reply(Conversation(body(CEO_TOOLS, msgs)))
    ids = [f"{c.input['role']}-1" for c in first.calls]
    msgs += play(first, [json.dumps({"agent_id": i, "state": "running"}) for i in ids])
    steer = sc.reply(Conversation(body(CEO_TOOLS, msgs)))
    assert [c.name for c in steer.calls] == ["steer_agent", "wait_for_agents"]
    notice = f"[agent {ids[0]} finished: done] all fine"
    receipts = [json.dumps({"steer_id": "s1", "status": "queued"}),
                json.dumps({"agents": [], "still_running": ids})]  # fmt: skip
    msgs += play(steer, receipts, [notice], n=1)
    nxt = sc.reply(Conversation(body(CEO_TOOLS, msgs)))
    assert [c.name for c in nxt.calls] == ["wait_for_agents"] and ids[1] in str(nxt.blocks[0])
    msgs.append({"role": "assistant", "content": "Done: the report is ready."})
    msgs.append({"role": "user", "content": "[operator] thanks, anything else?"})
    answer = sc.reply(Conversation(body(CEO_TOOLS, msgs)))
    assert not answer.calls and "already finished" in str(answer.blocks[0])


def test_worker_acknowledges_errors_steers_and_revises() -> None:
    sc = load_scenario("default")
    task = "Write the landing page copy for Acme into deliverables/site/copy.md."
    msgs: list[Any] = [{"role": "user", "content": task}]
    system = worker("writer")
    msgs += play(sc.reply(Conversation(body(WORKER_TOOLS, msgs, system))), ["a"], n=0)
    write = sc.reply(Conversation(body(WORKER_TOOLS, msgs, system)))
    assert "FAQ" not in write.calls[0].input["content"]
    msgs += play(write, ["wrote"], ["[message from the lead] Add a short FAQ."], n=1)
    revise = sc.reply(Conversation(body(WORKER_TOOLS, msgs, system)))
    assert "Got it: Add a short FAQ." in str(revise.blocks[0])
    assert "FAQ" in revise.calls[0].input["content"]
    msgs += play(revise, ["permission denied: not allowed"], n=2)
    msgs[-1]["content"][0]["is_error"] = True
    final = sc.reply(Conversation(body(WORKER_TOOLS, msgs, system)))
    text = str(final.blocks[0])
    assert not final.calls and "failed (permission denied" in text
    assert "Problems:" in text and "Applied the lead's note" in text


def test_prompt_cache_expires_and_stays_bounded() -> None:
    now = [0.0]
    cache = PromptCache(min_tokens=10, max_entries=2, clock=lambda: now[0])

    def req(text: str, ttl: str = "5m") -> dict[str, Any]:
        marker = {"type": "ephemeral", "ttl": ttl}
        return {"model": "m", "system": [{"type": "text", "text": text, "cache_control": marker}],
                "messages": [{"role": "user", "content": "hi"}]}  # fmt: skip

    assert cache.bill(req("a" * 400)).cache_write > 0
    assert cache.bill(req("a" * 400)).cache_read > 0
    now[0] = 301.0
    assert cache.bill(req("a" * 400)).cache_read == 0  # expired: written again
    assert cache.bill(req("b" * 400, "1h")).ttl == "1h"
    cache.bill(req("c" * 400))
    assert len(cache) == 2
    assert cache.bill(req("a" * 400)).cache_read == 0  # evicted
    small = PromptCache(min_tokens=1024).bill(req("a" * 400))
    assert small.cache_write == small.cache_read == 0 and small.input_tokens > 0


def test_sse_frames_follow_the_wire_format() -> None:
    tool = {"type": "tool_use", "id": "toolu_x", "name": "t", "input": {"a": "b" * 50}}
    content = [{"type": "text", "text": "hello " * 30}, tool]
    frames = [f for f, _ in stream_events("msg_1", "m", content, "tool_use",
                                          usage_json(10, 0, 0, 99), random.Random(0))]  # fmt: skip
    names = [f.split(b"\n", 1)[0].decode() for f in frames]
    assert names[0] == "event: message_start" and names[-1] == "event: message_stop"
    assert "event: ping" in names and all(f.endswith(b"\n\n") for f in frames)
    deltas = [json.loads(f.split(b"data: ", 1)[1]) for f in frames if b"input_json_delta" in f]
    assert len(deltas) >= 3
    assert json.loads("".join(d["delta"]["partial_json"] for d in deltas)) == {"a": "b" * 50}
    final = json.loads(frames[-2].split(b"data: ", 1)[1])
    assert final["delta"]["stop_reason"] == "tool_use" and final["usage"]["output_tokens"] == 99
