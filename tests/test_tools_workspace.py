"""Path confinement: escape attempts are refused, paths inside the workspace open."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from core.tools.base import ToolError
from core.tools.workspace import Workspace, openat2_available, use_openat2


@pytest.fixture(params=["openat2", "walk"], autouse=True)
def resolver(request: pytest.FixtureRequest) -> object:
    if request.param == "openat2" and not openat2_available():
        pytest.skip("this kernel has no openat2")
    use_openat2(request.param == "openat2")
    yield request.param
    use_openat2(True)


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
    "inner_link",  # a symlink is refused even when it stays inside
    "~/x",
    "~",
    "~root/.ssh/id_rsa",
    "src/\x00evil",
]


@pytest.mark.parametrize("path", ESCAPES)
def test_escape_attempts_are_refused(layout: Path, tmp_path: Path, path: str) -> None:
    ws = Workspace(layout)
    with pytest.raises(ToolError) as info:
        ws.open_any(ws.parts(path))
    assert str(info.value)
    with pytest.raises(ToolError):
        ws.write_bytes(ws.parts(path), b"pwned")
    assert (tmp_path / "outside" / "hostname").read_text() == "secret\n"
    assert sorted(p.name for p in (tmp_path / "outside").iterdir()) == ["hostname"]


def test_messages_are_clear(layout: Path) -> None:
    ws = Workspace(layout)
    with pytest.raises(ToolError, match=r"refused: path '\.\./outside/hostname' escapes the work"):
        ws.parts("../outside/hostname")
    with pytest.raises(ToolError, match="refused: link_dir is a symlink"):
        ws.open_file(ws.parts("link_dir/hostname"))
    with pytest.raises(ToolError, match="refused: link_dir is a symlink"):
        ws.write_bytes(ws.parts("link_dir/new/file.txt"), b"x")
    with pytest.raises(ToolError, match="refused: inner_link is a symlink"):
        ws.open_file(ws.parts("inner_link"))
    with pytest.raises(ToolError, match=r"file not found: src/nope\.py"):
        ws.open_file(ws.parts("src/nope.py"))


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("src/app.py", "src/app.py"),
        ("./src/../src/app.py", "src/app.py"),
        ("src//app.py", "src/app.py"),
        ("", "."),
        (".", "."),
        ("new/dir/file.txt", "new/dir/file.txt"),
    ],
)
def test_paths_inside_resolve(layout: Path, path: str, expected: str) -> None:
    assert Workspace(layout).display(path) == expected


def test_absolute_path_inside_is_fine(layout: Path) -> None:
    ws = Workspace(layout)
    inside = str(layout / "src" / "app.py")
    assert ws.parts(inside) == ("src", "app.py")
    f, _ = ws.open_file(ws.parts(inside))
    with f:
        assert f.read() == b"print(1)\n"


def test_workspace_reached_through_a_symlink(tmp_path: Path, layout: Path) -> None:
    alias = tmp_path / "alias"
    os.symlink(layout, alias)
    ws = Workspace(alias)
    assert ws.path == layout.resolve()
    assert ws.parts(str(alias / "src" / "app.py")) == ("src", "app.py")
    assert ws.parts(str(layout / "src" / "app.py")) == ("src", "app.py")
    with pytest.raises(ToolError):
        ws.parts("../outside/hostname")
    with pytest.raises(ToolError):
        ws.parts(str(tmp_path / "outside" / "hostname"))
