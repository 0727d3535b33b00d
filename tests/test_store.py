"""The SQLite event store: round trips, projections, lookups, files, errors."""

from __future__ import annotations

import asyncio
import json
import os
import sqlite3
import stat
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from core import events as ev
from core.events import Event
from core.projections import process_token
from core.store import AmbiguousRunError, Store, StoreError

RUN = "20250101-120000-abcd"


def every_kind(run: str = RUN) -> list[Event]:
    """One event of every kind, in an order a run could produce them."""
    a = {"run_id": run, "agent_id": "coding-1"}
    return [
        ev.RunStarted(run_id=run, task="build it", workspace="/w", ceo_model="claude-opus-5-5",
                      simulated=True, max_concurrent=5, resumed_from=None),
        ev.AgentSpawned(run_id=run, agent_id="ceo", role="ceo", model="claude-opus-5-5",
                        task="build it"),
        ev.OperatorMessage(run_id=run, text="hi", queued=True, message_id="m1"),
        ev.AgentSpawned(**a, role="coding", model="claude-haiku-5-5", task="code", attempt=1,
                        timeout_s=900.0, context_window=1_000_000, note="n"),
        ev.AgentQueued(**a, position=2),
        ev.AgentStateChanged(**a, state="running", reason="slot free"),
        ev.TimeoutChanged(**a, timeout_s=1200.0, reason="operator"),
        ev.AgentStalled(**a, stalled=True, idle_s=120.5),
        ev.BudgetCrossed(**a, level="warn", unit="usd", spent=0.4, limit=0.5, attempt=1),
        ev.BudgetCrossed(run_id=run, level="spent", unit="tokens", spent=41_000, limit=40_000),
        ev.TurnStarted(**a, turn=1, model="claude-haiku-5-5"),
        ev.ThinkingDelta(**a, turn=1, text="hmm"),
        ev.TextDelta(**a, turn=1, text="héllo ✓"),
        ev.ApiRetry(**a, turn=1, try_number=1, delay_s=0.5, reason="overloaded"),
        ev.TurnEnded(**a, turn=1, stop_reason="tool_use", interrupted=False),
        ev.UsageUpdated(**a, attempt=1, input_tokens=10, output_tokens=9, cache_read_tokens=3,
                        cache_write_tokens=4, cost_usd=0.4, context_tokens=17, estimated=True),
        ev.UsageUpdated(**a, attempt=1, input_tokens=10, output_tokens=20, cache_read_tokens=3,
                        cache_write_tokens=4, cost_usd=0.5, context_tokens=17),
        ev.MessageAppended(**a, attempt=1, role="assistant",
                           content=[{"type": "text", "text": "x"},
                                    {"type": "tool_use", "id": "t1", "name": "run_command",
                                     "input": {"command": "ls"}}]),
        ev.ToolInputStreaming(**a, turn=1, tool_use_id="t1", name="run_command"),
        ev.ToolCallStarted(**a, tool_use_id="t1", name="run_command", input={"command": "ls"},
                           summary="ls"),
        ev.ApprovalRequested(**a, request_id="r1", tool="run_command", command="ls", cwd="/w"),
        ev.ApprovalResolved(**a, request_id="r1", decision="once"),
        ev.ToolCallFinished(**a, tool_use_id="t1", name="run_command", output="a\nb",
                            is_error=False, summary="2 lines"),
        ev.CommandRan(**a, attempt=1, tool="run_command", command="ls", exit_code=0,
                      duration_s=0.1, timed_out=False),
        ev.FileChanged(**a, attempt=1, tool="write_file", path="calc.py", bytes=12,
                       sha256_before=None, sha256_after="ab" * 32),
        ev.UrlFetched(**a, attempt=1, url="https://example.com/", status=200),
        ev.FileCollision(**a, path="calc.py", other_agent="coding-2", text="both wrote it"),
        ev.SteerQueued(**a, steer_id="s1", message="faster", interrupt=True, source="ceo"),
        ev.SteerDelivered(**a, steer_id="s1", turn=2),
        ev.Notice(run_id=run, level="warning", text="careful"),
        ev.CeoWaiting(run_id=run, agent_id="ceo", answered=True),
        ev.AgentStateChanged(**a, state="done"),
        ev.ClaimsFlagged(**a, attempt=1, claims=["claims tests passed; no test command ran"]),
        ev.AgentFinished(**a, state="done", result="ok", elapsed_s=3.5, attempt=1),
        ev.CommandRan(run_id=run, agent_id="ceo", attempt=1, tool="run_check",
                      command="python -m pytest -q", exit_code=0, duration_s=1.5),
        ev.RunFinished(run_id=run, status="done", result="all good", cost_usd=0.5,
                       verified=True),
    ]  # fmt: skip


