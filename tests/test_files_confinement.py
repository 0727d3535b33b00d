"""File tools against an attacker who controls the model's tool calls AND can change the
workspace while the tools run (an agent's own commands, or a second agent): hard links to
outside files, files and parent folders swapped for symlinks between check and open, the
workspace folder itself replaced mid-run. Each attack is refused or finds nothing, and
nothing outside the workspace is read or changed.

The races use `renameat2(RENAME_EXCHANGE)`: two names swap atomically, so the path always
exists and is, at each instant, either the real thing or a symlink leading out.
"""

from __future__ import annotations

import ctypes
import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from core.tools.base import ToolContext, ToolResult, execute
from core.tools.registry import WORKER_TOOL_CLASSES, build_tools
from core.tools.workspace import openat2_available, use_openat2
from tests.scripted import allow_all
from tests.test_trust_tools import run_turn

SECRET = "outside-secret-2718"
TOOLS = build_tools(WORKER_TOOL_CLASSES)
RACE_TRIES = 2000
RENAME_EXCHANGE = 2
AT_FDCWD = -100


@pytest.fixture(params=["openat2", "walk"])
def resolver(request: pytest.FixtureRequest) -> Iterator[str]:
    """Every test runs with the kernel's openat2 and with the portable O_NOFOLLOW walk."""
    if request.param == "openat2" and not openat2_available():
        pytest.skip("this kernel has no openat2 (Linux < 5.6, or refused by seccomp)")
    use_openat2(request.param == "openat2")
    yield request.param
    use_openat2(True)


@pytest.fixture
def layout(tmp_path: Path, resolver: str) -> Path:
    ws = tmp_path / "ws"
    outside = tmp_path / "outside"
    (ws / "d").mkdir(parents=True)
    (outside / "d").mkdir(parents=True)
    (outside / "secret.txt").write_text(f"{SECRET}\n")
    (outside / "d" / "f").write_text(f"{SECRET}\n")
    (ws / "d" / "f").write_text("inside\n")
    (ws / "target").write_text("inside\n")
    return ws


def _snapshot(top: Path) -> dict[str, tuple[str, bytes | str]]:
    """Every entry under `top`: files with their bytes, symlinks with their target."""
    out: dict[str, tuple[str, bytes | str]] = {}
    for dirpath, dirnames, filenames in os.walk(top):
        for name in dirnames + filenames:
            p = Path(dirpath, name)
            rel = str(p.relative_to(top))
            if p.is_symlink():
                out[rel] = ("link", os.readlink(p))
            elif p.is_file():
                out[rel] = ("file", p.read_bytes())
            else:
                out[rel] = ("dir", "")
    return out


async def call(ctx: ToolContext, name: str, **args: object) -> ToolResult:
    return await execute(TOOLS, name, args, ctx)


def _ctx(ws: Path) -> ToolContext:
    return ToolContext(workspace=ws, agent_id="coding-1", authorize=allow_all)


# --- hard links -------------------------------------------------------------------


async def test_hard_link_to_an_outside_file_is_refused(layout: Path, tmp_path: Path) -> None:
    secret = tmp_path / "outside" / "secret.txt"
    os.link(secret, layout / "hl.txt")
    before = _snapshot(tmp_path / "outside")
    results, final, _ = await run_turn(
        layout,
        ("read_file", {"path": "hl.txt"}),
        ("write_file", {"path": "hl.txt", "content": "pwned"}),
        ("edit_file", {"path": "hl.txt", "old_text": SECRET, "new_text": "pwned"}),
        ("search_files", {"pattern": "outside-secret"}),
    )
    read, write, edit, search = results
    for res in (read, write, edit):
        assert res.get("is_error") is True, res
        assert "refused: hl.txt has 2 hard links" in res["content"]
        assert "a hard link could point outside the workspace" in res["content"]
        assert SECRET not in res["content"]
    assert search["content"].startswith("no matches")
    assert "skipped 1 files with more than one hard link" in search["content"]
    assert SECRET not in search["content"]
    assert final == "finished"
    assert _snapshot(tmp_path / "outside") == before
    assert secret.read_text() == f"{SECRET}\n" and os.stat(secret).st_nlink == 2


