"""The `delegate` command end to end: run --json, history, show, and bad input."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tui.cli import main

AGENT_FIELDS = {
    "id",
    "role",
    "model",
    "status",
    "attempt",
    "task",
    "input_tokens",
    "output_tokens",
    "cache_read_tokens",
    "cache_write_tokens",
    "cost_usd",
    "elapsed_s",
    "timeout_s",
}


@pytest.fixture
def fast(tmp_path: Path) -> list[str]:
    """Common flags: a fast simulator, a private workspace and database."""
    config = tmp_path / "config.toml"
    config.write_text("[simulator]\ntokens_per_s = 50000\n")
    workspace = tmp_path / "ws"
    workspace.mkdir()
    return [
        "--simulate",
        "--config",
        str(config),
        "--workspace",
        str(workspace),
        "--db",
        str(tmp_path / "runs.db"),
    ]


def test_run_json_has_the_contract_and_consistent_numbers(
    fast: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["run", "Research competitors and build a landing page", "--json", *fast])
    out = capsys.readouterr().out
    assert code == 0
    summary = json.loads(out)
    assert {"run_id", "status", "result", "cost_usd", "usage", "agents"} <= set(summary)
    assert summary["status"] == "done" and summary["result"]
    agents = summary["agents"]
    assert agents[0]["id"] == "ceo"
    roles = {a["role"] for a in agents[1:]}
    assert len(agents) >= 3 and len(roles) >= 2  # parallel sub-agents of different roles
    for agent in agents:
        assert set(agent) >= AGENT_FIELDS, AGENT_FIELDS - set(agent)
        assert agent["status"] == "done"
    assert any(a["attempt"] == 2 for a in agents)  # the failed check led to a retry
    assert summary["cost_usd"] == pytest.approx(sum(a["cost_usd"] for a in agents))
    for key in ("input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens"):
        assert summary["usage"][key] == sum(a[key] for a in agents)
    assert summary["usage"]["cache_read_tokens"] > 0  # the CEO's prompt is cached

    # history and show read back what was recorded
    assert main(["history", "--json", *fast]) == 0
    runs = json.loads(capsys.readouterr().out)
    assert [r["run_id"] for r in runs] == [summary["run_id"]]
    assert runs[0]["status"] == "done"
    assert main(["show", summary["run_id"][:12], "--json", *fast]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["agents"] == agents and shown["cost_usd"] == summary["cost_usd"]
    assert main(["show", "last", "--markdown", *fast]) == 0
    markdown = capsys.readouterr().out
    assert markdown.startswith(f"# Run {summary['run_id']}")
    assert "Tool call: `spawn_agent`" in markdown and "## coding-1 (attempt 2)" in markdown


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["run"], "the following arguments are required: TASK"),
        (["run", "  "], "the task is empty"),
        (["--bogus"], "unrecognized arguments: --bogus"),
        (["show", "nope"], "no run"),
        (["run", "x", "--workspace", "/does/not/exist"], "workspace does not exist"),
        (["run", "x", "--max-concurrent", "0"], "--max-concurrent must be at least 1"),
        (["run", "x", "--config", "/does/not/exist.toml"], "cannot read"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(
    argv: list[str], message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main([*argv, "--db", str(tmp_path / "x.db")])
    err = capsys.readouterr().err
    assert code == 2
    assert message in err
    assert err.count("\n") == 1 and "Traceback" not in err


def test_invalid_config_names_the_key(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "c.toml"
    config.write_text("[roles.coding]\ntimeout_s = -3\n")
    assert main(["run", "x", "--config", str(config), "--db", str(tmp_path / "x.db")]) == 2
    assert capsys.readouterr().err.strip() == (
        "delegate: config: roles.coding.timeout_s: must be positive, got -3"
    )


def test_history_without_a_database(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["history", "--json", "--db", str(tmp_path / "none.db")]) == 0
    assert json.loads(capsys.readouterr().out) == []
    assert not (tmp_path / "none.db").exists()


def test_help_lists_every_command(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    for command in ("run", "history", "show", "replay", "resume", "simulator", "stats", "serve"):
        assert f"delegate {command}" in out


def test_a_headless_run_never_imports_textual(fast: list[str]) -> None:
    """`delegate run --quiet` is the whole headless path (settings, sandbox probe, session,
    simulator, store, summary): none of it needs the TUI's toolkit, so it never loads it;
    nor does the core's export."""
    code = (
        "import sys, core.export; from tui.cli import main;"
        f"code = main(['run', 'Write a note about tea', '--quiet', *{fast!r}]);"
        "assert code in (0, 1), code;"
        "loaded = sorted(m for m in sys.modules if m.split('.')[0] in ('textual', 'rich'));"
        "assert not loaded, loaded"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]


def test_the_closing_line_counts_its_sub_agents_in_words(
    fast: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    task = "Write a Python script that converts CSV to JSON"  # one coding agent
    assert main(["run", task, "--yes", *fast]) == 0
    last = capsys.readouterr().err.strip().splitlines()[-1]
    assert last.startswith("run ") and " · 1 sub-agent · $" in last, last


def test_show_at_80_columns_cuts_no_figure_and_no_model(
    fast: list[str], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert main(["run", "Research competitors and build a landing page", "--json", *fast]) == 0
    agents = json.loads(capsys.readouterr().out)["agents"]
    monkeypatch.setenv("COLUMNS", "80")
    assert main(["show", "last", *fast[-2:]]) == 0
    rows = {line.split()[0]: line for line in capsys.readouterr().out.splitlines() if line}
    for a in agents:
        row = rows[a["id"]]
        assert len(row) <= 80, row
        for figure in (
            a["model"].replace("claude-", ""),
            f"{a['input_tokens']:,}",
            f"{a['cache_read_tokens']:,}/{a['cache_write_tokens']:,}",
        ):
            assert f" {figure} " in f" {row} ", (figure, row)