def started(run: str, ts: float, task: str = "t") -> ev.RunStarted:
    return ev.RunStarted(run_id=run, ts=ts, task=task, workspace="/w", ceo_model="m",
                         simulated=False, max_concurrent=5)  # fmt: skip


def spawned(run: str, agent: str, attempt: int = 1, **kw: Any) -> ev.AgentSpawned:
    fields: dict[str, Any] = {"role": "coding", "model": "claude-haiku-5-5", "task": "code"}
    fields.update(kw)
    return ev.AgentSpawned(run_id=run, agent_id=agent, attempt=attempt, **fields)


def usage(run: str, agent: str, attempt: int, n: int, cost: float | None) -> ev.UsageUpdated:
    return ev.UsageUpdated(run_id=run, agent_id=agent, attempt=attempt, input_tokens=n,
                           output_tokens=2 * n, cache_read_tokens=3 * n,
                           cache_write_tokens=4 * n, cost_usd=cost)  # fmt: skip


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    s = await Store.open(tmp_path / "d.db")
    yield s
    await s.close()


async def test_every_event_kind_round_trips(store: Store) -> None:
    sample = every_kind()
    kinds = {type(e) for e in sample}
    assert kinds == set(_all_event_classes()), "a new event kind needs a round-trip case"
    for e in sample:
        store.append(e)
    await store.flush()
    assert await store.events(RUN) == sample
    chunked = [e async for e in store.iter_events(RUN, chunk=3)]
    assert chunked == sample


def _all_event_classes() -> list[type[Event]]:
    found, todo = [], list(Event.__subclasses__())
    while todo:
        cls = todo.pop()
        found.append(cls)
        todo.extend(cls.__subclasses__())
    return found


async def test_text_deltas_coalesce_per_agent_and_turn(store: Store) -> None:
    def text(agent: str, turn: int, s: str) -> ev.TextDelta:
        return ev.TextDelta(run_id=RUN, agent_id=agent, turn=turn, text=s)

    store.append(started(RUN, 1.0))
    sent = [
        text("a", 1, "Hel"), text("b", 1, "x"), text("a", 1, "lo "),
        ev.ThinkingDelta(run_id=RUN, agent_id="a", turn=1, text="think"),
        text("a", 1, "world"), text("b", 1, "y"), text("a", 2, "next"),
        ev.Notice(run_id=RUN, text="run-level events do not split an agent's text"),
        text("a", 2, " turn"),
        ev.TurnEnded(run_id=RUN, agent_id="b", turn=1, stop_reason="end_turn"),
        text("b", 1, "z"),
    ]  # fmt: skip
    for e in sent:
        store.append(e)
    await store.flush()
    stored = [e for e in await store.events(RUN) if isinstance(e, ev.TextDelta)]
    assert [(e.agent_id, e.turn, e.text) for e in stored] == [
        ("a", 1, "Hello "),
        ("b", 1, "xy"),
        ("a", 1, "world"),
        ("a", 2, "next turn"),
        ("b", 1, "z"),
    ]
    assert stored[0].ts == sent[0].ts  # the first delta's time
    for agent in ("a", "b"):  # replay shows the same text per agent
        want = "".join(e.text for e in sent if isinstance(e, ev.TextDelta) and e.agent_id == agent)
        assert "".join(e.text for e in stored if e.agent_id == agent) == want
    assert store.stats.written_events == len(sent) + 1
    assert store.stats.written_rows < store.stats.written_events


