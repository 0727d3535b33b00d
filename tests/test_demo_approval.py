"""The demo's scenario (`default:approval`): one command of the run asks the operator,
so a new user meets the approval inbox; headless (no --yes) it is refused and the run
still ends honestly, its agent saying the command did not run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.tui_support import footer_keys, live_app, sim_settings, wait_until
from tui.cli import main
from tui.launch import DEMO_TASK
from tui.widgets.approvals import ApprovalInbox

SMOKE = 'python3 -c "import convert"'


def test_headless_demo_refuses_the_command_and_says_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "config.toml"
    config.write_text("[simulator]\ntokens_per_s = 50000\nlatency_s = 0\n")
    (tmp_path / "ws").mkdir()
    argv = ["run", DEMO_TASK, "--simulate", "--scenario", "default:approval", "--json"]
    argv += ["--config", str(config), "--workspace", str(tmp_path / "ws")]
    code = main([*argv, "--db", str(tmp_path / "runs.db")])
    summary = json.loads(capsys.readouterr().out)
    assert (code, summary["status"], summary["verified"]) == (0, "done", True)
    coder = next(a for a in summary["agents"] if a["role"] == "coding")
    commands = [c["command"] for c in coder["evidence"]["commands"]]
    assert SMOKE not in commands  # it never ran
    shown = main(["show", summary["run_id"], "--markdown", "--db", str(tmp_path / "runs.db")])
    text = capsys.readouterr().out
    assert shown == 0 and f"Not run (not approved): `{SMOKE}`" in text
    assert "unsupported claim" not in text


async def test_the_demo_shows_the_approval_inbox_and_a_approves(tmp_path: Path) -> None:
    # Replies take 0.2 s, as a model's would: the footer is up before the request comes.
    settings = sim_settings(tmp_path, scenario="default:approval", sim_latency_s=0.2)
    assert settings.permission_mode == "ask"  # the default config
    app, session = live_app(settings, DEMO_TASK)
    async with app.run_test(size=(160, 48)) as pilot:
        inbox = app.screen.query_one(ApprovalInbox)
        await wait_until(pilot, lambda: "Quit" in footer_keys(app))

        def box_before_keys() -> bool:
            """Polled each step: the footer never shows `a` (even dimmed) before the box."""
            if "Approve" in footer_keys(app):
                assert inbox.display and inbox.oldest is not None
                return True
            return False

        await wait_until(pilot, box_before_keys, timeout=30)
        request = app.view.oldest_approval()
        assert request is not None and request.command == SMOKE
        assert app.view.agents[request.agent_id].state == "waiting_approval"
        await pilot.press("a")
        ledger = session.evidence.ledger(request.agent_id, 1)
        await wait_until(pilot, lambda: any(c.command == SMOKE for c in ledger.commands))
        assert [c.exit_code for c in ledger.commands if c.command == SMOKE] == [0]  # it ran
        assert not app.view.approvals
        assert app.view.agents[request.agent_id].state != "waiting_approval"
        await app.close_session()
