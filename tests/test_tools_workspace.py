"""Path confinement: escape attempts are refused, paths inside the workspace resolve."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from core.tools.base import ToolError
from core.tools.workspace import display_path, resolve_in_workspace


@pytest.fixture
def layout(tmp_path: Path) -> Path:
    """A workspace next to an `outside` dir, with symlinks pointing out of it."""
    ws = tmp_path / "ws"
    outside = tmp_path / "outside"
    (ws / "src").mkdir(parents=True)
    outside.mkdir()
    (outside / "hostname").write_text("secret\n")
    (ws / "src" / "app.py").write_text("print(1)\n")
    os.symlink(outside / "hostname", ws / "link_file")
    os.symlink(outside, ws / "link_dir")
    os.symlink(outside / "missing", ws / "dangling")
    os.symlink(ws / "src" / "app.py", ws / "inner_link")
    return ws


ESCAPES = [
    "..",
    "../outside/hostname",
    "src/../../outside/hostname",
    "/etc/passwd",
    "/",
    "link_file",
    "link_dir",
    "link_dir/hostname",
    "link_dir/new/file.txt",
    "dangling",
    "~/x",
    "~",
    "~root/.ssh/id_rsa",
    "src/\x00evil",
]


@pytest.mark.parametrize("path", ESCAPES)
def test_escape_attempts_are_refused(layout: Path, path: str) -> None:
    with pytest.raises(ToolError) as info:
        resolve_in_workspace(layout, path)
    assert str(info.value)


def test_outside_message_is_clear(layout: Path) -> None:
    with pytest.raises(ToolError, match="outside the workspace"):
        resolve_in_workspace(layout, "../outside/hostname")


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("src/app.py", "src/app.py"),
        ("./src/../src/app.py", "src/app.py"),
        ("", "."),
        (".", "."),
        ("new/dir/file.txt", "new/dir/file.txt"),
        ("inner_link", "src/app.py"),
    ],
)
def test_paths_inside_resolve(layout: Path, path: str, expected: str) -> None:
    resolved = resolve_in_workspace(layout, path)
    assert display_path(layout, resolved) == expected


def test_absolute_path_inside_is_fine(layout: Path) -> None:
    inside = str(layout / "src" / "app.py")
    assert resolve_in_workspace(layout, inside) == (layout / "src" / "app.py").resolve()


def test_workspace_reached_through_a_symlink(tmp_path: Path, layout: Path) -> None:
    alias = tmp_path / "alias"
    os.symlink(layout, alias)
    resolved = resolve_in_workspace(alias, "src/app.py")
    assert resolved == (layout / "src" / "app.py").resolve()
    with pytest.raises(ToolError):
        resolve_in_workspace(alias, "../outside/hostname")