async def test_usage_is_summed_over_attempts_and_adds_up(store: Store) -> None:
    r = RUN
    for e in [
        started(r, 1.0),
        spawned(r, "ceo", role="ceo", model="claude-opus-5-5", task="lead"),
        ev.AgentStateChanged(run_id=r, agent_id="ceo", state="running"),
        usage(r, "ceo", 1, 100, 1.0),
        spawned(r, "coding-1", task="first try"),
        ev.AgentStateChanged(run_id=r, agent_id="coding-1", state="running"),
        usage(r, "coding-1", 1, 10, 0.1),
        usage(r, "coding-1", 1, 30, 0.3),  # cumulative: replaces 10
        ev.AgentStateChanged(run_id=r, agent_id="coding-1", state="failed"),
        ev.AgentFinished(run_id=r, agent_id="coding-1", state="failed", result="boom",
                         elapsed_s=2.0),
        spawned(r, "coding-1", attempt=2, model="claude-sonnet-5-5", task="second try"),
        ev.AgentStateChanged(run_id=r, agent_id="coding-1", state="running"),
        usage(r, "coding-1", 2, 5, 0.05),
        ev.AgentStateChanged(run_id=r, agent_id="coding-1", state="done"),
        ev.AgentFinished(run_id=r, agent_id="coding-1", state="done", result="fixed",
                         elapsed_s=1.5, attempt=2),
        spawned(r, "research-1", role="research"),  # never ran: no usage, cost 0
    ]:  # fmt: skip
        store.append(e)
    await store.flush()
    agents = await store.agents(r)
    assert [a.agent_id for a in agents] == ["ceo", "coding-1", "research-1"]
    ceo, coding, research = agents
    assert ceo.role == "ceo" and ceo.state == "running" and ceo.input_tokens == 100
    assert (coding.attempt, coding.model, coding.task) == (2, "claude-sonnet-5-5", "second try")
    assert (coding.state, coding.result, coding.elapsed_s) == ("done", "fixed", 1.5)
    assert (coding.input_tokens, coding.output_tokens) == (35, 70)
    assert (coding.cache_read_tokens, coding.cache_write_tokens) == (105, 140)
    assert coding.cost_usd == pytest.approx(0.35)
    assert research.cost_usd == 0.0 and research.state == "queued"
    run = await store.find_run(r)
    assert run is not None and run.agents == 3
    assert run.input_tokens == sum(a.input_tokens for a in agents) == 135
    assert run.cache_write_tokens == sum(a.cache_write_tokens for a in agents)
    assert run.cost_usd == pytest.approx(sum(a.cost_usd or 0 for a in agents))


async def test_unknown_cost_makes_agent_and_run_cost_none(store: Store) -> None:
    for e in [
        started(RUN, 1.0),
        spawned(RUN, "ceo", role="ceo"),
        usage(RUN, "ceo", 1, 10, 0.2),
        spawned(RUN, "x-1", model="some-unpriced-model"),
        usage(RUN, "x-1", 1, 10, None),
        spawned(RUN, "x-1", attempt=2),
        usage(RUN, "x-1", 2, 10, 0.1),  # a later priced attempt does not make it known
    ]:
        store.append(e)
    await store.flush()
    ceo, x = await store.agents(RUN)
    assert ceo.cost_usd == pytest.approx(0.2) and x.cost_usd is None
    assert x.input_tokens == 20
    summary = await store.run_summary(RUN)
    assert summary["cost_usd"] is None and summary["usage"]["input_tokens"] == 30


async def test_agent_status_transitions(store: Store) -> None:
    a = {"run_id": RUN, "agent_id": "data-1"}
    store.append(started(RUN, 1.0))
    store.append(spawned(RUN, "data-1", timeout_s=300.0))
    store.append(ev.AgentQueued(**a, position=3))
    await store.flush()
    (row,) = await store.agents(RUN)
    assert (row.state, row.queue_position, row.timeout_s) == ("queued", 3, 300.0)
    store.append(ev.AgentStateChanged(**a, ts=100.0, state="running"))
    store.append(ev.ToolCallStarted(**a, tool_use_id="t", name="run_command", input={}))
    store.append(ev.AgentStateChanged(**a, state="waiting_approval"))
    store.append(ev.TimeoutChanged(**a, timeout_s=600.0))
    await store.flush()
    (row,) = await store.agents(RUN)
    assert (row.state, row.queue_position, row.timeout_s) == ("waiting_approval", None, 600.0)
    assert row.last_tool == "run_command" and row.started_at == 100.0
    store.append(ev.ToolCallFinished(**a, tool_use_id="t", name="run_command", output="",
                                     summary="exit 0"))  # fmt: skip
    store.append(ev.AgentStateChanged(**a, ts=104.0, state="timed_out"))
    store.append(ev.AgentFinished(**a, ts=104.0, state="timed_out", result="partial",
                                  elapsed_s=4.0))  # fmt: skip
    await store.flush()
    (row,) = await store.agents(RUN)
    assert (row.state, row.result, row.elapsed_s) == ("timed_out", "partial", 4.0)
    assert (row.last_tool, row.finished_at) == ("exit 0", 104.0)


