"""The evidence ledger: an agent's real tool calls become FileChanged / CommandRan /
UrlFetched events, with hashes read from the disk and exit codes from the process."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from core.agent import Agent
from core.bus import EventBus
from core.catalog import Catalog
from core.events import CommandRan, FileChanged, UrlFetched
from core.evidence import EvidenceBook, ToolRecorder
from core.llm import TurnRequest, TurnResult, TurnSink
from core.simulator.http import HttpServer, Request, Response
from core.tools.base import ToolContext
from core.tools.registry import build_tools
from tests.scripted import Recorder, ScriptedModel, allow_all, text, tool_use

TOOLS = ["read_file", "write_file", "edit_file", "run_command", "web_fetch"]


async def _page(request: Request) -> Response:
    if request.path == "/ok":
        return Response(headers={"content-type": "text/plain"}, body=b"hello")
    return Response(status=404, headers={"content-type": "text/plain"}, body=b"no")


@pytest.fixture
async def server() -> AsyncIterator[HttpServer]:
    async with HttpServer(_page) as srv:
        yield srv


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


async def _agent_doing(
    workspace: Path, calls: list[tuple[str, dict[str, Any]]], report: str = "Done."
) -> tuple[Recorder, EvidenceBook]:
    """Run one real agent whose model makes `calls` one per turn, then reports."""

    async def script(request: TurnRequest, sink: TurnSink) -> TurnResult:
        turn = (len(request.messages) - 1) // 2
        if turn < len(calls):
            return tool_use(*calls[turn])
        return text(report)

    bus = EventBus()
    rec = Recorder(bus)
    book = EvidenceBook()
    bus.subscribe(book.observe)
    agent = Agent(
        run_id="r",
        agent_id="coding-1",
        role="coding",
        model="claude-haiku-5-5",
        system="s",
        tools=build_tools(TOOLS),
        ctx=ToolContext(
            workspace=workspace,
            agent_id="coding-1",
            authorize=allow_all,
            fetch_allow_hosts=("127.0.0.1",),  # the test server is on loopback
        ),
        client=ScriptedModel(script),  # type: ignore[arg-type]
        catalog=Catalog(),
        emit=bus.publish,
        attempt=2,
        recorder=ToolRecorder(run_id="r", agent_id="coding-1", attempt=2, emit=bus.publish),
    )
    agent.start("task")
    await asyncio.wait_for(agent.run(), 10)
    return rec, book


async def test_writes_and_edits_are_recorded_with_hashes(tmp_path: Path) -> None:
    (tmp_path / "calc.py").write_bytes(b"def add(a, b):\n    return a - b\n")
    before = sha((tmp_path / "calc.py").read_bytes())
    rec, book = await _agent_doing(
        tmp_path,
        [
            ("edit_file", {"path": "calc.py", "old_text": "a - b", "new_text": "a + b"}),
            ("write_file", {"path": "sub/new.txt", "content": "héllo"}),
            ("write_file", {"path": "../outside.txt", "content": "x"}),  # refused: not recorded
            ("edit_file", {"path": "calc.py", "old_text": "nope", "new_text": "x"}),  # fails
        ],
    )
    files = rec.of(FileChanged)
    assert [(f.tool, f.path) for f in files] == [
        ("edit_file", "calc.py"),
        ("write_file", "sub/new.txt"),
    ]
    edited = (tmp_path / "calc.py").read_bytes()
    assert files[0].sha256_before == before
    assert files[0].sha256_after == sha(edited) != before
    assert files[0].bytes == len(edited)
    assert files[1].sha256_before is None  # a new file
    assert files[1].sha256_after == sha("héllo".encode())
    assert files[1].bytes == len("héllo".encode())
    assert all(f.attempt == 2 and f.agent_id == "coding-1" for f in files)
    ledger = book.ledger("coding-1", 2)
    assert [f["path"] for f in ledger.to_dict()["files"]] == ["calc.py", "sub/new.txt"]
    assert not (tmp_path.parent / "outside.txt").exists()


async def test_commands_are_recorded_with_exit_codes(tmp_path: Path) -> None:
    rec, book = await _agent_doing(
        tmp_path,
        [
            ("run_command", {"command": "echo hi"}),
            ("run_command", {"command": "exit 3"}),
            ("run_command", {"command": "sleep 5", "timeout_s": 0.2}),
            ("run_command", {"command": "   "}),  # refused by the tool: nothing ran
        ],
    )
    commands = rec.of(CommandRan)
    assert [(c.command, c.exit_code, c.timed_out) for c in commands] == [
        ("echo hi", 0, False),
        ("exit 3", 3, False),
        ("sleep 5", commands[2].exit_code, True),
    ]
    assert all(c.tool == "run_command" and c.duration_s >= 0 for c in commands)
    assert commands[2].duration_s < 4
    block = book.ledger("coding-1", 2).block()
    assert block.startswith("[evidence recorded by delegate for coding-1 attempt 2]")
    assert "- ran `echo hi`: exit 0" in block and "- ran `exit 3`: exit 3" in block
    assert "- ran `sleep 5`: timed out" in block


async def test_fetches_are_recorded_with_status(tmp_path: Path, server: HttpServer) -> None:
    rec, book = await _agent_doing(
        tmp_path,
        [
            ("web_fetch", {"url": f"{server.base_url}/ok"}),
            ("web_fetch", {"url": f"{server.base_url}/missing"}),
            ("web_fetch", {"url": "ftp://example.com/x"}),  # refused: no response
        ],
    )
    urls = [(u.url, u.status) for u in rec.of(UrlFetched)]
    assert urls == [
        (f"{server.base_url}/ok", 200),
        (f"{server.base_url}/missing", 404),
        ("ftp://example.com/x", None),
    ]
    assert rec.of(UrlFetched)[2].error.startswith("refused")
    assert "fetched ftp://example.com/x: no response" in book.ledger("coding-1", 2).block()


async def test_an_agent_that_did_nothing_says_so(tmp_path: Path) -> None:
    _, book = await _agent_doing(tmp_path, [("read_file", {"path": "missing.txt"})])
    ledger = book.ledger("coding-1", 2)
    assert ledger.empty
    assert ledger.block().endswith("- no files written, no commands run, no URLs fetched")


async def test_a_long_ledger_is_capped_in_the_block(tmp_path: Path) -> None:
    calls = [("write_file", {"path": f"f{i}.txt", "content": str(i)}) for i in range(12)]
    _, book = await _agent_doing(tmp_path, calls)
    ledger = book.ledger("coding-1", 2)
    assert len(ledger.files) == 12  # all of it in the JSON
    lines = ledger.block().splitlines()
    assert lines[-1] == "- ... and 4 more file changes" and len(lines) == 10