# --- symlinks and escapes ---------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("..", "escapes the workspace"),
        ("../outside/secret.txt", "escapes the workspace"),
        ("d/../../outside/secret.txt", "escapes the workspace"),
        ("ABS_OUTSIDE", "escapes the workspace"),
        ("/etc/passwd", "escapes the workspace"),
        ("link_file", "refused: link_file is a symlink"),
        ("link_dir/secret.txt", "refused: link_dir is a symlink"),
        ("d/link_parent/f", "refused: d/link_parent is a symlink"),
        ("inner_link", "refused: inner_link is a symlink"),
    ],
)
@pytest.mark.parametrize("tool", ["read_file", "write_file", "edit_file"])
async def test_escapes_and_symlinks_are_refused(
    layout: Path, tmp_path: Path, tool: str, path: str, message: str
) -> None:
    outside = tmp_path / "outside"
    os.symlink(outside / "secret.txt", layout / "link_file")
    os.symlink(outside, layout / "link_dir")
    os.symlink(outside / "d", layout / "d" / "link_parent")
    os.symlink("target", layout / "inner_link")  # even one that stays inside
    target = str(outside / "secret.txt") if path == "ABS_OUTSIDE" else path
    args: dict[str, Any] = {"path": target}
    if tool == "write_file":
        args["content"] = "pwned"
    elif tool == "edit_file":
        args.update(old_text="inside", new_text="pwned")
    before_out, before_ws = _snapshot(outside), _snapshot(layout)
    results, final, _ = await run_turn(layout, (tool, args))
    (res,) = results
    assert res.get("is_error") is True, res
    assert message in res["content"], res["content"]
    assert SECRET not in res["content"]
    assert final == "finished"
    assert _snapshot(outside) == before_out
    assert _snapshot(layout) == before_ws


# --- races ------------------------------------------------------------------------


_libc = ctypes.CDLL(None, use_errno=True)


def _exchange(a: bytes, b: bytes) -> None:
    if _libc.renameat2(AT_FDCWD, a, AT_FDCWD, b, RENAME_EXCHANGE) != 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err))


class Swapper(threading.Thread):
    """Swaps `real` and `link` (a symlink leading out) as fast as it can. If a write
    replaced the symlink with a plain file, puts a fresh symlink back, so the race
    stays a race."""

    def __init__(self, real: Path, link: Path, link_to: Path) -> None:
        super().__init__(daemon=True)
        self.real, self.link, self.link_to = real, link, link_to
        self.stop = threading.Event()
        self.swaps = 0
        self.error: BaseException | None = None

    def run(self) -> None:
        a, b = os.fsencode(self.real), os.fsencode(self.link)
        try:
            while not self.stop.is_set():
                _exchange(a, b)
                self.swaps += 1
                if self.swaps % 8 == 0 and not (self.real.is_symlink() or self.link.is_symlink()):
                    spare = self.link.with_name(".spare")
                    os.symlink(self.link_to, spare)
                    os.replace(spare, self.link)
        except BaseException as exc:  # reported by the test
            self.error = exc


@dataclass
class Tally:
    tries: int = 0
    inside: int = 0
    refused: int = 0
    leaked: int = 0
    other: int = 0
    samples: list[str] = field(default_factory=list)

    def odd(self, text: str) -> None:
        self.other += 1
        if len(self.samples) < 3:
            self.samples.append(text)


def _start_race(real: Path, link_to: Path) -> Swapper:
    link = real.with_name(f".{real.name}-swap")
    os.symlink(link_to, link)
    try:  # one swap there and back: can this filesystem exchange names atomically?
        _exchange(os.fsencode(real), os.fsencode(link))
        _exchange(os.fsencode(real), os.fsencode(link))
    except (OSError, AttributeError) as exc:
        pytest.skip(f"renameat2(RENAME_EXCHANGE) is not available here: {exc}")
    swapper = Swapper(real, link, link_to)
    swapper.start()
    return swapper


def _stop(swapper: Swapper) -> None:
    swapper.stop.set()
    swapper.join(5)
    assert swapper.error is None, swapper.error
    assert swapper.swaps > 100, swapper.swaps  # it really raced


async def _race_reads(ctx: ToolContext, path: str) -> Tally:
    tally = Tally()
    for _ in range(RACE_TRIES):
        res = await call(ctx, "read_file", path=path)
        tally.tries += 1
        if SECRET in res.text:
            tally.leaked += 1
        elif not res.is_error and res.text == "inside":
            tally.inside += 1
        elif res.is_error and res.text.startswith("refused: "):
            tally.refused += 1
        else:
            tally.odd(res.text)
    return tally