async def test_run_summary_has_the_cli_contract_fields(store: Store) -> None:
    for e in every_kind():
        store.append(e)
    await store.flush()
    s = await store.run_summary(RUN)
    assert {"run_id", "status", "result", "cost_usd", "usage", "agents", "verified",
            "checks"} <= set(s)  # fmt: skip
    assert (s["status"], s["result"], s["task"]) == ("done", "all good", "build it")
    assert "error" not in s  # only when the run did not end done/unverified
    assert s["verified"] is True
    assert s["checks"] == [
        {"command": "python -m pytest -q", "exit_code": 0, "after_last_change": True}
    ]
    assert set(s["usage"]) == {
        "input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens"
    }  # fmt: skip
    assert [a["id"] for a in s["agents"]] == ["ceo", "coding-1"]
    coding = s["agents"][1]
    assert set(coding) == {
        "id", "role", "model", "status", "attempt", "task", "input_tokens", "output_tokens",
        "cache_read_tokens", "cache_write_tokens", "cost_usd", "elapsed_s", "timeout_s",
        "evidence",
    }  # fmt: skip
    assert coding["evidence"] == {
        "attempt": 1,
        "files": [{"path": "calc.py", "tool": "write_file", "bytes": 12,
                   "sha256_before": None, "sha256_after": "ab" * 32}],
        "commands": [{"command": "ls", "tool": "run_command", "exit_code": 0,
                      "duration_s": 0.1, "timed_out": False}],
        "urls": [{"url": "https://example.com/", "status": 200}],
        "unsupported_claims": ["claims tests passed; no test command ran"],
    }  # fmt: skip
    assert (coding["status"], coding["timeout_s"], coding["elapsed_s"]) == ("done", 1200.0, 3.5)
    assert s["cost_usd"] == pytest.approx(0.5)
    with pytest.raises(StoreError, match="no run"):
        await store.run_summary("nope")


async def test_list_and_find_runs(store: Store) -> None:
    for run, ts in (("abc-1", 10.0), ("abd-2", 30.0), ("xyz-3", 20.0)):
        store.append(started(run, ts, task=run))
    await store.flush()
    assert [r.run_id for r in await store.list_runs()] == ["abd-2", "xyz-3", "abc-1"]
    assert [r.run_id for r in await store.list_runs(limit=1)] == ["abd-2"]
    for ref, want in (("abc-1", "abc-1"), ("abc", "abc-1"), ("x", "xyz-3"), ("last", "abd-2"),
                      ("latest", "abd-2")):  # fmt: skip
        found = await store.find_run(ref)
        assert found is not None and found.run_id == want, ref
    assert await store.find_run("nothing") is None
    assert await store.find_run("") is None
    with pytest.raises(AmbiguousRunError, match="ambiguous"):
        await store.find_run("ab")


async def test_find_last_in_an_empty_store(store: Store) -> None:
    assert await store.find_run("last") is None
    assert await store.list_runs() == []


