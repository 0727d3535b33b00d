"""The trust boundary through a real agent turn: the model's tool calls that escape the
workspace, that do not match a schema, or that produce huge outputs all come back to the
model as tool results (errors or capped text), and the agent keeps going."""

from __future__ import annotations

import os
import resource
from pathlib import Path
from typing import Any

import pytest

from core.agent import Agent
from core.bus import EventBus
from core.catalog import Catalog, Usage
from core.events import ToolCallFinished
from core.llm import TurnRequest, TurnResult, TurnSink
from core.tools.base import ToolContext
from core.tools.registry import WORKER_TOOL_CLASSES, build_tools
from tests.scripted import Recorder, ScriptedModel, allow_all, text

SECRET = "outside-secret-3141"


def _calls(*calls: tuple[str, Any]) -> TurnResult:
    blocks = [
        {"type": "tool_use", "id": f"toolu_{i:04d}", "name": name, "input": args}
        for i, (name, args) in enumerate(calls)
    ]
    return TurnResult(blocks, "tool_use", Usage(100, 20))


async def run_turn(
    workspace: Path, *calls: tuple[str, Any], output_cap: int = 64_000
) -> tuple[list[dict[str, Any]], str, Recorder]:
    """One agent: its first reply makes `calls`, its second ends. The tool_result blocks."""

    async def script(request: TurnRequest, sink: TurnSink) -> TurnResult:
        if len(request.messages) == 1:
            return _calls(*calls)
        return text("finished")

    model = ScriptedModel(script)
    bus = EventBus()
    recorder = Recorder(bus)
    agent = Agent(
        run_id="run-trust",
        agent_id="coding-1",
        role="coding",
        model="claude-haiku-5-5",
        system="You are a coding sub-agent.",
        tools=build_tools(WORKER_TOOL_CLASSES),
        ctx=ToolContext(
            workspace=workspace,
            agent_id="coding-1",
            authorize=allow_all,
            output_cap_bytes=output_cap,
        ),
        client=model,  # type: ignore[arg-type]
        catalog=Catalog(),
        emit=bus.publish,
    )
    agent.start("do it")
    result = await agent.run()
    results = model.requests[1].messages[-1]["content"]
    assert [r["type"] for r in results] == ["tool_result"] * len(calls)
    return results, result, recorder


@pytest.fixture
def layout(tmp_path: Path) -> Path:
    """A workspace beside an `outside` directory, with symlinks leading out of it."""
    ws = tmp_path / "ws"
    outside = tmp_path / "outside"
    (ws / "src").mkdir(parents=True)
    (outside / "sub").mkdir(parents=True)
    (outside / "secret.txt").write_text(f"{SECRET}\n")
    (outside / "sub" / "deep.txt").write_text(f"{SECRET}\n")
    (ws / "src" / "app.py").write_text("print(1)\n")
    os.symlink(outside / "secret.txt", ws / "link_file")
    os.symlink(outside, ws / "link_dir")
    os.symlink(outside / "sub", ws / "src" / "link_parent")
    return ws


ESCAPES = [
    "../outside/secret.txt",
    "src/../../outside/secret.txt",
    "ABSOLUTE",  # replaced by the absolute path of outside/secret.txt
    "link_file",
    "link_dir/secret.txt",
    "src/link_parent/deep.txt",
]
DIR_ESCAPES = ["..", "../outside", "ABSOLUTE_DIR", "link_dir", "src/link_parent"]


def _outside_state(tmp_path: Path) -> dict[str, bytes]:
    out = tmp_path / "outside"
    return {str(p.relative_to(out)): p.read_bytes() for p in out.rglob("*") if p.is_file()}


def _fix(path: str, tmp_path: Path) -> str:
    if path == "ABSOLUTE":
        return str(tmp_path / "outside" / "secret.txt")
    if path == "ABSOLUTE_DIR":
        return str(tmp_path / "outside")
    return path


@pytest.mark.parametrize("path", ESCAPES)
@pytest.mark.parametrize("tool", ["read_file", "write_file", "edit_file"])
async def test_file_escapes_are_tool_errors(
    layout: Path, tmp_path: Path, tool: str, path: str
) -> None:
    before = _outside_state(tmp_path)
    target = _fix(path, tmp_path)
    args: dict[str, Any] = {"path": target}
    if tool == "write_file":
        args["content"] = "pwned"
    elif tool == "edit_file":
        args.update(old_text=SECRET, new_text="pwned")
    results, final, _ = await run_turn(layout, (tool, args))
    (res,) = results
    assert res.get("is_error") is True, res
    assert "outside the workspace" in res["content"]
    assert SECRET not in res["content"]
    assert final == "finished"  # the agent went on after the error
    assert _outside_state(tmp_path) == before


