"""The honest run outcome: `verified`, `checks` and the run status, through a real Session.

A scripted CEO runs real tools in a real workspace: sub-agents write files with
write_file, the CEO runs real commands with run_check. The status depends only on what
the engine recorded, in order: a check that passed after the last file change.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from core.config import Settings
from core.events import CommandRan, FileChanged, RunFinished
from core.llm import TurnRequest, TurnResult, TurnSink
from core.outcome import Verification, settle
from core.session import RunOutcome, Session
from core.store import Store
from tests.scripted import Recorder, ScriptedModel, first_text, text, tool_use

GOOD = "def add(a, b):\n    return a + b\n"
BAD = "def add(a, b):\n    return a - b\n"
CHECK = "grep -q 'return a + b' calc.py"


def _is_ceo(request: TurnRequest) -> bool:
    return any(t["name"] == "spawn_agent" for t in request.tools)


async def _run(
    tmp_path: Path, steps: list[tuple[str, dict[str, Any]]]
) -> tuple[RunOutcome, Recorder, dict[str, Any]]:
    """Run a CEO that makes `steps` (tool calls, in order), then answers.

    A worker's task is `write PATH` + a blank line + the content; it writes it and reports.
    """

    async def script(request: TurnRequest, sink: TurnSink) -> TurnResult:
        if not _is_ceo(request):
            if len(request.messages) == 1:
                head, _, body = first_text(request).partition("\n\n")
                return tool_use("write_file", {"path": head.split()[1], "content": body})
            return text("Wrote it.")
        turn = (len(request.messages) - 1) // 2
        if turn < len(steps):
            name, args = steps[turn]
            return tool_use(name, args)
        return text("Finished.")

    settings = Settings(workspace=tmp_path, simulate=True)
    session = Session(settings)
    session.client = ScriptedModel(script)  # type: ignore[assignment]
    store = await Store.open(tmp_path / "runs.db")
    session.bus.subscribe(store.append)
    rec = Recorder(session.bus)
    session.start("Fix add()")
    outcome = await asyncio.wait_for(session.wait_finished(), 10)
    await session.close()
    await store.flush()
    summary = await store.run_summary(outcome.run_id)
    await store.close()
    return outcome, rec, summary


def _spawn(path: str, content: str) -> tuple[str, dict[str, Any]]:
    return "spawn_agent", {"role": "coding", "task": f"write {path}\n\n{content}"}


WAIT = ("wait_for_agents", {})


async def test_a_check_passing_after_the_last_change_is_done(tmp_path: Path) -> None:
    outcome, rec, summary = await _run(
        tmp_path, [_spawn("calc.py", GOOD), WAIT, ("run_check", {"command": CHECK})]
    )
    assert (outcome.status, outcome.verified) == ("done", True)
    assert summary["status"] == "done" and summary["verified"] is True
    assert summary["checks"] == [{"command": CHECK, "exit_code": 0, "after_last_change": True}]
    assert rec.of(RunFinished)[-1].verified is True


async def test_a_check_before_a_later_change_does_not_verify(tmp_path: Path) -> None:
    outcome, rec, summary = await _run(
        tmp_path,
        [
            _spawn("calc.py", GOOD),
            WAIT,
            ("run_check", {"command": CHECK}),
            _spawn("calc.py", BAD),  # a later change nobody checked
            WAIT,
        ],
    )
    assert (outcome.status, outcome.verified) == ("unverified", False)
    assert summary["checks"] == [{"command": CHECK, "exit_code": 0, "after_last_change": False}]
    assert "error" not in summary  # unverified is an answer, not an error
    changes = rec.of(FileChanged)
    assert [c.sha256_before is None for c in changes] == [True, False]


async def test_a_failing_last_check_does_not_verify(tmp_path: Path) -> None:
    outcome, _, summary = await _run(
        tmp_path,
        [
            _spawn("calc.py", BAD),
            WAIT,
            ("run_check", {"command": "grep -q 'return a' calc.py"}),  # passes
            ("run_check", {"command": CHECK}),  # fails: no change between, so it counts
        ],
    )
    assert (outcome.status, outcome.verified) == ("unverified", False)
    assert [(c["exit_code"], c["after_last_change"]) for c in summary["checks"]] == [
        (0, True),
        (1, True),
    ]


async def test_no_check_is_unverified(tmp_path: Path) -> None:
    outcome, _, summary = await _run(tmp_path, [_spawn("calc.py", GOOD), WAIT])
    assert (outcome.status, outcome.verified) == ("unverified", False)
    assert summary["verified"] is False and summary["checks"] == []
    assert (tmp_path / "calc.py").read_text() == GOOD  # the work was done, just not checked


async def test_a_refused_check_is_not_a_check(tmp_path: Path) -> None:
    # Not on the allow list: denied in a headless run; nothing ran, nothing verified.
    outcome, rec, summary = await _run(
        tmp_path, [_spawn("calc.py", GOOD), WAIT, ("run_check", {"command": "true"})]
    )
    assert outcome.status == "unverified" and summary["checks"] == []
    assert not rec.of(CommandRan, "ceo")


def test_the_fold_follows_stream_order() -> None:
    def change() -> FileChanged:
        return FileChanged(
            run_id="r", agent_id="coding-1", attempt=1, tool="write_file", path="a",
            bytes=1, sha256_before=None, sha256_after="x",
        )  # fmt: skip

    def check(code: int | None, timed_out: bool = False) -> CommandRan:
        return CommandRan(
            run_id="r", agent_id="ceo", attempt=1, tool="run_check", command="pytest",
            exit_code=code, duration_s=0.1, timed_out=timed_out,
        )  # fmt: skip

    sub_agent_test = CommandRan(
        run_id="r", agent_id="coding-1", attempt=1, tool="run_command", command="pytest",
        exit_code=0, duration_s=0.1,
    )  # fmt: skip
    assert Verification.of([]).verified is False
    assert Verification.of([check(0)]).verified is True  # nothing changed: the check stands
    assert Verification.of([change(), check(0)]).verified is True
    assert Verification.of([check(0), change()]).verified is False
    assert Verification.of([change(), check(0), check(1)]).verified is False
    assert Verification.of([change(), check(1), change(), check(0)]).verified is True
    assert Verification.of([change(), check(None, timed_out=True)]).verified is False
    # A sub-agent's own test run is evidence, not the CEO's check.
    assert Verification.of([change(), sub_agent_test]).verified is False
    v = Verification.of([change(), check(1), change(), check(0)])
    assert [c["after_last_change"] for c in v.checks()] == [False, True]
    assert v.headline() == "verified: `pytest` passed after the last change"
    assert Verification.of([change()]).headline() == "not verified: no check ran"
    assert "failed (exit 1)" in Verification.of([change(), check(1)]).headline()
    assert settle("done", False) == "unverified"
    assert settle("done", True) == "done"
    assert settle("failed", True) == "failed"
    assert settle("cancelled", False) == "cancelled"


async def test_show_markdown_lists_the_checks(tmp_path: Path) -> None:
    from core.export import run_markdown

    outcome, _, _ = await _run(
        tmp_path, [_spawn("calc.py", GOOD), WAIT, ("run_check", {"command": CHECK})]
    )
    store = await Store.open(tmp_path / "runs.db")
    try:
        text_md = await run_markdown(store, outcome.run_id)
    finally:
        await store.close()
    assert "- **Verified:** yes" in text_md
    assert f"- `{CHECK}`: exit 0, after the last change" in text_md
    assert "wrote calc.py (" in text_md  # the coding agent's evidence
