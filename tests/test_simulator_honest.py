"""The default scenario plans from the task and the workspace, and says what it faked.

Whole runs go through the real Session and the SDK (in-process simulator transport), with
the tools running for real in a temporary workspace: the CEO's check is the project's own
test command, so a run is `done` only when the tests really pass after the last change.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from core.session import run_headless
from core.simulator.scenarios import notes
from core.simulator.scenarios.plans import new_script, spec_for
from tests.tui_support import sim_settings


@pytest.fixture(autouse=True)
def python_on_path(monkeypatch: pytest.MonkeyPatch) -> None:
    """`python -m pytest` in a check must find this interpreter (it has pytest)."""
    monkeypatch.setenv("PATH", f"{Path(sys.executable).parent}:" + __import__("os").environ["PATH"])


def _files(task: str) -> list[str]:
    script = new_script(task)
    assert script is not None, task
    out: list[str] = []
    for agent in script.agents:
        out += [f.path for f in spec_for(agent.role, agent.task, []).files]
    return out


def test_deliverables_are_named_from_the_task() -> None:
    assert _files("Write a Python script that converts CSV to JSON") == [
        "convert.py",
        "test_convert.py",
    ]
    assert _files("Write a tool that turns a JSON file into CSV")[0] == "json_to_csv.py"
    assert _files("Write a script that resizes images") == ["resize_images.py"]
    research = _files("Research the top 5 Python web frameworks")
    assert research == ["deliverables/top-5-python-web-frameworks.md"]
    assert _files("Write a blog post about remote work") == ["deliverables/remote-work.md"]
    fix = new_script("Fix the failing test in this project")
    assert fix is not None and [a.role for a in fix.agents] == ["coding"]
    assert _files("Fix the failing test in this project") == []  # it edits what is there


def test_documents_are_about_the_subject_and_labelled_placeholder() -> None:
    script = new_script("Research the top 5 Python web frameworks")
    assert script is not None
    writer = spec_for("writer", script.agents[1].task, [])
    doc = writer.files[0].content
    assert doc.startswith("# The top 5 Python web frameworks\n")
    assert "Placeholder written by simulated models" in doc
    assert sum(line[:2] in {f"{i}." for i in range(1, 10)} for line in doc.splitlines()) == 5
    assert "Northwind" not in doc and "id,name" not in doc
    code = spec_for("coding", new_script("Write a script that resizes images").agents[0].task, [])  # type: ignore[union-attr]
    assert "PLACEHOLDER" in code.files[0].content and "PLACEHOLDER" in code.report


def test_notes_add_one_section_or_say_they_could_not() -> None:
    task = "Write the report about “onboarding” into `deliverables/onboarding.md`: a summary."
    asked = notes.parse_all(["also add a FAQ section", "also add a FAQ section"])
    spec = spec_for("writer", task, asked)
    assert spec.files[0].content.count("## FAQ") == 1
    vague = spec_for("writer", task, notes.parse_all(["make it sing"]))
    assert "## " not in vague.files[0].content.split("## Next steps")[1]
    assert vague.unapplied == ["make it sing"]
    placeholder = "Write `resize_images.py`: a Python script for this task: “resize images”."
    switched = spec_for(
        "coding", placeholder, notes.parse_all(["make it actually convert CSV to JSON"])
    )
    assert [f.path for f in switched.files] == ["convert.py", "test_convert.py"]
    assert switched.switched_to == "convert.py"


def _project(ws: Path, source: str) -> None:
    (ws / "calc.py").write_text(source)
    (ws / "test_calc.py").write_text(
        "from calc import add\n\n\ndef test_add():\n    assert add(2, 3) == 5\n"
    )


def _pytest(ws: Path) -> int:
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"],
        cwd=ws,
        capture_output=True,
        check=False,
    ).returncode


async def _run(tmp_path: Path, task: str, **overrides: Any) -> tuple[Any, Any]:
    settings = sim_settings(tmp_path, **overrides)
    return await run_headless(settings, task)


async def test_unfixable_failing_test_ends_unverified_and_says_so(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    ws.mkdir()
    _project(ws, "def add(a, b):\n    total = a\n    total -= b\n    return total\n")
    session, outcome = await _run(tmp_path, "Fix the failing test in this project")
    assert _pytest(ws) == 1  # still failing: nothing pretended otherwise
    assert outcome.status == "unverified"  # the check failed after the last change
    assert outcome.result.startswith("Not verified: `python -m pytest -q` still fails")
    assert "placeholder work" in outcome.result and "cannot fix arbitrary code" in outcome.result
    assert "verified" not in outcome.result.replace("Not verified", "")
    coder = session.supervisor.records["coding-1"]
    assert coder.attempt == 2 and "could not find a cause I can fix" in (coder.result or "")
    assert (ws / "calc.py").read_text().count("-=") == 1  # left as it was


async def test_trivially_wrong_operator_is_fixed_for_real(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    ws.mkdir()
    _project(ws, "def add(a, b):\n    return a - b\n")
    _, outcome = await _run(tmp_path, "Fix the failing test in this project")
    assert _pytest(ws) == 0
    assert "return a + b" in (ws / "calc.py").read_text()
    assert outcome.status == "done"  # the project's tests passed after the fix
    assert outcome.result.startswith("Done and verified: `python -m pytest -q` passed")


async def test_csv_to_json_is_caught_once_retried_and_really_converts(tmp_path: Path) -> None:
    session, outcome = await _run(tmp_path, "Write a Python script that converts CSV to JSON")
    ws = tmp_path / "ws"
    assert session.supervisor.records["coding-1"].attempt == 2  # the check caught attempt 1
    assert outcome.result.startswith("Done and verified") and outcome.status == "done"
    (ws / "in.csv").write_text('name,city\n"Smith, Jr.","Austin, TX"\n')
    out = subprocess.run(
        [sys.executable, "convert.py", "in.csv"], cwd=ws, capture_output=True, text=True
    )
    assert out.returncode == 0 and '"city": "Austin, TX"' in out.stdout


async def test_follow_up_after_the_answer_is_new_work(tmp_path: Path) -> None:
    import asyncio

    from core.events import Event, Notice
    from core.session import Session

    session = Session(sim_settings(tmp_path), interactive=True)
    answers: asyncio.Queue[None] = asyncio.Queue()

    def on_event(ev: Event) -> None:
        if isinstance(ev, Notice) and ev.text == "The CEO is waiting for you.":
            answers.put_nowait(None)

    session.bus.subscribe(on_event)
    session.start("Write a blog post about remote work")
    await asyncio.wait_for(answers.get(), 30)
    assert set(session.supervisor.records) == {"writer-1"}
    session.say("Please also add a pricing FAQ")
    await asyncio.wait_for(answers.get(), 30)
    assert set(session.supervisor.records) == {"writer-1", "writer-2"}  # new work, new agent
    doc = (tmp_path / "ws/deliverables/remote-work.md").read_text()
    assert doc.count("## Pricing FAQ") == 1 and doc.count("## FAQ") == 1  # steer + follow-up
    assert doc.startswith("# Remote work")  # the earlier text is kept
    answer = session.ceo.last_text if session.ceo else ""
    assert "already finished" not in answer and "writer-2" in answer
    await session.close()


async def test_demo_catches_a_failure_retries_with_it_and_finishes_verified(
    tmp_path: Path,
) -> None:
    from core.events import Event, ToolCallFinished
    from tui.launch import DEMO_TASK

    settings = sim_settings(tmp_path, permission_mode="allow")
    checks: list[str] = []

    def watch(bus: Any) -> None:
        def on(ev: Event) -> None:
            if isinstance(ev, ToolCallFinished) and ev.name == "run_check":
                checks.append("passed" if '"exit_code": 0' in ev.output else "failed")

        bus.subscribe(on)

    session, outcome = await run_headless(settings, DEMO_TASK, subscribe=watch)
    ws = tmp_path / "ws"
    assert checks == ["failed", "passed"]  # caught, then verified after the fix
    coder = session.supervisor.records["coding-1"]
    assert coder.attempt == 2 and "test_quoted_fields_keep_their_commas" in (coder.note or "")
    assert outcome.status == "done" and outcome.result.startswith("Done and verified")
    assert _pytest(ws) == 0
    guide = (ws / "deliverables/convert-guide.md").read_text()
    assert guide.count("## FAQ") == 1 and "csv.DictReader" in guide  # the CEO's steer


async def test_steer_and_retry_note_change_the_work(tmp_path: Path) -> None:
    import asyncio

    from core.events import AgentFinished, Event, Notice, ToolCallStarted
    from core.session import Session

    session = Session(sim_settings(tmp_path, sim_tokens_per_s=400.0), interactive=True)
    answered: asyncio.Queue[None] = asyncio.Queue()
    finished: asyncio.Queue[str] = asyncio.Queue()
    first_tool = asyncio.Event()

    def on(ev: Event) -> None:
        if isinstance(ev, Notice) and ev.text == "The CEO is waiting for you.":
            answered.put_nowait(None)
        if isinstance(ev, AgentFinished) and ev.agent_id != "ceo":
            finished.put_nowait(ev.agent_id or "")
        if isinstance(ev, ToolCallStarted) and ev.agent_id == "coding-1":
            first_tool.set()

    session.bus.subscribe(on)
    session.start("Write a script that resizes images")
    await asyncio.wait_for(first_tool.wait(), 30)
    session.steer("coding-1", "make it actually convert CSV to JSON")
    await asyncio.wait_for(answered.get(), 60)
    ws = tmp_path / "ws"
    assert "def convert(" in (ws / "convert.py").read_text()
    coder = session.supervisor.records["coding-1"]
    assert "switched to `convert.py`" in (coder.result or "")
    # The operator retries with a note it cannot apply to code: the agent says so.
    while not finished.empty():
        finished.get_nowait()
    session.retry("coding-1", "also add a FAQ section")
    assert await asyncio.wait_for(finished.get(), 60) == "coding-1"
    assert "Could not apply" in (session.supervisor.records["coding-1"].result or "")
    await session.close()


async def test_retry_note_adds_one_section_not_a_duplicate(tmp_path: Path) -> None:
    import asyncio

    from core.events import AgentFinished, Event, Notice
    from core.session import Session

    session = Session(sim_settings(tmp_path), interactive=True)
    answered: asyncio.Queue[None] = asyncio.Queue()
    finished: asyncio.Queue[str] = asyncio.Queue()

    def on(ev: Event) -> None:
        if isinstance(ev, Notice) and ev.text == "The CEO is waiting for you.":
            answered.put_nowait(None)
        if isinstance(ev, AgentFinished) and ev.agent_id != "ceo":
            finished.put_nowait(ev.agent_id or "")

    session.bus.subscribe(on)
    session.start("Research the top 5 Python web frameworks")
    await asyncio.wait_for(answered.get(), 30)
    while not finished.empty():
        finished.get_nowait()
    path = tmp_path / "ws/deliverables/top-5-python-web-frameworks.md"
    before = path.read_text()
    assert before.count("## Open Questions") == 1 and "## FAQ" not in before  # the steer
    session.retry("writer-1", "also add a FAQ section")
    assert await asyncio.wait_for(finished.get(), 30) == "writer-1"
    after = path.read_text()
    assert after.count("## FAQ") == 1 and after.count("## Open Questions") == 1
    assert after.startswith(before.rstrip("\n"))  # kept what was there, added one section
    assert "added the section(s) “FAQ”" in (session.supervisor.records["writer-1"].result or "")
    await session.close()


async def test_placeholder_code_is_not_verified_by_the_projects_passing_tests(
    tmp_path: Path,
) -> None:
    ws = tmp_path / "ws"
    ws.mkdir()
    _project(ws, "def add(a, b):\n    return a + b\n")  # a passing suite
    session, outcome = await _run(tmp_path, "Write a script that resizes images")
    coder = session.supervisor.records["coding-1"].result or ""
    assert "Test command: `python -m pytest -q`" in coder  # it found and ran the suite
    assert outcome.result.startswith("Not verified: no check tested this work.")
    assert outcome.status == "unverified"
    assert "do not test the new work" in outcome.result and "placeholder" in outcome.result
    assert "Done" not in outcome.result
