"""Where no sandbox can start (simulated by a config naming a missing binary, or a bwrap
that cannot create its namespaces), the app says so and every command asks, even one on
the allow list; headless denies them unless --yes. `required` refuses to start; `off`
runs commands unconfined with a warning, and never allows workspace code by prefix."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from core.config import DEFAULT_ALLOW, ConfigError, parse_config
from core.events import ApprovalRequested
from core.sandbox import SandboxRequired, SandboxSettings, detect_runner
from core.tools.policy import HEADLESS_REFUSAL, CommandPolicy, runs_workspace_code
from tests.sandbox_support import agent_run, layout, needs_sandbox, settings_for
from tests.tui_support import live_app, sim_settings, wait_until
from tui.cli import main

MISSING = SandboxSettings(bwrap="/nonexistent/bwrap")


def test_missing_binary_means_no_sandbox(tmp_path: Path) -> None:
    runner = detect_runner(MISSING, tmp_path)
    assert runner.state == "unavailable" and not runner.confined
    assert "/nonexistent/bwrap" in runner.reason
    assert runner.argv("ls", tmp_path, tmp_path) == ["/bin/sh", "-c", "ls"]


def test_probe_really_runs_the_sandbox(tmp_path: Path) -> None:
    """A binary that answers --version but cannot start a sandbox is not trusted."""
    fake = tmp_path / "bwrap"
    fake.write_text(
        '#!/bin/sh\n[ "$1" = --version ] && echo "bubblewrap 9.9.9" && exit 0\n'
        'echo "bwrap: No permissions to create a new namespace" >&2; exit 1\n'
    )
    fake.chmod(fake.stat().st_mode | stat.S_IXUSR)
    runner = detect_runner(SandboxSettings(bwrap=str(fake)), tmp_path)
    assert runner.state == "unavailable"
    assert "No permissions to create a new namespace" in runner.reason


@needs_sandbox
def test_a_working_sandbox_is_found(tmp_path: Path) -> None:
    runner = detect_runner(SandboxSettings(), tmp_path.resolve())
    assert runner.confined and runner.bwrap is not None
    assert runner.bwrap.version >= (0, 4, 0)
    assert "bubblewrap" in runner.describe()


async def test_no_sandbox_headless_denies_even_allowed_commands(tmp_path: Path) -> None:
    ws, _ = layout(tmp_path)
    run = await agent_run(
        settings_for(ws, sandbox=MISSING),
        [("run_command", {"command": c}) for c in ("ls", "echo hi", "git status")],
    )
    assert run.outputs() == [HEADLESS_REFUSAL] * 3
    assert run.approvals() == []


async def test_no_sandbox_headless_yes_runs_them(tmp_path: Path) -> None:
    ws, _ = layout(tmp_path)
    (ws / "here.txt").write_text("x")
    run = await agent_run(
        settings_for(ws, sandbox=MISSING, assume_yes=True), [("run_command", {"command": "ls"})]
    )
    assert "here.txt" in run.outputs()[0]


async def test_no_sandbox_interactive_asks_for_every_command(tmp_path: Path) -> None:
    ws, _ = layout(tmp_path)
    (ws / "here.txt").write_text("x")

    def asked(run: object) -> bool:
        return any(isinstance(e, ApprovalRequested) for e in run.events)  # type: ignore[attr-defined]

    settings = settings_for(ws, sandbox=MISSING)
    run = await agent_run(
        settings, [("run_command", {"command": "ls"})], interactive=True, until=asked
    )
    (request,) = run.approvals()
    assert request.command == "ls" and request.tool == "run_command"
    assert run.session.policy.explain("ls") == (
        "ask",
        "no sandbox could start, so every command needs approval",
    )


def test_policy_by_sandbox_state() -> None:
    inside = CommandPolicy("ask", DEFAULT_ALLOW, sandbox="sandboxed")
    off = CommandPolicy("ask", DEFAULT_ALLOW, sandbox="off")
    none = CommandPolicy("ask", DEFAULT_ALLOW, sandbox="unavailable")
    for command in ("python -m pytest -q", "git status", "git log -p", "pytest", "ls"):
        assert inside.decide(command) == "allow", command
        assert none.decide(command) == "ask", command
    for command in (
        "python -m pytest -q",
        "python3 -m py_compile x.py",
        "git status",
        "git diff",
        "pytest --junit-xml=out.xml",
        "make test",
        "npm test",
        "cat /etc/shadow",
        "ls -la /root",
        "ls ~",
        "cat ../secret",
        "cat $HOME/.ssh/id_rsa",
        "grep -r key --include=/x .",
        "find / -name '*.pem'",
    ):
        assert off.decide(command) == "ask", command
    for command in ("ls -la", "cat README.md", "grep -rn TODO src", "wc -l x.py"):
        assert off.decide(command) == "allow", command
    assert CommandPolicy("allow", sandbox="unavailable").decide("ls") == "allow"  # explicit
    assert CommandPolicy("ask", ["find"]).decide("find . -fprint0 /tmp/x") == "ask"


@pytest.mark.parametrize(
    ("command", "runs"),
    [
        ("python -m pytest", True),
        ("python3.12 x.py", True),
        ("pytest -q", True),
        ("git status", True),
        ("git --version", False),
        ("make", True),
        ("npm test", True),
        ("node x.js", True),
        ("cargo test", True),
        ("go test ./...", True),
        ("tox", True),
        ("./run.sh", True),
        ("bin/tool --x", True),
        ("FOO=1 python x.py", True),
        ("sudo ls", False),
        ("env python x.py", True),
        ("ls -la", False),
        ("cat x.py", False),
        ("grep -r foo .", False),
        ("echo hi; python x.py", True),
    ],
)
def test_runs_workspace_code(command: str, runs: bool) -> None:
    assert runs_workspace_code(command) is runs


def test_config_sandbox_table() -> None:
    s = parse_config(
        {
            "sandbox": {"mode": "required", "env": ["FOO"], "network": True, "max_file_mb": 5},
            "roles": {"research": {"network": False}},
        }
    )
    assert s.sandbox.mode == "required" and s.sandbox.env == ("FOO",)
    assert s.sandbox.network and s.sandbox.max_file_mb == 5
    assert s.roles["research"].network is False and s.roles["coding"].network is None
    for bad, key in (
        ({"mode": "sometimes"}, "sandbox.mode"),
        ({"colour": 1}, "sandbox.colour"),
        ({"env": ["A=B"]}, "sandbox.env"),
        ({"max_processes": 0}, "sandbox.max_processes"),
        ({"network": "yes"}, "sandbox.network"),
    ):
        with pytest.raises(ConfigError) as err:
            parse_config({"sandbox": bad})
        assert err.value.key == key


def _cli(tmp_path: Path, config: str, *extra: str) -> list[str]:
    path = tmp_path / "config.toml"
    path.write_text(config)
    ws = tmp_path / "ws"
    ws.mkdir(exist_ok=True)
    return [
        "run",
        "List the files",
        "--simulate",
        "--json",
        "--quiet",
        "--config",
        str(path),
        "--db",
        str(tmp_path / "runs.db"),
        "--workspace",
        str(ws),
        *extra,
    ]


def test_required_mode_refuses_to_start(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = '[sandbox]\nmode = "required"\nbwrap = "/nonexistent/bwrap"\n'
    assert main(_cli(tmp_path, config)) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err.count("\n") == 1 and "Traceback" not in err
    assert err.startswith('delegate: sandbox: [sandbox] mode = "required"')
    assert not (tmp_path / "runs.db").exists()  # nothing started


def test_unavailable_and_off_say_so_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # 0 done, 1 unverified or failed: never 2, the run itself went ahead.
    assert main(_cli(tmp_path, '[sandbox]\nbwrap = "/nonexistent/bwrap"\n')) in (0, 1)
    out, err = capsys.readouterr()
    assert json.loads(out)["status"] in ("done", "unverified", "failed")
    lines = [ln for ln in err.splitlines() if "sandbox" in ln]
    assert len(lines) == 1 and "every command asks" in lines[0]
    assert main(_cli(tmp_path, '[sandbox]\nmode = "off"\n')) in (0, 1)
    _, err = capsys.readouterr()
    lines = [ln for ln in err.splitlines() if "sandbox" in ln]
    assert len(lines) == 1 and 'mode = "off"' in lines[0]


def test_required_mode_raises_in_the_core(tmp_path: Path) -> None:
    with pytest.raises(SandboxRequired):
        detect_runner(SandboxSettings(mode="required", bwrap="/nonexistent/bwrap"), tmp_path)


@pytest.mark.parametrize(
    ("sandbox", "badge"),
    [(MISSING, "no sandbox: every command asks"), (SandboxSettings(mode="off"), "sandbox off")],
)
async def test_tui_header_shows_the_badge(
    tmp_path: Path, sandbox: SandboxSettings, badge: str
) -> None:
    app, _ = live_app(sim_settings(tmp_path, sandbox=sandbox), "hello")
    async with app.run_test(size=(160, 48)) as pilot:
        header = app.screen.query_one("#run-header")
        await wait_until(pilot, lambda: badge in str(header.render()))
        await app.close_session()
