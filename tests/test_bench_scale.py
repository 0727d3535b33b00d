"""bench.scale's plumbing: the floor agents over real HTTP (bench.floor_reader) and in
process, the watched `delegate run`, the server's CPU read over a window, the report.
(No timing is asserted: the bench measures, the tests check what it measures with.)"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bench.floor_reader import FloorReadError, post_sse, split_url
from bench.scale import (
    AppWatch,
    FloorTurn,
    Meter,
    check_summary,
    cpu_share,
    floor_agent,
    http_post,
    inprocess_post,
    proc_cpu_s,
    report,
    run_app_http,
    run_config,
)
from core.simulator import Simulator, serve
from core.simulator.scenarios.load import LoadScenario

AGENTS = 2
# Fast enough for a test: 3 turns of ~17 tokens each, at 2000 tokens/s.
SCENARIO = {"agents": AGENTS, "tps": 2000.0, "seconds": 0.025}


def _sim() -> Simulator:
    return Simulator(LoadScenario(**SCENARIO), tokens_per_s=1e5, latency_s=0)  # type: ignore[arg-type]


@pytest.fixture
def server_in_thread() -> Iterator[str]:
    """The load scenario served on loopback from a loop of its own (the test's code may
    then run `delegate run`, which starts its own loop)."""
    loop = asyncio.new_event_loop()
    ready = threading.Event()
    box: dict[str, Any] = {}

    async def start() -> None:
        box["server"] = await serve(_sim())
        ready.set()

    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    asyncio.run_coroutine_threadsafe(start(), loop)
    assert ready.wait(10)
    try:
        yield box["server"].base_url
    finally:
        asyncio.run_coroutine_threadsafe(box["server"].close(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()


def test_split_url() -> None:
    assert split_url("http://127.0.0.1:8080") == ("127.0.0.1", 8080, "")
    assert split_url("http://127.0.0.1:8080/paced/10") == ("127.0.0.1", 8080, "/paced/10")


def _json_delta(text: str) -> dict[str, str]:
    return {"type": "input_json_delta", "partial_json": text}


def test_a_floor_turn_assembles_text_and_tool_input_and_counts_the_text() -> None:
    meter = Meter(1)
    meter.turn("a")
    turn = FloorTurn("a", meter)
    events: list[dict[str, Any]] = [
        {"type": "message_start", "message": {}},
        {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
        {"type": "content_block_delta", "delta": {"type": "text_delta", "text": "Hello, "}},
        {"type": "content_block_delta", "delta": {"type": "text_delta", "text": "world"}},
        {"type": "content_block_stop", "index": 0},
        {
            "type": "content_block_start",
            "index": 1,
            "content_block": {"type": "tool_use", "id": "toolu_1", "name": "list_files"},
        },
        {"type": "content_block_delta", "delta": _json_delta('{"pa')},
        {"type": "content_block_delta", "delta": _json_delta('th": "."}')},
        {"type": "message_delta", "delta": {"stop_reason": "tool_use"}, "usage": {}},
        {"type": "message_stop"},
    ]  # fmt: skip
    for event in events:
        turn.on_event(event)
    assert turn.stop == "tool_use"
    assert turn.content() == [
        {"type": "text", "text": "Hello, world"},
        {"type": "tool_use", "id": "toolu_1", "name": "list_files", "input": {"path": "."}},
    ]
    assert meter.deltas == 2
    assert meter.tokens == (7 + 3) // 4 + (5 + 3) // 4  # as the simulator paces them
    assert meter.turn_tokens["a"] == [meter.tokens]


async def _floor(post: Any) -> Meter:
    meter = Meter(AGENTS)
    async with asyncio.timeout(30):
        await asyncio.gather(*(floor_agent(post, i, meter) for i in range(AGENTS)))
    return meter


def _check_floor(meter: Meter) -> None:
    turns = LoadScenario(**SCENARIO).turns  # type: ignore[arg-type]
    assert sorted(meter.last) == ["floor-1", "floor-2"]  # every agent reported
    for agent in meter.last:
        # A turn per section, each after a tool call answered, then the report.
        assert len(meter.turn_tokens[agent]) == turns + 1
        assert all(tokens > 0 for tokens in meter.turn_tokens[agent])
    assert len(meter.steady) == 2
    assert len(meter.walls(SCENARIO["tps"])) == AGENTS


async def test_floor_agents_read_the_load_server_over_http() -> None:
    server = await serve(_sim())
    try:
        meter = await _floor(http_post(server.base_url))
    finally:
        await server.close()
    _check_floor(meter)


async def test_floor_agents_read_the_simulator_in_process_alike() -> None:
    _check_floor(await _floor(inprocess_post(_sim())))


async def test_the_floor_reader_says_what_the_server_refused() -> None:
    server = await serve(_sim())
    try:
        host, port, _ = split_url(server.base_url)
        body = json.dumps({"model": "x", "max_tokens": 1, "messages": []}).encode()
        with pytest.raises(FloorReadError, match="HTTP 401"):  # no key sent
            await post_sse(host, port, "/v1/messages", body, lambda _: None)
    finally:
        await server.close()


def test_delegate_run_is_watched_from_its_bus(
    server_in_thread: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The real `delegate run --quiet --json` against the server, as the bench's app child
    runs it: every agent seen from its first turn to its end, the window measured."""
    monkeypatch.setenv("ANTHROPIC_BASE_URL", server_in_thread)
    monkeypatch.setenv("ANTHROPIC_API_KEY", "bench-placeholder")
    result = run_app_http(AGENTS, SCENARIO["tps"])
    assert result["agents_finished"] == AGENTS
    assert result["window"][1] >= result["window"][0] > 0
    assert result["cpu_s"] >= 0 and result["lag_samples"] >= 0
    assert result["loop_runq_share"] >= 0
    assert result["wall_over_ideal_median"] is not None


