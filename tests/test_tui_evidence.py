"""The TUI's view of the evidence: pane counts and badges, the header's outcome line."""

from __future__ import annotations

from core.events import (
    AgentSpawned,
    AgentStateChanged,
    ClaimsFlagged,
    CommandRan,
    FileChanged,
    FileCollision,
    RunFinished,
    RunStarted,
)
from tui.view_model import RunView
from tui.widgets.agent_pane import render_agent

R = "run-1"
A = {"run_id": R, "agent_id": "coding-1"}


def _view() -> RunView:
    view = RunView()
    view.apply(RunStarted(run_id=R, task="t", workspace="/w", ceo_model="m", simulated=True,
                          max_concurrent=5))  # fmt: skip
    view.apply(AgentSpawned(run_id=R, agent_id="ceo", role="ceo", model="m", task="t"))
    view.apply(AgentSpawned(**A, role="coding", model="claude-haiku-5-5", task="fix add"))
    view.apply(AgentStateChanged(**A, state="running"))
    return view


def _write(path: str = "calc.py") -> FileChanged:
    return FileChanged(**A, attempt=1, tool="write_file", path=path, bytes=10,
                       sha256_before=None, sha256_after="ab" * 32)  # fmt: skip


def _check(code: int) -> CommandRan:
    return CommandRan(run_id=R, agent_id="ceo", attempt=1, tool="run_check",
                      command="python -m pytest -q", exit_code=code, duration_s=1.0)  # fmt: skip


def test_pane_shows_the_evidence_counts_and_badges() -> None:
    view = _view()
    view.apply(_write())
    view.apply(CommandRan(**A, attempt=1, tool="run_command", command="pytest", exit_code=1,
                          duration_s=0.5))  # fmt: skip
    view.apply(ClaimsFlagged(**A, attempt=1, claims=["claims all tests pass; `pytest` exited 1"]))
    view.apply(FileCollision(**A, path="calc.py", other_agent="coding-2", text="x"))
    agent = view.agents["coding-1"]
    assert (agent.files_changed, agent.commands_run, agent.commands_failed) == (1, 1, 1)
    body = render_agent(agent, now=0.0, width=80).plain
    assert "1 file change · 1 command (1 failed)" in body
    assert "⚠ unsupported claim: claims all tests pass" in body
    assert "⚠ collision: calc.py (also coding-2)" in body
    assert any("unsupported claim" in item.text for item in view.chat)


def test_a_new_attempt_starts_with_no_evidence() -> None:
    view = _view()
    view.apply(_write())
    view.apply(AgentSpawned(**A, role="coding", model="claude-haiku-5-5", task="fix", attempt=2))
    view.apply(_write())  # an event of attempt 1 arriving late is not counted for attempt 2
    agent = view.agents["coding-1"]
    assert agent.files_changed == 0 and "file change" not in render_agent(agent, 0.0, 80).plain


def test_header_line_says_what_verified_the_answer() -> None:
    view = _view()
    view.apply(_write())
    view.apply(_check(0))
    assert view.outcome_line == ""  # still running: no verdict yet
    view.apply(RunFinished(run_id=R, status="done", result="ok", cost_usd=0.0, verified=True))
    assert view.outcome_line == "verified: `python -m pytest -q` passed after the last change"
    view = _view()
    view.apply(_check(0))
    view.apply(_write())
    view.apply(RunFinished(run_id=R, status="unverified", result="ok", cost_usd=0.0))
    assert view.display_status == "unverified"
    assert view.outcome_line == "not verified: no check ran after the last change"