async def test_conversation_is_rebuilt_per_attempt(store: Store) -> None:
    a = {"run_id": RUN, "agent_id": "coding-1"}

    def msg(attempt: int, role: str, text: str) -> ev.MessageAppended:
        content = [{"type": "text", "text": text}]
        return ev.MessageAppended(**a, attempt=attempt, role=role, content=content)  # type: ignore[arg-type]

    store.append(started(RUN, 1.0))
    store.append(spawned(RUN, "coding-1"))
    store.append(msg(1, "user", "task"))
    store.append(ev.TextDelta(**a, turn=1, text="noise"))
    store.append(msg(1, "assistant", "done?"))
    store.append(ev.MessageAppended(run_id=RUN, agent_id="ceo", attempt=1, role="user",
                                    content=[{"type": "text", "text": "other agent"}]))  # fmt: skip
    store.append(spawned(RUN, "coding-1", attempt=2))
    store.append(msg(2, "user", "task again"))
    await store.flush()

    def texts(conv: list[dict[str, Any]]) -> list[tuple[str, str]]:
        return [(m["role"], m["content"][0]["text"]) for m in conv]

    assert texts(await store.conversation(RUN, "coding-1", 1)) == [
        ("user", "task"), ("assistant", "done?")
    ]  # fmt: skip
    assert texts(await store.conversation(RUN, "coding-1")) == [("user", "task again")]
    assert await store.conversation(RUN, "nobody") == []


async def test_ten_thousand_appends_then_flush(store: Store) -> None:
    store.append(started(RUN, 1.0))
    for i in range(10_000):
        store.append(ev.ToolCallStarted(run_id=RUN, agent_id="ceo", tool_use_id=f"t{i}",
                                        name="read_file", input={"i": i}))  # fmt: skip
    assert store.stats.pending == 10_001  # nothing was written inline
    await store.flush()
    stats = store.stats
    assert (stats.written_events, stats.failed_events, stats.pending) == (10_001, 0, 0)
    assert 2 <= stats.batches <= 10
    got = await store.events(RUN)
    assert len(got) == 10_001
    assert [e.input["i"] for e in got[1:] if isinstance(e, ev.ToolCallStarted)] == list(
        range(10_000)
    )


async def test_flush_with_nothing_pending_and_close_twice(tmp_path: Path) -> None:
    s = await Store.open(tmp_path / "d.db")
    await s.flush()
    s.append(started(RUN, 1.0))
    await s.close()  # writes what is pending
    await s.close()
    with pytest.raises(StoreError, match="closed"):
        s.append(started(RUN, 2.0))
    s2 = await Store.open(tmp_path / "d.db")
    assert await s2.find_run(RUN) is not None
    await s2.close()


async def test_file_modes_are_owner_only(tmp_path: Path) -> None:
    path = tmp_path / "new" / "dir" / "d.db"
    s = await Store.open(path)
    s.append(started(RUN, 1.0))
    await s.flush()
    for f in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
        assert f.exists(), f
        assert stat.S_IMODE(f.stat().st_mode) == 0o600, f
    assert stat.S_IMODE(path.parent.stat().st_mode) & 0o077 == 0
    await s.close()


@pytest.mark.parametrize("damage", ["garbage", "bad_page"])
async def test_corrupt_file_raises_and_is_left_alone(tmp_path: Path, damage: str) -> None:
    path = tmp_path / "d.db"
    if damage == "garbage":
        path.write_bytes(b"this is not a database\n" * 300)
    else:
        s = await Store.open(path)
        s.append(started(RUN, 1.0))
        await s.close()
        data = bytearray(path.read_bytes())
        data[100:4096] = b"\xa5" * (4096 - 100)  # the schema page, header intact
        path.write_bytes(bytes(data))
    before = path.read_bytes()
    with pytest.raises(StoreError) as info:
        await Store.open(path)
    assert str(info.value) == f"database is corrupt: {path}"
    assert path.read_bytes() == before
    with pytest.raises(StoreError, match="corrupt"):
        await Store.open_readonly(path)
    assert path.read_bytes() == before


async def test_locked_database_raises(tmp_path: Path) -> None:
    path = tmp_path / "d.db"
    s = await Store.open(path)
    s.append(started(RUN, 1.0))
    await s.close()
    other = sqlite3.connect(path, isolation_level=None)
    try:
        other.execute("BEGIN EXCLUSIVE")
        with pytest.raises(StoreError) as info:
            await Store.open(path, busy_timeout_s=0.05)
        assert str(info.value) == f"database is locked by another process: {path}"
    finally:
        other.close()


async def test_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "d.db"
    await (await Store.open(path)).close()
    with sqlite3.connect(path) as db:
        db.execute("UPDATE meta SET value = '99' WHERE key = 'schema_version'")
    db.close()
    with pytest.raises(StoreError, match="newer"):
        await Store.open(path)


