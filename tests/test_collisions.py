"""The file collision radar: two live agents writing one file, and a write outside an
agent's own files, are told to both agents, the CEO and the panes at once."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from core.catalog import Usage
from core.collisions import CollisionRadar, within
from core.config import Settings
from core.events import FileCollision
from core.llm import TurnRequest, TurnResult, TurnSink
from core.session import Session
from tests.scripted import Recorder, ScriptedModel, all_text, first_text, text, tool_use


def _spawns(*specs: tuple[str, list[str]]) -> TurnResult:
    blocks = [
        {
            "type": "tool_use",
            "id": f"toolu_spawn_{i}",
            "name": "spawn_agent",
            "input": {"role": "coding", "task": task, "files": files},
        }
        for i, (task, files) in enumerate(specs)
    ]
    return TurnResult(blocks, "tool_use", Usage(100, 20))


async def test_two_live_agents_writing_one_file_are_told(tmp_path: Path) -> None:
    gate = asyncio.Event()

    async def script(request: TurnRequest, sink: TurnSink) -> TurnResult:
        if not any(t["name"] == "spawn_agent" for t in request.tools):
            if len(request.messages) == 1:
                return tool_use("write_file", {"path": "shared.py", "content": first_text(request)})
            await gate.wait()
            return text("Wrote shared.py.")
        if len(request.messages) == 1:
            return _spawns(("write A", ["shared.py"]), ("write B", ["other.py"]))
        last = json.dumps(request.messages[-1]["content"])
        if "nothing to wait for" in last or '\\"still_running\\": []' in last:
            return text("Done.")
        return tool_use("wait_for_agents", {})

    model = ScriptedModel(script)
    session = Session(Settings(workspace=tmp_path, simulate=True))
    session.client = model  # type: ignore[assignment]
    rec = Recorder(session.bus)
    session.start("Two agents, one file")
    await rec.wait_for(lambda e: isinstance(e, FileCollision) and e.agent_id == "coding-1")
    await rec.wait_for(lambda e: isinstance(e, FileCollision) and not e.other_agent)
    gate.set()
    await asyncio.wait_for(session.wait_finished(), 10)
    await session.close()
    seen = {(e.agent_id, e.other_agent, e.path) for e in rec.of(FileCollision)}
    assert seen == {
        ("coding-2", "coding-1", "shared.py"),  # coding-2 wrote what coding-1 wrote
        ("coding-1", "coding-2", "shared.py"),  # and coding-1 is told too
        ("coding-2", "", "shared.py"),  # coding-2 owns other.py only
    }
    # Both agents got the notice in their conversation, at a turn boundary.
    for agent in ("coding-1", "coding-2"):
        asked = [
            r
            for r in model.requests
            if first_text(r).startswith(f"write {'AB'[agent == 'coding-2']}")
        ]
        assert any("[file collision]" in all_text(r) for r in asked), agent
    # The CEO was told: in wait_for_agents' notices if it was waiting, else by a message.
    ceo_seen = "\n".join(all_text(r) for r in model.requests if len(r.tools) > 6)
    assert "coding-2 is writing shared.py, which coding-1 (still running) also wrote" in ceo_seen
    assert "outside its own files (other.py)" in ceo_seen
    # The task told each agent its files.
    assert "Your files (write only these" in session.supervisor.get("coding-1").task


def test_the_radar_tells_once_and_only_about_live_agents() -> None:
    told: list[tuple[str, str, str]] = []
    live = {"a", "b"}
    radar = CollisionRadar(
        is_live=lambda x: x in live,
        live_others=lambda x: sorted(live - {x}),
        notify=lambda a, o, p: told.append((a, o, p)),
    )
    radar.on_write("a", "x.py", False)
    radar.on_write("a", "x.py", True)
    radar.on_write("a", "x.py", False)  # its own file again: nothing
    assert told == []
    radar.on_write("b", "./x.py", False)  # is writing: told at the start of the write
    radar.on_write("b", "x.py", False)  # once per pair and path
    assert told == [("b", "a", "x.py")]
    live.discard("a")
    radar.on_write("c", "x.py", False)  # a has ended; b is live
    assert told[-1] == ("c", "b", "x.py")
    radar.own("b", ["site/"])
    radar.on_write("b", "site/index.html", False)  # inside its folder
    assert len(told) == 2
    live.clear()
    live.add("b")
    radar.on_write("b", "notes.md", False)  # outside, but nobody else runs
    assert len(told) == 2
    assert within("site/a/b.css", ["site"]) and not within("sites/x", ["site"])
