"""The command policy through the whole path: headless denies what is not allowed unless
`--yes`, and no allowed prefix can be stretched into a second command that really runs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from core.config import DEFAULT_ALLOW
from core.events import Event
from core.tools.base import ToolContext, execute
from core.tools.policy import HEADLESS_REFUSAL, ApprovalBroker, CommandPolicy
from core.tools.registry import build_tools
from tui.cli import main

STRETCHED = [
    "ls; touch {m}",
    "ls && touch {m}",
    "ls || touch {m}",
    "ls | touch {m}",
    "ls `touch {m}`",
    "ls $(touch {m})",
    "ls\ntouch {m}",
    "ls \\\ntouch {m}",
    "echo ok; touch {m}",
    "git status; touch {m}",
    'echo "$(touch {m})"',
]


@pytest.mark.parametrize("template", STRETCHED)
async def test_stretched_allow_prefix_never_runs_headless(tmp_path: Path, template: str) -> None:
    marker = tmp_path / "pwned"
    command = template.format(m=marker)
    events: list[Event] = []
    broker = ApprovalBroker(
        events.append, "run-x", CommandPolicy("ask", allow=DEFAULT_ALLOW), interactive=False
    )
    assert await broker.authorize("coding-1", "run_command", command, str(tmp_path)) == (
        False,
        HEADLESS_REFUSAL,
    )
    ctx = ToolContext(workspace=tmp_path, agent_id="coding-1", authorize=broker.authorize)
    result = await execute(build_tools(["run_command"]), "run_command", {"command": command}, ctx)
    assert result.is_error and HEADLESS_REFUSAL in result.text
    assert not marker.exists()
    assert events == []  # headless: nothing waits for an operator
    # the allowed part alone is fine
    plain = await execute(build_tools(["run_command"]), "run_command", {"command": "ls"}, ctx)
    assert not plain.is_error


def _scenario(tmp_path: Path) -> Path:
    path = tmp_path / "touch.toml"
    path.write_text(
        'plan = "One agent."\n'
        "retry_failed = false\n"
        "tokens_per_s = 50000\n"
        "latency_s = 0.0\n"
        "[[agents]]\n"
        'role = "data"\n'
        'task = "Touch the marker file."\n'
        'commands = ["echo touching; touch pwned.txt"]\n'
        'report = "Tried."\n'
    )
    return path


@pytest.mark.parametrize("yes", [False, True])
def test_headless_needs_yes_for_commands_not_allowed(
    tmp_path: Path, yes: bool, capsys: pytest.CaptureFixture[str]
) -> None:
    workspace = tmp_path / "ws"
    workspace.mkdir()
    common = ["--simulate", "--db", str(tmp_path / "runs.db"), "--workspace", str(workspace)]
    argv = ["run", "Touch it", "--json", "--quiet", "--scenario", str(_scenario(tmp_path))]
    code = main([*argv, *common, *(["--yes"] if yes else [])])
    out = capsys.readouterr().out
    # A refusal is a tool error, not a crash; the scenario runs no check: unverified, exit 1.
    assert code == 1
    assert json.loads(out)["status"] == "unverified"
    assert main(["show", "last", "--markdown", *common]) == 0
    transcript = capsys.readouterr().out
    assert "touch pwned.txt" in transcript  # the model really asked for it
    assert (workspace / "pwned.txt").exists() is yes
    assert (HEADLESS_REFUSAL in transcript) is not yes