async def test_readonly_never_creates_and_reads(tmp_path: Path) -> None:
    path = tmp_path / "d.db"
    assert not Store.exists(path)
    with pytest.raises(StoreError, match="no database"):
        await Store.open_readonly(path)
    assert not path.exists()
    s = await Store.open(path)
    for e in every_kind():
        s.append(e)
    await s.flush()
    ro = await Store.open_readonly(path)  # alongside the writer, as `history` would
    try:
        assert Store.exists(path)
        assert [r.run_id for r in await ro.list_runs()] == [RUN]
        assert await ro.events(RUN) == await s.events(RUN)
        with pytest.raises(StoreError, match="read-only"):
            ro.append(started("x", 1.0))
        await ro.flush()
    finally:
        await ro.close()
        await s.close()


async def test_readonly_on_an_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "d.db"
    path.touch()
    ro = await Store.open_readonly(path)
    assert await ro.list_runs() == []
    assert await ro.find_run("last") is None
    assert await ro.events("x") == []
    await ro.close()


async def _set_owner(path: Path, run: str, pid: int) -> None:
    with sqlite3.connect(path) as db:
        db.execute("UPDATE runs SET pid = ?, pid_token = ? WHERE run_id = ?",
                   (pid, process_token(pid), run))  # fmt: skip
    db.close()


async def test_open_marks_runs_of_dead_processes_interrupted(tmp_path: Path) -> None:
    path = tmp_path / "d.db"
    s = await Store.open(path)
    for run in ("dead", "alive"):
        for e in [
            started(run, 1.0),
            spawned(run, "ceo", role="ceo"),
            ev.AgentStateChanged(run_id=run, agent_id="ceo", ts=10.0, state="running"),
            spawned(run, "w-1"),
            ev.AgentStateChanged(run_id=run, agent_id="w-1", state="done"),
            spawned(run, "w-2"),
            ev.Notice(run_id=run, ts=25.0, text="last thing before the crash"),
        ]:
            s.append(e)
    await s.close()  # no RunFinished: as if the process died
    await _set_owner(path, "alive", os.getppid())  # a live process owns this one

    s = await Store.open(path)
    try:
        dead = await s.find_run("dead")
        assert dead is not None and dead.status == "interrupted" and dead.finished_at == 25.0
        agents = {a.agent_id: a for a in await s.agents("dead")}
        assert {k: a.state for k, a in agents.items()} == {
            "ceo": "interrupted", "w-1": "done", "w-2": "interrupted"
        }  # fmt: skip
        assert agents["ceo"].elapsed_s == 15.0
        tail = (await s.events("dead"))[-5:]
        assert [e.kind for e in tail] == [
            "agent_state", "agent_finished", "agent_state", "agent_finished", "run_finished"
        ]  # fmt: skip
        alive = await s.find_run("alive")
        assert alive is not None and alive.status == "running"
        assert {a.state for a in await s.agents("alive")} == {"running", "done", "queued"}
    finally:
        await s.close()
    s = await Store.open(path)  # recovery happens once
    assert len(await s.events("dead")) == 12
    await s.close()


async def test_reads_show_a_run_of_a_vanished_process_as_interrupted(tmp_path: Path) -> None:
    path = tmp_path / "d.db"
    s = await Store.open(path)
    s.append(started(RUN, 1.0))
    s.append(spawned(RUN, "ceo", role="ceo"))
    await s.close()
    await _set_owner(path, RUN, 2**22 + 12345)  # above pid_max: no such process
    ro = await Store.open_readonly(path)
    try:
        run = await ro.find_run(RUN)
        assert run is not None and run.status == "interrupted"
        assert [a.state for a in await ro.agents(RUN)] == ["interrupted"]
    finally:
        await ro.close()


async def test_a_reopened_run_continues_its_sequence_and_sums(tmp_path: Path) -> None:
    path = tmp_path / "d.db"
    s = await Store.open(path)
    for e in [started(RUN, 1.0), spawned(RUN, "c-1"), usage(RUN, "c-1", 1, 10, 0.1)]:
        s.append(e)
    await s.close()
    s = await Store.open(path)  # a new process resumes the (now interrupted) run
    for e in [started(RUN, 50.0), spawned(RUN, "c-1", attempt=2), usage(RUN, "c-1", 2, 1, 0.01)]:
        s.append(e)
    await s.flush()
    (agent,) = await s.agents(RUN)
    assert (agent.attempt, agent.input_tokens, agent.state) == (2, 11, "queued")
    assert agent.cost_usd == pytest.approx(0.11)
    run = await s.find_run(RUN)
    assert run is not None and (run.status, run.created_at) == ("running", 1.0)
    assert [e.kind for e in await s.events(RUN)][-3:] == ["run_started", "agent_spawned", "usage"]
    await s.close()