def test_run_config_lets_n_agents_run_at_once(tmp_path: Path) -> None:
    from core.config import load_settings

    path = tmp_path / "config.toml"
    path.write_text(run_config(1000))
    settings = load_settings(path, explicit=True)
    assert settings.max_concurrent == 1000 and settings.max_agents == 1000
    assert settings.ceo_max_tokens >= 1000 * 60  # the one spawn reply of 1000 calls
    assert settings.budget_usd is None


def test_check_summary() -> None:
    done = {"status": "unverified", "agents": [{"id": "ceo"}, {"id": "a", "status": "done"}]}
    check_summary(json.dumps(done), 1, 1)  # the load run has nothing to verify: exit 1
    failed = {
        "status": "failed",
        "agents": [{"id": "ceo"}, {"id": "a", "status": "timed_out", "result": "too slow"}],
    }
    with pytest.raises(RuntimeError, match="0 of 1 agents done; a timed_out: too slow"):
        check_summary(json.dumps(failed), 1, 1)
    with pytest.raises(RuntimeError, match="without a summary"):
        check_summary("Traceback", 1, 1)


def test_an_app_watch_without_its_agents_says_so() -> None:
    watch = AppWatch(3)
    with pytest.raises(RuntimeError, match="0 of 3 agents started"):
        watch.result(50.0)


def test_cpu_share_reads_between_samples() -> None:
    samples = [(0.0, 0.0), (1.0, 0.5), (2.0, 1.5)]
    assert cpu_share(samples, 0.5, 1.5) == pytest.approx(0.75)
    assert cpu_share(samples, 0.0, 2.0) == pytest.approx(0.75)
    assert cpu_share(samples, 1.0, 2.0) == pytest.approx(1.0)
    assert cpu_share(samples, -1.0, 1.0) is None  # the window starts before the samples
    assert cpu_share(samples, 1.0, 3.0) is None
    assert cpu_share(samples, 1.0, 1.0) is None
    assert cpu_share([(0.0, 0.0)], 0.0, 0.0) is None


def test_proc_cpu_s_reads_utime_and_stime_past_any_command_name() -> None:
    import os

    tick = os.sysconf("SC_CLK_TCK")
    fields = ["S", *["0"] * 10, str(3 * tick), str(tick), *["0"] * 30]
    stat = "4242 (python (x) y) " + " ".join(fields)
    assert proc_cpu_s(stat) == pytest.approx(4.0)
    with open(f"/proc/{os.getpid()}/stat") as f:
        assert proc_cpu_s(f.read()) > 0


def _run(server: str, mode: str, **extra: Any) -> dict[str, Any]:
    base = {
        "agents": 1000, "server": server, "mode": mode, "cpu_share": 0.5, "cpu_s": 23.0,
        "tokens_per_event": 2.0, "steady_tokens_per_s": 40000, "ideal_tokens_per_s": 50000,
        "lag_p99_ms": 10.0, "lag_max_ms": 20.0, "rss_per_agent_kb": 100.0,
        "peak_rss_mb": 200.0, "wall_median_s": 12.0, "ideal_median_s": 11.5,
        "wall_over_ideal_median": 1.04, "wall_over_ideal_p99": 1.06,
    }  # fmt: skip
    return {**base, **extra}


def test_the_report_names_a_saturated_server_and_keeps_failed_runs() -> None:
    runs = [
        _run("http", "floor", server_cpu_share=0.95, loop_runq_share=0.314),
        _run("http", "app", cpu_share=1.0, server_cpu_share=0.4, gc_full=2, gc_full_max_ms=35.1),
        _run("inprocess", "floor"),
        {"agents": 1000, "server": "inprocess", "mode": "app", "error": "timed out"},
    ]
    text = report(runs, 50.0, (1.0, 0, 0), (2.0, 0, 0))
    assert "0.95 SATURATED" in text
    assert "The server was saturated in the floor run at 1000 agents" in text
    assert "saturated in the app run" not in text
    assert "1.00 (2.00x floor)" in text  # against the floor of the same server
    assert "(in process)" in text
    assert "2 / 35.1" in text  # the app's full collections in the window
    assert "0.314" in text  # the floor's loop waited that long for a core
    assert "2.00" in text  # 23 CPU s over the agents' ideal 11.5 s: two cores to keep pace
    assert "failed" in text
    assert "20000 / 25000" in text  # events/s against the ideal, per the floor's event
