"""A refused API key (401) ends the run at once, with one clear line and no retry storm."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from core.events import CEO_ID, AgentStateChanged, ApiRetry, RunFinished
from tests.fakeapi import HttpError
from tests.faults.harness import Plan, Worker, agent_id, fault_run, threaded_api
from tui.cli import main

REFUSED = "the API key was refused (401 authentication_error): invalid x-api-key"


async def test_refused_key_at_start_ends_the_run_after_one_request(tmp_path: Path) -> None:
    plan = Plan([Worker("a"), Worker("b")])
    async with fault_run(tmp_path, plan, api_key="sk-ant-wrong-key") as run:
        outcome = await run.finish()
        assert outcome.status == "failed"
        assert outcome.result == REFUSED
        assert run.session.fatal_error == REFUSED
        assert len(run.api.requests) == 1
        assert not run.recorder.of(ApiRetry)
        assert run.finished(CEO_ID).state == "failed"
        assert run.recorder.of(AgentStateChanged, CEO_ID)[-1].reason == REFUSED
        await run.assert_stored()


async def test_key_refused_mid_run_stops_every_agent_without_a_storm(tmp_path: Path) -> None:
    """The key is revoked while four agents run in parallel: each gets at most one 401."""
    plan = Plan([Worker(name, turns=1) for name in "abcd"])
    plan.always(
        lambda call: call.agent != CEO_ID and call.turn == 2,
        lambda: HttpError(401, "authentication_error", "invalid x-api-key"),
    )
    async with fault_run(tmp_path, plan) as run:
        outcome = await run.finish()
        assert outcome.status == "failed" and outcome.result == REFUSED
        refused = [c for c in plan.calls if c.agent != CEO_ID and c.turn == 2]
        assert 1 <= len(refused) <= 4
        assert len(plan.of(CEO_ID)) == 2  # spawn, wait: the CEO never asks again
        states = {run.finished(agent_id(run, w)).state for w in plan.workers}
        assert states <= {"failed", "killed"} and "failed" in states
        assert any(run.finished(agent_id(run, w)).result == REFUSED for w in plan.workers)
        assert not run.recorder.of(ApiRetry)
        (finished,) = run.recorder.of(RunFinished)
        assert finished.status == "failed"
        await run.assert_stored()


def test_delegate_run_prints_one_line_and_exits_2_on_a_refused_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    workspace = tmp_path / "ws"
    workspace.mkdir()
    with threaded_api(api_key="sk-ant-the-right-key") as api:
        monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-a-wrong-key")
        monkeypatch.setenv("ANTHROPIC_BASE_URL", api.base_url)
        code = main(
            [
                "run",
                "Build a thing",
                "--db",
                str(tmp_path / "runs.db"),
                "--workspace",
                str(workspace),
            ]
        )
        requests = len(api.requests)
    captured = capsys.readouterr()
    assert code == 2
    assert requests == 1
    lines = [line for line in captured.err.splitlines() if line.startswith("delegate:")]
    assert lines == [f"delegate: {REFUSED}"]
    assert "Traceback" not in captured.err
    assert "sk-ant-a-wrong-key" not in captured.err + captured.out
    assert captured.out == ""


def test_delegate_run_json_still_prints_the_failed_run_on_a_refused_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    workspace = tmp_path / "ws"
    workspace.mkdir()
    db = str(tmp_path / "runs.db")
    with threaded_api(api_key="sk-ant-the-right-key") as api:
        monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-a-wrong-key")
        monkeypatch.setenv("ANTHROPIC_BASE_URL", api.base_url)
        code = main(["run", "Build a thing", "--json", "--db", db, "--workspace", str(workspace)])
    captured = capsys.readouterr()
    assert code == 2
    summary = json.loads(captured.out)  # a script asking for JSON gets it, with the reason
    assert summary["status"] == "failed" and summary["error"] == REFUSED
    assert summary["run_id"].startswith("20")
    assert "sk-ant-a-wrong-key" not in captured.err + captured.out