async def _race_writes(ctx: ToolContext, path: str, watched: Path) -> Tally:
    tally = Tally()
    for i in range(RACE_TRIES):
        res = await call(ctx, "write_file", path=path, content=f"mine {i}\n")
        tally.tries += 1
        if watched.read_text() != f"{SECRET}\n":  # the write went through the link
            tally.leaked += 1
            watched.write_text(f"{SECRET}\n")
        elif not res.is_error:
            tally.inside += 1
        elif res.text.startswith("refused: "):
            tally.refused += 1
        else:
            tally.odd(res.text)
    return tally


def _check(tally: Tally) -> None:
    assert tally.leaked == 0, f"{tally.leaked} of {tally.tries} got through: {tally}"
    # Both sides of the race were seen: the test raced, and the tools still worked.
    assert tally.inside > 0 and tally.refused > 0, tally
    assert not tally.other, tally


@pytest.mark.parametrize("op", ["read", "write"])
async def test_file_swapped_for_a_symlink_races_nothing_through(
    layout: Path, tmp_path: Path, op: str
) -> None:
    outside = tmp_path / "outside"
    before = _snapshot(outside)
    ctx = _ctx(layout)
    swapper = _start_race(layout / "target", outside / "secret.txt")
    try:
        if op == "read":
            tally = await _race_reads(ctx, "target")
        else:
            tally = await _race_writes(ctx, "target", outside / "secret.txt")
    finally:
        _stop(swapper)
    _check(tally)
    assert _snapshot(outside) == before


@pytest.mark.parametrize("op", ["read", "write"])
async def test_parent_swapped_for_a_symlink_races_nothing_through(
    layout: Path, tmp_path: Path, op: str
) -> None:
    outside = tmp_path / "outside"
    before = _snapshot(outside)
    ctx = _ctx(layout)
    swapper = _start_race(layout / "d", outside / "d")
    try:
        if op == "read":
            tally = await _race_reads(ctx, "d/f")
        else:
            tally = await _race_writes(ctx, "d/f", outside / "d" / "f")
    finally:
        _stop(swapper)
    _check(tally)
    assert _snapshot(outside) == before


async def test_race_through_a_real_agent_turn(layout: Path, tmp_path: Path) -> None:
    """The same race, the calls made by a model in one reply (run in parallel)."""
    outside = tmp_path / "outside"
    before = _snapshot(outside)
    swapper = _start_race(layout / "d", outside / "d")
    calls: list[tuple[str, Any]] = []
    for i in range(120):
        calls.append(("read_file", {"path": "d/f"}))
        calls.append(("write_file", {"path": "d/f", "content": f"agent {i}\n"}))
        calls.append(("edit_file", {"path": "d/f", "old_text": "agent", "new_text": "edited"}))
        calls.append(("list_files", {"path": "d"}))
        calls.append(("search_files", {"pattern": "outside-secret", "path": "d"}))
    try:
        results, final, _ = await run_turn(layout, *calls)
    finally:
        _stop(swapper)
    assert final == "finished"
    leaked = [r["content"] for r in results if SECRET in r["content"]]
    assert not leaked, leaked[:3]
    refused = sum(r["content"].startswith("refused: ") for r in results)
    fine = sum(not r.get("is_error") for r in results)
    assert refused > 0 and fine > 0, (refused, fine)
    assert _snapshot(outside) == before


# --- the workspace folder itself replaced mid-run ---------------------------------


