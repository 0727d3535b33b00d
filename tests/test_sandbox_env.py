"""Commands get an allow-listed environment: the app's secrets are planted in its own
environment, and neither `env` nor `/proc/$PPID/environ` (the parent's environment, the
old way around a scrubbed child) shows any of them, sandboxed or not."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from core.sandbox import SandboxSettings
from core.sandbox.env import command_env
from tests.sandbox_support import agent_run, layout, needs_sandbox, settings_for, snapshot

SECRETS = {
    "ANTHROPIC_API_KEY": "sk-ant-api03-PLANTED-env-0001",
    "ANTHROPIC_AUTH_TOKEN": "PLANTED-auth-0002",
    "GITHUB_TOKEN": "ghp_PLANTED0003",
    "OPENAI_API_KEY": "sk-PLANTED-openai-0004",
    "AWS_ACCESS_KEY_ID": "AKIAPLANTED0005",
    "AWS_SECRET_ACCESS_KEY": "PLANTED-aws-secret-0006",
    "AWS_SESSION_TOKEN": "PLANTED-aws-session-0007",
    "SSH_AUTH_SOCK": "/tmp/ssh-PLANTED-0008/agent.1",
    "DATABASE_URL": "postgres://u:PLANTED-0009@db/x",
}
COMMANDS = ["env", "cat /proc/$PPID/environ", "cat /proc/1/environ", "ls /proc"]


def test_allow_list_keeps_only_named_variables() -> None:
    source = {
        **SECRETS,
        "PATH": "/usr/bin:/bin",
        "LANG": "C.UTF-8",
        "LC_ALL": "C",
        "TERM": "xterm",
        "TZ": "UTC",
        "HOME": "/home/me",
        "PAGER": "less",
        "FOO": "bar",
    }
    env = command_env(source, ["FOO"], "/tmp/home")
    assert env == {
        "PATH": "/usr/bin:/bin",
        "LANG": "C.UTF-8",
        "LC_ALL": "C",
        "TERM": "xterm",
        "TZ": "UTC",
        "HOME": "/tmp/home",
        "PAGER": "cat",
        "GIT_PAGER": "cat",
        "FOO": "bar",
    }
    assert command_env({}, [], "/h")["PATH"]  # a PATH even when the app has none


def _scenario(tmp_path: Path) -> Path:
    path = tmp_path / "env.toml"
    commands = ", ".join(json.dumps(c) for c in COMMANDS)
    path.write_text(
        'plan = "One agent looks around."\n'
        "retry_failed = false\n"
        "tokens_per_s = 50000\n"
        "latency_s = 0.0\n"
        "[[agents]]\n"
        'role = "data"\n'
        'task = "Print the environment."\n'
        f"commands = [{commands}]\n"
        'report = "Printed it."\n'
    )
    return path


@needs_sandbox
def test_secrets_never_reach_a_sandboxed_command(tmp_path: Path) -> None:
    """`delegate run` started with the secrets in its own environment (so they are in
    /proc/<app>/environ too); the agent's commands print every environment they can find."""
    ws, outside = layout(tmp_path)
    before = snapshot(outside)
    config = tmp_path / "config.toml"
    config.write_text('[sandbox]\nenv = ["DELEGATE_ALLOWED_NAME"]\n')
    common = ["--db", str(tmp_path / "runs.db"), "--workspace", str(ws), "--config", str(config)]
    env = {**os.environ, **SECRETS, "DELEGATE_ALLOWED_NAME": "passed-through-by-config"}
    env.pop("ANTHROPIC_BASE_URL", None)
    cli = [sys.executable, "-m", "tui.cli"]
    scenario = ["--scenario", str(_scenario(tmp_path))]
    run = subprocess.run(
        [*cli, "run", "Print it", "--simulate", "--yes", "--quiet", *common, *scenario],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode in (0, 1), run.stderr  # done, or unverified (no check ran)
    assert "Traceback" not in run.stderr
    assert "sandbox" not in run.stderr  # sandboxed: no warning line
    show = subprocess.run(
        [*cli, "show", "last", "--markdown", *common],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    transcript = show.stdout
    for command in COMMANDS:
        assert f"$ {command}" in transcript or command in transcript
    assert "DELEGATE_ALLOWED_NAME=passed-through-by-config" in transcript  # `env` ran
    assert "HOME=/tmp/home" in transcript
    assert transcript.count("PATH=") >= 3  # env, and both /proc environ files were read
    for name, value in SECRETS.items():
        assert value not in transcript, name
        assert f"{name}=" not in transcript, name
    assert snapshot(outside) == before


async def test_secrets_never_reach_an_unsandboxed_command(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`[sandbox] mode = "off"`: the command's own environment is allow-listed too. (Its
    parent is the app itself, whose /proc environ any process of the same user can read:
    only the sandbox closes that; the README says so.)"""
    for name, value in SECRETS.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("DELEGATE_ALLOWED_NAME", "passed-through-by-config")
    ws, _ = layout(tmp_path)
    settings = settings_for(
        ws,
        assume_yes=True,
        sandbox=SandboxSettings(mode="off", env=("DELEGATE_ALLOWED_NAME",)),
    )
    run = await agent_run(settings, [("run_command", {"command": "env"})])
    (output,) = run.outputs()
    assert "DELEGATE_ALLOWED_NAME=passed-through-by-config" in output
    assert "PAGER=cat" in output
    for name, value in SECRETS.items():
        assert value not in output and f"{name}=" not in output, name
