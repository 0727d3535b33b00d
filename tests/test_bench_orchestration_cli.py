"""bench.orchestration's `--via cli` plumbing: its loopback server through the real SDK, the
log it keeps of each request, the floor's reply, the children's environment and summary.
(No timing is asserted: the bench measures, the tests check what it measures with.)"""

from __future__ import annotations

import asyncio
from pathlib import Path

import anthropic
import pytest

from bench.orchestration_cli import (
    FLOOR_TASK,
    Bench,
    FanOutWithFloor,
    Log,
    LoggedSimulator,
    child_env,
    summarize,
)
from core.simulator import serve

TOOL = {"name": "spawn_agent", "description": "d", "input_schema": {"type": "object"}}


async def test_server_answers_floor_and_ceo_and_logs_each_request(tmp_path: Path) -> None:
    log = Log()
    sim = LoggedSimulator(log, FanOutWithFloor(3), tokens_per_s=1e6, latency_s=30.0)
    server = await serve(sim)
    try:
        bench = Bench(server, log, tmp_path)
        client = anthropic.AsyncAnthropic(base_url=server.base_url, api_key="placeholder")
        # The floor's and the CEO's requests are answered at once though replies wait 30 s.
        async with client, asyncio.timeout(20):
            floor = await client.messages.create(
                model=bench.model,
                max_tokens=64,
                stream=True,
                messages=[{"role": "user", "content": FLOOR_TASK}],
            )
            async for _ in floor:
                pass
            ceo = await client.messages.create(
                model=bench.model,
                max_tokens=4096,
                tools=[TOOL],  # type: ignore[list-item]
                messages=[{"role": "user", "content": "fan out"}],
            )
    finally:
        await server.close()
    spawns = [b for b in ceo.content if b.type == "tool_use" and b.name == "spawn_agent"]
    assert len(spawns) == 3  # the CEO spawns every agent in its first reply
    assert [(r.floor, r.ceo) for r in log.requests] == [(True, False), (False, True)]
    assert all(r.ended >= r.at > 0 for r in log.requests)
    log.clear()
    assert log.requests == []


def test_child_env_points_at_the_server_and_caches_compiled_modules(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PYTHONDONTWRITEBYTECODE", "1")
    monkeypatch.setenv("ANTHROPIC_AUTH_TOKEN", "from-the-shell")
    monkeypatch.setenv("DELEGATE_MAX_CONCURRENT", "2")
    env = child_env("http://127.0.0.1:9", tmp_path / "pyc")
    assert env["ANTHROPIC_BASE_URL"] == "http://127.0.0.1:9"
    assert env["ANTHROPIC_API_KEY"] == "bench-placeholder"
    assert env["PYTHONPYCACHEPREFIX"] == str(tmp_path / "pyc")
    for name in ("PYTHONDONTWRITEBYTECODE", "ANTHROPIC_AUTH_TOKEN", "DELEGATE_MAX_CONCURRENT"):
        assert name not in env


def test_summary_gives_min_median_max_efficiency_a_cap() -> None:
    def run(cap: int, eff: float) -> dict[str, object]:
        return {
            "agents": 20, "cap": cap, "efficiency": eff, "ideal_s": 3.0, "wall_s": 3.0 / eff,
            "startup_s": 1.2, "floor_startup_s": 1.0, "turns_over_s": 0.05, "tail_s": 0.03,
            "floor_s": 2.0, "floor_cpu_s": 1.0, "cpu_s": 1.3, "ceo_turns": 3,
        }  # fmt: skip

    rounds = [run(20, 0.97), run(5, 0.9), run(20, 0.93), run(5, 0.99), run(20, 0.95), run(5, 0.95)]
    rows = summarize({"rounds": rounds}, caps=(20, 5))
    assert [r[:2] for r in rows] == [[20, 20], [20, 5]]
    assert rows[0][5:8] == ["0.930", "0.950", "0.970"]
    assert rows[1][5:8] == ["0.900", "0.950", "0.990"]
    assert rows[0][8] == 200.0  # start-up over the floor's, in ms