@pytest.mark.parametrize("replacement", ["root", "other"])
async def test_workspace_replaced_mid_run_does_not_move_the_tools(
    layout: Path, tmp_path: Path, replacement: str
) -> None:
    """Between two model turns the workspace folder is moved away and a symlink (to `/`,
    or to a folder holding a secret) put in its place: the tools keep acting on the
    directory they opened at the start."""
    from core.agent import Agent
    from core.bus import EventBus
    from core.catalog import Catalog
    from core.llm import TurnRequest, TurnResult, TurnSink
    from tests.scripted import ScriptedModel, text
    from tests.test_trust_tools import _calls

    moved = tmp_path / "ws-moved"
    decoy = tmp_path / "outside"
    (layout / "a.txt").write_text("original\n")
    (decoy / "a.txt").write_text(f"{SECRET}\n")
    swapped_to = Path("/") if replacement == "root" else decoy
    planted_rel = f"tmp/delegate-planted-{os.getpid()}-{id(layout)}.txt"
    planted_at_root = Path("/", planted_rel)
    assert not planted_at_root.exists()
    second_calls = [
        ("read_file", {"path": "a.txt"}),
        ("read_file", {"path": "etc/hostname"}),
        ("read_file", {"path": "secret.txt"}),
        ("write_file", {"path": "new.txt", "content": "written after the swap\n"}),
        ("write_file", {"path": planted_rel, "content": "x"}),
        ("read_file", {"path": str(layout / "a.txt")}),  # absolute, by the old name
    ]
    # (On `/`, a search would walk the whole machine had the tools moved: search the decoy.)
    where = "etc" if replacement == "root" else "."
    third_calls = [("list_files", {}), ("search_files", {"pattern": "2718|root:", "path": where})]

    async def script(request: TurnRequest, sink: TurnSink) -> TurnResult:
        turn = len(request.messages)
        if turn == 1:
            return _calls(("read_file", {"path": "a.txt"}))
        if turn == 3:
            os.rename(layout, moved)
            os.symlink(swapped_to, layout)
            return _calls(*second_calls)
        if turn == 5:
            return _calls(*third_calls)
        return text("finished")

    model = ScriptedModel(script)
    before_outside = _snapshot(decoy)
    agent = Agent(
        run_id="run-swap",
        agent_id="coding-1",
        role="coding",
        model="claude-haiku-5-5",
        system="You are a coding sub-agent.",
        tools=build_tools(WORKER_TOOL_CLASSES),
        ctx=_ctx(layout),
        client=model,  # type: ignore[arg-type]
        catalog=Catalog(),
        emit=EventBus().publish,
    )
    agent.start("do it")
    try:
        assert await agent.run() == "finished"
    finally:
        moved_to_root = planted_at_root.exists()
        planted_at_root.unlink(missing_ok=True)
    assert not moved_to_root, "a write landed in /tmp: the tools followed the swap to /"
    first = model.requests[1].messages[-1]["content"][0]["content"]
    assert first == "original"
    results = [r["content"] for r in model.requests[2].messages[-1]["content"]]
    read_a, hostname, secret, write_new, planted, absolute = results
    listing, search = (r["content"] for r in model.requests[3].messages[-1]["content"])
    assert read_a == "original" and absolute == "original"
    assert "not found" in hostname and "not found" in secret
    assert "wrote 23 bytes to new.txt" in write_new and "wrote 1 bytes" in planted
    assert (moved / "new.txt").read_text() == "written after the swap\n"
    assert (moved / planted_rel).exists()
    assert not (decoy / "new.txt").exists() and not (decoy / "tmp").exists()
    lines = listing.splitlines()
    assert "a.txt" in lines and "new.txt" in lines
    assert not any(line.startswith(("etc", "usr", "proc", "secret")) for line in lines)
    if where == "etc":
        assert search == "path not found: etc"
    else:
        assert search.startswith("no matches")
    assert SECRET not in "\n".join([*results, listing, search])
    assert _snapshot(decoy) == before_outside


def test_a_session_pins_one_root_for_all_its_agents(tmp_path: Path) -> None:
    from core.config import Settings
    from core.session import Session

    ws = tmp_path / "ws"
    ws.mkdir()
    session = Session(Settings(workspace=ws, simulate=True))
    a, b = session._tool_context("coding-1"), session._tool_context("ceo")
    assert a.root is not None and a.root is b.root is session.root
    assert os.path.samestat(os.fstat(a.root.fd), os.stat(ws))


async def test_tools_still_work_normally(layout: Path, resolver: str) -> None:
    """The plain cases through both resolvers: nested create, replace, edit, list."""
    ctx = _ctx(layout)
    res = await call(ctx, "write_file", path="new/deep/er/x.txt", content="one\ntwo\n")
    assert res.text == "wrote 8 bytes to new/deep/er/x.txt (new file)"
    (write,) = res.writes
    assert write.path == "new/deep/er/x.txt" and write.created and write.bytes_written == 8
    os.chmod(layout / "target", 0o640)
    res = await call(ctx, "edit_file", path="target", old_text="inside", new_text="changed")
    assert not res.is_error and (layout / "target").read_text() == "changed\n"
    assert (layout / "target").stat().st_mode & 0o777 == 0o640  # mode kept on replace
    (edit,) = res.writes
    assert edit.sha256_before != edit.sha256_after and not edit.created
    assert (await call(ctx, "read_file", path="new/deep/er/x.txt")).text == "one\ntwo"
    listing = (await call(ctx, "list_files")).text.splitlines()
    assert "new/deep/er/ [...]" in listing and "target" in listing
    assert not any(".delegate-write-" in line for line in listing)
    res = await call(ctx, "read_file", path="target/x")
    assert res.is_error and "target is not a directory" in res.text
    res = await call(ctx, "write_file", path="target/x", content="x")
    assert res.is_error and "target is not a directory" in res.text
