"""The attacks of issue 11 through a real agent turn, with the shipped defaults (ask mode,
the default allow list, headless, no --yes): the model writes the workspace code, then
runs an allowed command that executes it. In the sandbox the command runs (the allowed
prefix still works) and the code really runs, but nothing outside the workspace changes
and nothing secret from outside can be read."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from core.sandbox import detect_runner
from tests.sandbox_support import agent_run, layout, needs_sandbox, settings_for, snapshot

pytestmark = needs_sandbox


def _payload(target: Path, proof: str) -> str:
    """Python that writes `target` (outside) and, to prove it ran, `proof` in the cwd."""
    return (
        "import os\n"
        f"open({proof!r}, 'w').write('ran')\n"
        f"os.makedirs({str(target.parent)!r}, exist_ok=True)\n"
        f"open({str(target)!r}, 'w').write('pwned')\n"
    )


def _shell_payload(target: Path, proof: str) -> str:
    """Shell for a git config value (quoted there, so its `;` is not a comment)."""
    return f"echo ran > {proof}; mkdir -p {target.parent}; echo pwned > {target}"


def _git(ws: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@example.invalid", *args],
        cwd=ws,
        check=True,
        capture_output=True,
        env={"PATH": os.environ["PATH"], "HOME": str(ws.parent), "GIT_CONFIG_NOSYSTEM": "1"},
    )


async def _run(ws: Path, calls: list[tuple[str, dict[str, object]]]) -> list[str]:
    run = await agent_run(settings_for(ws), calls)
    outputs = run.outputs()
    assert len(outputs) == len(calls)
    assert run.approvals() == []  # headless: nothing waited for an operator
    return outputs


def _allowed_and_ran(output: str) -> None:
    assert "not allowed" not in output and "denied" not in output, output


async def test_conftest_run_by_pytest_stays_in_the_workspace(tmp_path: Path) -> None:
    ws, outside = layout(tmp_path)
    before = snapshot(outside)
    target = outside / "made-by-conftest"
    (ws / "test_ok.py").write_text("def test_ok():\n    assert True\n")
    outputs = await _run(
        ws,
        [
            ("write_file", {"path": "conftest.py", "content": _payload(target, "proof")}),
            ("run_command", {"command": "python -m pytest -q"}),
        ],
    )
    _allowed_and_ran(outputs[1])
    assert "1 passed" in outputs[1]
    assert (ws / "proof").read_text() == "ran"  # the conftest really ran...
    assert not target.exists()  # ...and could not write outside
    assert snapshot(outside) == before


async def test_git_fsmonitor_hook_stays_in_the_workspace(tmp_path: Path) -> None:
    ws, outside = layout(tmp_path)
    _git(ws, "init", "-q")
    before = snapshot(outside)
    target = outside / "made-by-fsmonitor"
    config = (ws / ".git" / "config").read_text()
    hook = _shell_payload(target, "proof")
    outputs = await _run(
        ws,
        [
            (
                "write_file",
                {"path": ".git/config", "content": f'{config}[core]\n\tfsmonitor = "{hook}"\n'},
            ),
            ("run_command", {"command": "git status"}),
        ],
    )
    _allowed_and_ran(outputs[1])
    assert (ws / "proof").read_text().strip() == "ran"
    assert not target.exists()
    assert snapshot(outside) == before


@pytest.mark.parametrize("command", ["git diff", "git log -p"])
async def test_gitattributes_diff_driver_stays_in_the_workspace(
    tmp_path: Path, command: str
) -> None:
    ws, outside = layout(tmp_path)
    (ws / "notes.txt").write_text("one\n")
    _git(ws, "init", "-q")
    _git(ws, "add", "notes.txt")
    _git(ws, "commit", "-q", "-m", "first")
    before = snapshot(outside)
    target = outside / "made-by-textconv"
    script = _shell_payload(target, "proof")
    config = (ws / ".git" / "config").read_text()
    outputs = await _run(
        ws,
        [
            ("write_file", {"path": ".gitattributes", "content": "*.txt diff=evil\n"}),
            (
                "write_file",
                {
                    "path": ".git/config",
                    "content": config + f'[diff "evil"]\n\ttextconv = "{script}; cat"\n',
                },
            ),
            ("write_file", {"path": "notes.txt", "content": "two\n"}),
            ("run_command", {"command": command}),
        ],
    )
    _allowed_and_ran(outputs[3])
    assert (ws / "proof").read_text().strip() == "ran"
    assert not target.exists()
    assert snapshot(outside) == before


async def test_shadowed_stdlib_module_stays_in_the_workspace(tmp_path: Path) -> None:
    ws, outside = layout(tmp_path)
    before = snapshot(outside)
    target = outside / "made-by-py-compile"
    outputs = await _run(
        ws,
        [
            ("write_file", {"path": "x.py", "content": "print(1)\n"}),
            ("write_file", {"path": "py_compile.py", "content": _payload(target, "proof")}),
            ("run_command", {"command": "python3 -m py_compile x.py"}),
        ],
    )
    _allowed_and_ran(outputs[2])
    assert (ws / "proof").read_text() == "ran"
    assert not target.exists()
    assert snapshot(outside) == before


async def test_reads_outside_find_nothing(tmp_path: Path) -> None:
    ws, outside = layout(tmp_path)
    outputs = await _run(
        ws,
        [
            ("run_command", {"command": "cat /etc/shadow"}),
            ("run_command", {"command": "ls -la /root"}),
            ("run_command", {"command": "find / -name '*.pem'"}),
            ("run_command", {"command": f"cat {outside / 'secret.txt'}"}),
            ("run_command", {"command": "ls /etc/ssl"}),
            ("run_command", {"command": "grep -r PRIVATE /etc"}),
        ],
    )
    shadow, root, pems, secret, ssl, grep = outputs
    _allowed_and_ran(shadow)
    assert "No such file" in shadow and "root:" not in shadow
    # /root (or any home) holds only the empty parents of toolchain folders bound read-only.
    runner = detect_runner(settings_for(ws).sandbox, ws)
    assert runner.confined
    entries = [ln for ln in root.splitlines() if ln[:1] in "dl-" and not ln.startswith("--- ")]
    listed = {line.split()[-1] for line in entries}
    home = os.path.realpath(os.path.expanduser("~"))
    bound = {d for d in os.environ.get("PATH", "").split(":") if d.startswith(home + "/")}
    allowed = {".", ".."} | {p[len(home) + 1 :].split("/")[0] for p in bound}
    for prefix in (sys.prefix, sys.base_prefix):
        if os.path.realpath(prefix).startswith(home + "/"):
            allowed.add(os.path.realpath(prefix)[len(home) + 1 :].split("/")[0])
    if home == "/root":
        assert listed <= allowed, listed - allowed
    assert "OUTSIDE-PRIVATE-KEY" not in "".join(outputs)
    assert str(outside) not in pems
    assert "outside-secret" not in secret and "No such file" in secret
    assert "private" not in ssl.split()
    assert "BEGIN PRIVATE KEY" not in grep


@pytest.mark.parametrize(
    "template",
    [
        "find . -fprint0 {target}",
        "python -m pytest -q --junit-xml={target}",
        "pytest -q --junit-xml={target}",
    ],
)
async def test_writes_outside_change_nothing(tmp_path: Path, template: str) -> None:
    ws, outside = layout(tmp_path)
    (ws / "test_ok.py").write_text("def test_ok():\n    assert True\n")
    before = snapshot(outside)
    target = outside / "sub" / "written.xml"
    outputs = await _run(ws, [("run_command", {"command": template.format(target=target)})])
    if template.startswith("find"):  # a writing find option is never allowed by prefix
        assert "not allowed in a headless run" in outputs[0]
    else:
        _allowed_and_ran(outputs[0])
        assert "1 passed" in outputs[0]
    assert not target.exists()
    assert snapshot(outside) == before


async def test_toolchain_and_root_are_read_only(tmp_path: Path) -> None:
    ws, outside = layout(tmp_path)
    before = snapshot(outside)
    victim = Path(sys.prefix) / "delegate-sandbox-probe"
    run = await agent_run(
        settings_for(ws, assume_yes=True),
        [
            ("write_file", {"path": "w.py", "content": _payload(victim, "proof")}),
            ("run_command", {"command": "python w.py"}),
            ("run_command", {"command": "touch /usr/x /etc/x /x /root/x"}),
        ],
    )
    outputs = run.outputs()
    assert outputs[2].count("Read-only file system") == 4
    assert "Read-only file system" in outputs[1]
    assert not victim.exists()
    assert snapshot(outside) == before