@pytest.mark.parametrize("path", DIR_ESCAPES)
@pytest.mark.parametrize("tool", ["list_files", "search_files"])
async def test_directory_escapes_are_tool_errors(
    layout: Path, tmp_path: Path, tool: str, path: str
) -> None:
    args: dict[str, Any] = {"path": _fix(path, tmp_path)}
    if tool == "search_files":
        args["pattern"] = "secret"
    results, _, _ = await run_turn(layout, (tool, args))
    (res,) = results
    assert res.get("is_error") is True, res
    assert "outside the workspace" in res["content"]
    assert SECRET not in res["content"] and "secret.txt" not in res["content"]


async def test_walks_do_not_follow_symlinks_out(layout: Path) -> None:
    """Listing or searching the workspace itself never reads through links that lead out."""
    results, _, _ = await run_turn(
        layout,
        ("list_files", {"path": "."}),
        ("search_files", {"pattern": SECRET}),
        ("search_files", {"pattern": "print", "path": "src"}),
    )
    listing, search, inner = results
    # links are shown as links (`link_dir -> ...`), never descended into
    assert "deep.txt" not in listing["content"] and SECRET not in listing["content"]
    assert search["content"].startswith("no matches")
    assert "app.py" in inner["content"]


BAD_CALLS: list[tuple[str, Any, str]] = [
    ("read_file", {}, "missing required field 'path'"),
    ("read_file", {"path": 7}, "field 'path' must be string"),
    ("read_file", {"path": "src/app.py", "offset": "ten"}, "field 'offset' must be integer"),
    ("write_file", {"path": "a.txt"}, "missing required field 'content'"),
    ("write_file", {"path": "a.txt", "content": ["x"]}, "field 'content' must be string"),
    ("edit_file", {"path": "src/app.py", "old_text": None, "new_text": "x"}, "old_text"),
    ("list_files", {"path": "src", "depth": 2, "extra": 1}, "unknown field"),
    ("search_files", {"pattern": "(unclosed"}, "pattern"),
    ("run_command", {"command": 42}, "field 'command' must be string"),
    ("run_command", "ls", "input must be an object"),
    ("run_command", None, "input must be an object"),
    ("web_fetch", {"url": "file:///etc/passwd"}, "only http:// and https://"),
    ("delete_everything", {"path": "/"}, "unknown tool 'delete_everything'"),
    ("", {}, "unknown tool ''"),
]


async def test_schema_mismatches_become_tool_errors(layout: Path) -> None:
    calls = [(name, args) for name, args, _ in BAD_CALLS]
    results, final, recorder = await run_turn(layout, *calls)
    for (name, args, message), res in zip(BAD_CALLS, results, strict=True):
        assert res.get("is_error") is True, (name, args, res)
        assert message in res["content"], (name, args, res["content"])
    finished = recorder.of(ToolCallFinished)
    assert len(finished) == len(BAD_CALLS) and all(e.is_error for e in finished)
    assert final == "finished"
    assert (layout / "src" / "app.py").read_text() == "print(1)\n"
    assert not (layout / "a.txt").exists()


def _rss_kb() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):  # peak resident set: catches a transient spike too
            return int(line.split()[1])
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


async def test_huge_outputs_are_capped_and_memory_stays_bounded(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    ws.mkdir()
    with (ws / "big.txt").open("wb") as f:  # 50 MB: 500k lines of 100 bytes
        line = b"x" * 99 + b"\n"
        f.write(line * 500_000)
    with (ws / "oneline.txt").open("wb") as f:  # 50 MB on a single line
        f.write(b"y" * 50_000_000)
    before = _rss_kb()
    cap = 64_000
    results, final, _ = await run_turn(
        ws,
        ("run_command", {"command": "head -c 100000000 /dev/zero | tr '\\0' 'z'"}),
        ("read_file", {"path": "big.txt"}),
        ("read_file", {"path": "oneline.txt"}),
        ("search_files", {"pattern": "x+"}),
        output_cap=cap,
    )
    grown_mb = (_rss_kb() - before) / 1024
    assert grown_mb < 60, f"peak RSS grew by {grown_mb:.0f} MB"  # well below 100 MB + 100 MB
    for res in results:
        assert len(res["content"].encode()) <= cap + 2_000, len(res["content"])
    command, big, oneline, _search = results
    assert "bytes cut" in command["content"]
    assert big["content"].startswith("x" * 99)
    assert "line cut" in oneline["content"]
    assert final == "finished"
