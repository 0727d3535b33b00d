"""The model scorecard (`delegate stats`): recorded runs folded per role and model."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

from core import events as ev
from core.events import Event
from core.scorecard import AttemptRecord, scorecard
from core.store import Store
from tests.store_support import record
from tui.cli import main
from tui.stats_cli import format_stats

HAIKU, SONNET, OPUS = "claude-haiku-5-5", "claude-sonnet-5-5", "claude-opus-5-5"


def attempt(
    run: str,
    agent: str,
    role: str,
    model: str,
    end: str | None,
    *,
    n: int = 1,
    cost: float | None = 0.01,
    elapsed: float = 10.0,
) -> list[Event]:
    """One attempt: spawned, its usage, and (unless `end` is None) how it ended."""
    a: dict[str, Any] = {"run_id": run, "agent_id": agent}
    out: list[Event] = [
        ev.AgentSpawned(**a, role=role, model=model, task="t", attempt=n),
        ev.AgentStateChanged(**a, state="running"),
        ev.UsageUpdated(**a, attempt=n, input_tokens=100, output_tokens=50, cache_read_tokens=0,
                        cache_write_tokens=0, cost_usd=cost),
    ]  # fmt: skip
    if end is not None:
        out.append(ev.AgentStateChanged(**a, state=end))  # type: ignore[arg-type]
        out.append(ev.AgentFinished(**a, state=end, result="r", elapsed_s=elapsed, attempt=n))  # type: ignore[arg-type]
    return out


def run(run_id: str, ts: float, status: str, *attempts: list[Event]) -> list[Event]:
    start = ev.RunStarted(run_id=run_id, ts=ts, task="t", workspace="/w", ceo_model=OPUS,
                          simulated=True, max_concurrent=5)  # fmt: skip
    body = [e for group in attempts for e in group]
    end = ev.RunFinished(run_id=run_id, status=status, result="", cost_usd=None)  # type: ignore[arg-type]
    return [start, *body, end]


RUNS: list[list[Event]] = [
    # verified: coding-1 failed once, its retry passed; research passed
    run("run-a", 1.0, "done",
        attempt("run-a", "ceo", "ceo", OPUS, "done", cost=0.5, elapsed=60),
        attempt("run-a", "coding-1", "coding", HAIKU, "failed", cost=0.01, elapsed=20),
        attempt("run-a", "coding-1", "coding", HAIKU, "done", n=2, cost=0.03, elapsed=40),
        attempt("run-a", "research-1", "research", HAIKU, "done", cost=0.02, elapsed=5)),
    # answered, not verified; the writer timed out
    run("run-b", 2.0, "unverified",
        attempt("run-b", "ceo", "ceo", OPUS, "done", cost=0.7, elapsed=90),
        attempt("run-b", "coding-1", "coding", HAIKU, "done", cost=0.05, elapsed=30),
        attempt("run-b", "writer-1", "writer", SONNET, "timed_out", cost=0.2, elapsed=180)),
    # the operator quit mid-run: no verdict for what was running
    run("run-c", 3.0, "cancelled",
        attempt("run-c", "ceo", "ceo", OPUS, "killed", cost=0.1, elapsed=15),
        attempt("run-c", "coding-1", "coding", HAIKU, "killed", cost=None, elapsed=7)),
    # retried on another model: haiku failed, sonnet passed
    run("run-d", 4.0, "done",
        attempt("run-d", "ceo", "ceo", OPUS, "done", cost=0.9, elapsed=120),
        attempt("run-d", "coding-1", "coding", HAIKU, "failed", cost=0.02, elapsed=50),
        attempt("run-d", "coding-1", "coding", SONNET, "done", n=2, cost=0.08, elapsed=70)),
]  # fmt: skip


@pytest.fixture
def stats_db(tmp_path: Path) -> Path:
    db = tmp_path / "runs.db"
    asyncio.run(record(db, *RUNS))
    return db


def _by_key(rows: list[Any]) -> dict[tuple[str, str], Any]:
    return {(r.role, r.model): r for r in rows}


async def test_attempt_records_from_a_database_of_several_runs(stats_db: Path) -> None:
    store = await Store.open_readonly(stats_db)
    try:
        records = await store.attempt_records()
        newest_two = await store.attempt_records(last_runs=2)
    finally:
        await store.close()
    assert len(records) == 12  # every attempt, earlier attempts of retried agents too
    retried = [r for r in records if r.run_id == "run-d" and r.agent_id == "coding-1"]
    assert [(r.attempt, r.model, r.state, r.latest) for r in retried] == [
        (1, HAIKU, "failed", False),
        (2, SONNET, "done", True),
    ]
    assert {r.run_id for r in newest_two} == {"run-c", "run-d"}
    rows = _by_key(scorecard(records))
    coding = rows[("coding", HAIKU)]
    # a-1 failed, a-2 passed, b unverified, c stopped (the operator quit), d-1 failed
    assert (coding.attempts, coding.passed, coding.unverified, coding.failed, coding.stopped) == (
        5, 1, 1, 2, 1,
    )  # fmt: skip
    assert coding.pass_rate == pytest.approx(1 / 4)
    assert coding.median_cost_usd == pytest.approx(0.025)  # of 0.01, 0.03, 0.05, 0.02 (c: ?)
    assert coding.median_time_s == pytest.approx(30.0)  # of 20, 40, 30, 7, 50
    assert coding.runs == 4
    assert rows[("coding", SONNET)].pass_rate == 1.0
    assert rows[("writer", SONNET)].failed == 1 and rows[("writer", SONNET)].pass_rate == 0.0
    ceo = rows[("ceo", OPUS)]
    assert (ceo.passed, ceo.unverified, ceo.stopped) == (2, 1, 1)
    assert ceo.median_time_s == pytest.approx(75.0)
    assert next(iter(scorecard(records))).role == "ceo"  # the CEO first


def test_outcomes_of_single_attempts() -> None:
    def rec(state: str | None, run_status: str, latest: bool = True) -> AttemptRecord:
        return AttemptRecord("r", "a", 1, "coding", HAIKU, 0.1, state, 1.0, latest, run_status)

    assert rec("done", "done").outcome == "passed"
    assert rec("done", "done", latest=False).outcome == "unverified"  # a retry replaced it
    assert rec("done", "unverified").outcome == "unverified"
    assert rec("done", "failed").outcome == "unverified"
    assert rec("timed_out", "done").outcome == "failed"
    assert rec("killed", "done").outcome == "failed"  # the CEO killed it
    assert rec("killed", "cancelled").outcome == "stopped"
    assert rec("interrupted", "interrupted").outcome == "stopped"
    assert rec("stopped", "cancelled").outcome == "stopped"
    assert rec(None, "running").outcome == "stopped"
    empty = scorecard([rec("interrupted", "interrupted")])[0]
    assert empty.pass_rate is None and empty.attempts == 1


def test_stats_json(stats_db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["stats", "--json", "--db", str(stats_db)]) == 0
    data = json.loads(capsys.readouterr().out)
    coding = next(d for d in data if (d["role"], d["model"]) == ("coding", HAIKU))
    assert coding["attempts"] == 5 and coding["pass_rate"] == 0.25
    assert coding["median_cost_usd"] == pytest.approx(0.025)
    assert set(coding) >= {"passed", "unverified", "failed", "stopped", "median_time_s", "runs"}
    assert main(["stats", "--json", "--limit", "1", "--db", str(stats_db)]) == 0
    assert {d["model"] for d in json.loads(capsys.readouterr().out)} == {OPUS, HAIKU, SONNET}


def test_stats_piped_is_tab_separated(stats_db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["stats", "--db", str(stats_db)]) == 0
    lines = capsys.readouterr().out.splitlines()
    rows = [line.split("\t") for line in lines]
    assert len(rows) == 5 and all(len(r) == 9 for r in rows)  # no header
    coding = next(r for r in rows if r[:2] == ["coding", HAIKU])
    assert coding[2:] == ["5", "1", "1", "2", "0.250", "0.025000", "30.0"]


def test_stats_on_a_terminal_is_aligned(stats_db: Path) -> None:
    async def rows() -> list[Any]:
        store = await Store.open_readonly(stats_db)
        try:
            return scorecard(await store.attempt_records())
        finally:
            await store.close()

    lines = format_stats(asyncio.run(rows()), tty=True, width=80)
    table = lines[: lines.index("")]
    assert table[0].split() == ["role", "model", "tries", "pass", "unver", "fail", "rate",
                                "cost", "time"]  # fmt: skip
    assert len(table) == 6 and "\t" not in "".join(lines)
    assert all(len(line) <= 80 for line in lines)  # the table and its legend fit 80 columns
    ends = {line.index("$") + len("$0.0000") for line in table[1:]}
    assert ends == {table[0].index("cost") + len("cost")}  # numbers right-aligned
    coding = next(line for line in table if line.startswith("coding") and HAIKU in line)
    assert coding.split()[2:] == ["5", "1", "1", "2", "25%", "$0.0250", "30.0s"]
    assert "stopped attempts left out" in " ".join(lines[len(table) :])


def test_stats_without_runs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["stats", "--json", "--db", str(tmp_path / "none.db")]) == 0
    assert json.loads(capsys.readouterr().out) == []
    assert not (tmp_path / "none.db").exists()
    assert main(["stats", "--db", str(tmp_path / "none.db")]) == 0
    assert "no runs yet" in capsys.readouterr().err


def test_stats_help_and_bad_limit(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["stats", "--help"])
    out = capsys.readouterr().out
    assert "--json" in out and "--limit" in out and "--db" in out and "pass rate" in out
    assert "--scenario" not in out and "--yes" not in out
    assert main(["stats", "--limit", "0"]) == 2
    assert "--limit must be at least 1" in capsys.readouterr().err


@pytest.mark.parametrize("size", [(80, 24), (100, 30), (160, 48)])
async def test_the_scorecard_screen_cuts_no_header(tmp_path: Path, size: tuple[int, int]) -> None:
    from textual.app import App
    from textual.widgets import DataTable

    from core.config import Settings
    from core.records import open_records
    from tui.screens.stats import StatsScreen

    db = tmp_path / "runs.db"
    await record(db, *RUNS)
    async with open_records(Settings(db_path=db), readonly=True) as records:
        app: App[None] = App()
        async with app.run_test(size=size) as pilot:
            screen = StatsScreen(records)
            await app.push_screen(screen)
            for _ in range(50):
                if screen.rows is not None:
                    break
                await pilot.pause(0.02)
            assert screen.rows
            await pilot.pause()
            table = screen.query_one(DataTable)
            # Every column, header included, ends inside the screen: nothing scrolls away.
            assert table.virtual_size.width <= size[0], (table.virtual_size, size)
            labels = [str(c.label) for c in table.columns.values()]
            assert labels[-1] in ("median time", "time")