async def test_a_failed_batch_is_retried_event_by_event(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "d.db"
    s = await Store.open(path)
    s.append(started(RUN, 1.0))
    await s.flush()
    other = sqlite3.connect(path, isolation_level=None)  # takes the next seq behind its back
    foreign = json.dumps(ev.Notice(run_id=RUN, text="foreign").to_dict())
    other.execute("INSERT INTO events VALUES (?, 2, 0, 'notice', NULL, ?)", (RUN, foreign))
    other.close()
    for i in range(3):
        s.append(ev.Notice(run_id=RUN, text=f"n{i}"))
    await s.flush()
    assert "cannot write a batch of 3 events" in caplog.text
    assert s.stats.failed_events == 0
    texts = [e.text for e in await s.events(RUN) if isinstance(e, ev.Notice)]
    assert texts == ["foreign", "n0", "n1", "n2"]
    await s.close()


async def test_a_locked_batch_waits_for_the_lock(tmp_path: Path) -> None:
    path = tmp_path / "d.db"
    s = await Store.open(path, busy_timeout_s=0.02)
    other = sqlite3.connect(path, isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")
        s.append(started(RUN, 1.0))
        flushing = asyncio.ensure_future(s.flush())
        with pytest.raises(TimeoutError):  # cannot finish while the lock is held
            await asyncio.wait_for(asyncio.shield(flushing), 0.2)
        other.execute("COMMIT")
        await asyncio.wait_for(flushing, 10)
    finally:
        other.close()
    assert await s.find_run(RUN) is not None and s.stats.failed_events == 0
    await s.close()


async def test_ceo_is_listed_first_and_late_events_of_old_attempts_are_ignored(
    store: Store,
) -> None:
    a = {"run_id": RUN, "agent_id": "w-1"}
    for e in [
        started(RUN, 1.0),
        spawned(RUN, "w-1"),
        spawned(RUN, "w-2"),
        spawned(RUN, "ceo", role="ceo"),
        spawned(RUN, "w-1", attempt=2),
        ev.AgentStateChanged(**a, state="running"),
        ev.AgentFinished(**a, state="killed", result="old attempt", elapsed_s=9.0, attempt=1),
    ]:
        store.append(e)
    await store.flush()
    agents = await store.agents(RUN)
    assert [x.agent_id for x in agents] == ["ceo", "w-1", "w-2"]
    assert (agents[1].state, agents[1].result, agents[1].attempt) == ("running", None, 2)


def test_the_run_row_totals_are_the_projections_own_sums() -> None:
    """A run's row is saved with one pass over its agents (`run_totals`): the same cost
    float, token sums and estimate flag as the projection's three methods give."""
    from core.projections import AgentProjection, AttemptUsage, RunProjection
    from core.store_schema import run_totals

    run = RunProjection(RUN)
    for n in range(7):
        agent = AgentProjection(RUN, f"a-{n}", spawn_seq=n, spawned_at=0.0)
        for attempt in range(1, n % 3 + 2):
            agent.attempts[attempt] = AttemptUsage(
                input_tokens=n * 1000 + attempt, output_tokens=n + attempt * 7,
                cache_read_tokens=n * attempt, cache_write_tokens=attempt,
                cost_usd=0.1 * n + 0.07 * attempt + 1e-9 * n * attempt,
            )  # fmt: skip
        run.agents[agent.agent_id] = agent
    expected = (run.cost_usd(), run.tokens(), run.estimated())
    assert run_totals(run) == expected and expected[2] is False
    run.agents["a-4"].attempts[2].estimated = True
    run.agents["a-5"].attempts[1].cost_usd = None
    assert run_totals(run) == (None, run.tokens(), True)
    assert run_totals(RunProjection(RUN)) == (0.0, (0, 0, 0, 0), False)
