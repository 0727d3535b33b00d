"""The Temporal runner is an extra: nothing else in core imports it, and without the SDK
`--runner temporal` says how to install it, in one line."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from core.config import ConfigError, parse_config
from tui.cli import main

CORE = Path(__file__).resolve().parent.parent / "core"


def _top_level_imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in tree.body:  # module level only: imports inside functions are lazy
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def test_no_core_module_outside_core_temporal_imports_it_at_import_time() -> None:
    offenders = []
    for path in CORE.rglob("*.py"):
        if "temporal" in path.relative_to(CORE).parts[:1]:
            continue
        for name in _top_level_imports(path):
            if name.split(".")[0] == "temporalio" or name.startswith("core.temporal"):
                offenders.append(f"{path.relative_to(CORE)}: {name}")
    assert offenders == []


def test_without_the_sdk_runner_temporal_is_one_line_with_the_install_command(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "temporalio", None)  # an import of it now fails
    argv = ["run", "a task", "--runner", "temporal", "--simulate", "--workspace", str(tmp_path)]
    code = main(argv)
    err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1 and "Traceback" not in err
    assert "pip install" in err and "delegate[temporal]" in err


def test_runner_section_of_the_config() -> None:
    s = parse_config({"runner": {"kind": "temporal", "temporal": "tq.example:7233"}})
    assert (s.runner, s.temporal_address) == ("temporal", "tq.example:7233")
    with pytest.raises(ConfigError, match=r"runner\.kind: must be local or temporal.*temporal\?"):
        parse_config({"runner": {"kind": "temporl"}})
    with pytest.raises(ConfigError, match=r"runner\.temporal: must be HOST:PORT"):
        parse_config({"runner": {"temporal": "nowhere"}})
    with pytest.raises(ConfigError, match=r"runner\.temporl: unknown key \(did you mean temporal"):
        parse_config({"runner": {"temporl": "x:1"}})


def test_an_unreachable_named_server_is_one_line_before_anything_runs(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    pytest.importorskip("temporalio", reason="the temporal extra is not installed")
    db = tmp_path / "runs.db"
    common = ["--simulate", "--workspace", str(tmp_path), "--db", str(db)]
    # --temporal alone means --runner temporal; port 1 on loopback refuses at once.
    assert main(["run", "a task", "--temporal", "127.0.0.1:1", *common]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "cannot reach Temporal at 127.0.0.1:1" in err
    assert main(["history", "--json", "--db", str(db)]) == 0
    assert capsys.readouterr().out.strip() == "[]"  # no run was recorded


def test_temporal_with_the_local_runner_is_a_usage_error(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    argv = ["run", "x", "--runner", "local", "--temporal", "127.0.0.1:7233", "--simulate"]
    assert main([*argv, "--workspace", str(tmp_path)]) == 2
    assert "--temporal names a server for --runner temporal" in capsys.readouterr().err
