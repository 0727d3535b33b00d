"""UI under load: the real app headless, fed by the simulator's load scenario.

For each agent count, three fresh processes get the same stream (simulator -> SDK ->
agents -> bus -> store): `real` shows it in the delegate app, `plain` in the simplest
Textual app (one fixed-size Static per agent, updated in place), `bare` in no app at
all (the floor). Each reports loop lag, key-to-screen, CPU and memory over one window.
The simulator runs in the measured process, as `delegate --simulate` runs it; with
`--loopback-simulator` it serves from its own process over loopback HTTP instead, as a
real API would (the app then also pays for HTTP parsing, and not for the simulator).

    python -m bench.ui_load                      # 50 and 100 agents, 15 s windows
    python -m bench.ui_load --minutes 10 --modes real --agents 100   # memory over time

By default every agent's turns are equally long, so the agents (which start together)
end every turn together and the app has all their next requests to make at once: the
worst case. `--jitter 0.3` varies each turn's length by up to ±30%, as real replies vary.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.common import (
    CpuMeter,
    GcMeter,
    LagProbe,
    StallWatch,
    ms,
    parser,
    peak_rss_mb,
    percentile,
    rss_mb,
    run_child,
    table,
    write_json,
)

SIZE = (160, 48)
KEY_TIMEOUT_S = 10.0


def slope_mb_per_min(samples: list[tuple[float, float]]) -> float:
    """Least-squares slope of (seconds, MB) samples, in MB per minute."""
    if len(samples) < 3:
        return float("nan")
    n = len(samples)
    mt = sum(t for t, _ in samples) / n
    mr = sum(r for _, r in samples) / n
    var = sum((t - mt) ** 2 for t, _ in samples)
    cov = sum((t - mt) * (r - mr) for t, r in samples)
    return round(cov / var * 60, 2) if var else float("nan")


class KeyDriver:
    """Presses keys at random intervals: focus moves (down/up across the grid) and the modal."""

    def __init__(self, app: Any, real: bool) -> None:
        self.app = app
        self.real = real
        self.focus: list[float] = []
        self.modal: list[float] = []
        self.timeouts = 0
        self.direction = "down"
        self.rng = random.Random(7)

    def _board(self) -> Any:
        from tui.widgets.agent_board import AgentBoard

        return self.app.screen.query_one(AgentBoard)

    def _modal_open(self) -> bool:
        if self.real:
            from tui.screens.steer import SteerScreen

            return isinstance(self.app.screen, SteerScreen)
        from bench.apps import PlainModal

        return isinstance(self.app.screen, PlainModal)

    async def _measure(self, key: str, shown: Any, into: list[float]) -> None:
        try:
            into.append(await self.app.key_to_screen(key, shown, KEY_TIMEOUT_S))
        except TimeoutError:
            self.timeouts += 1
            into.append(KEY_TIMEOUT_S)

    async def step(self, n: int) -> None:
        if n % 8 == 7:
            await self._measure("s", self._modal_open, self.modal)
            await asyncio.sleep(0.1)
            await self._measure("escape", lambda: not self._modal_open(), [])
            return
        if self.real:
            board = self._board()
            order, columns = board.order, board.columns
            selected = board.selected
        else:
            order, columns = list(self.app.panes), 2
            focused = self.app.focused
            selected = getattr(focused, "agent_id", None)
        if selected not in order:
            self._focus(order[0])
            return
        i = order.index(selected)
        step = columns if self.direction == "down" else -columns
        if not 0 <= i + step < len(order):
            self.direction = "up" if self.direction == "down" else "down"
            step = -step
        target = order[i + step]
        await self._measure(self.direction, lambda: self._shows_focus(target), self.focus)

    def _focus(self, agent_id: str) -> None:
        if self.real:
            self._board().focus_agent(agent_id)
        else:
            self.app.panes[agent_id].focus()

    def _shows_focus(self, agent_id: str) -> bool:
        """The focused pane is the one showing `agent_id` (a slot, in the real app)."""
        return getattr(self.app.focused, "agent_id", None) == agent_id

    async def run(self, seconds: float) -> None:
        end = time.perf_counter() + seconds
        n = 0
        while time.perf_counter() < end:
            await asyncio.sleep(self.rng.uniform(0.15, 0.35))
            await self.step(n)
            n += 1

    def summary(self) -> dict[str, Any]:
        keys = self.focus + self.modal
        return {
            "key_p50_ms": ms(percentile(keys, 50)),
            "key_p99_ms": ms(percentile(keys, 99)),
            "focus_p50_ms": ms(percentile(self.focus, 50)),
            "focus_p99_ms": ms(percentile(self.focus, 99)),
            "modal_p50_ms": ms(percentile(self.modal, 50)),
            "modal_p99_ms": ms(percentile(self.modal, 99)),
            "keys": len(keys),
            "key_timeouts": self.timeouts,
        }


def conversation_mb(session: Any) -> float:
    """MB of JSON that the agents' conversations hold now: what every next request resends.

    It grows with output by design (the API is stateless), bounded by each agent's context
    window; the RSS slope is read against it.
    """
    total = 0
    for record in session.supervisor.records.values():
        agent = getattr(record.handle, "agent", None)  # a LocalRunner's attempt
        if agent is not None:
            total += len(json.dumps(agent.messages))
    return total / 1e6


async def _wait(cond: Any, timeout: float, what: str) -> None:  # noqa: ASYNC109
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


def start_simulator(scenario: str) -> tuple[subprocess.Popen[str], str]:
    """`delegate simulator` on a free loopback port; returns the process and its URL."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "tui.cli", "simulator", "--port", "0", "--scenario", scenario],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stderr is not None
    line = proc.stderr.readline()
    match = re.search(r"http://127\.0\.0\.1:\d+", line)
    if not match:
        proc.kill()
        raise SystemExit(f"simulator did not start: {line!r}")
    return proc, match.group(0)


async def measure(
    mode: str,
    agents: int,
    tps: float,
    window: float,
    warmup: float,
    sample_s: float,
    loopback: bool = False,
    jitter: float = 0.0,
) -> dict[str, Any]:
    """One configuration in this process: start the run, warm up, measure one window."""
    from core.config import Settings
    from core.events import Event, TextDelta
    from core.session import Session
    from core.store import Store
    from tui.launch import tune_gc

    tune_gc()  # what `delegate` does at start-up; a process setting, so in every mode
    with tempfile.TemporaryDirectory(prefix="bench-ui-") as tmp:
        ws = Path(tmp) / "ws"
        ws.mkdir()
        (ws / "README.md").write_text("# workspace\n")
        scenario = f"load:agents={agents},tps={tps:g},seconds={warmup + window + 60:g}"
        if jitter:
            scenario += f",jitter={jitter:g}"
        settings = Settings().with_overrides(
            simulate=True,
            scenario=scenario,
            workspace=ws,
            max_concurrent=agents,
            # At 500 or 1000 agents: the run may have them all, the CEO's one spawn
            # reply (about 60 tokens an agent) fits its max_tokens, and the run's
            # default budget ($5) does not stop the spawns.
            max_agents=max(agents, Settings().max_agents),
            ceo_max_tokens=max(Settings().ceo_max_tokens, agents * 200),
            budget_usd=1e9,
        )
        simulator: subprocess.Popen[str] | None = None
        if loopback:
            # The model server in its own process, as a real API would be: the app's
            # process then does only the app's work (SDK, agents, store, UI).
            simulator, url = start_simulator(scenario)
            settings = settings.with_overrides(simulate=False, api_base_url=url)
            os.environ["ANTHROPIC_API_KEY"] = "bench-not-a-key"
        store = await Store.open(Path(tmp) / "runs.db")
        session = Session(settings, interactive=True)
        session.bus.subscribe(store.append)
        text_bytes = 0

        def count(event: Event) -> None:
            nonlocal text_bytes
            if isinstance(event, TextDelta):
                text_bytes += len(event.text)

        session.bus.subscribe(count)
        probe = LagProbe()
        probe.start()
        # Spawning and starting N agents (N requests at once) takes longer the larger N.
        start_timeout = 60 + agents * 0.15

        def streaming() -> bool:
            recs = session.supervisor.records.values()
            return sum(r.state == "running" for r in recs) >= agents

        async def window_run(app: Any | None) -> dict[str, Any]:
            await _wait(streaming, start_timeout, "all agents streaming")
            if app is not None and mode == "real":
                from tui.widgets.agent_board import AgentBoard

                await _wait(
                    lambda: len(app.screen.query_one(AgentBoard).order) >= agents,
                    start_timeout,
                    "panes",
                )
            await asyncio.sleep(warmup)
            probe.reset()
            events0, bytes0 = session.bus.published, text_bytes
            frames0 = getattr(app, "frames", 0)
            samples: list[tuple[float, float]] = []
            conversations0 = conversation_mb(session)
            t0 = time.perf_counter()

            async def sampler() -> None:
                while True:
                    samples.append((time.perf_counter() - t0, rss_mb()))
                    await asyncio.sleep(sample_s)

            sampling = asyncio.create_task(sampler())
            cpu = CpuMeter().start()
            gc_meter = GcMeter().start()
            stalls = StallWatch().start()
            driver = None
            if app is not None:
                driver = KeyDriver(app, real=mode == "real")
                await driver.run(window)
            else:
                await asyncio.sleep(window)
            used = cpu.stop()
            collections = gc_meter.stop()
            stall_stacks = stalls.stop()
            sampling.cancel()
            samples.append((time.perf_counter() - t0, rss_mb()))
            wall = used["wall_s"]
            conversations1 = conversation_mb(session)
            out: dict[str, Any] = {
                **used,
                **probe.summary(),
                **collections,
                **(driver.summary() if driver else {}),
                "events_per_s": round((session.bus.published - events0) / wall),
                "text_kb_per_s": round((text_bytes - bytes0) / wall / 1000, 1),
                "fps": round((getattr(app, "frames", 0) - frames0) / wall, 1),
                "rss_start_mb": round(samples[0][1], 1),
                "rss_end_mb": round(samples[-1][1], 1),
                "rss_slope_mb_per_min": slope_mb_per_min(samples),
                "rss_slope_last_half_mb_per_min": slope_mb_per_min(
                    [x for x in samples if x[0] >= samples[-1][0] / 2]
                ),
                "conversations_start_mb": round(conversations0, 1),
                "conversations_end_mb": round(conversations1, 1),
                "conversations_mb_per_min": round((conversations1 - conversations0) / wall * 60, 2),
                "rss_samples": [(round(t, 1), round(r, 1)) for t, r in samples],
                "stall_samples": sum(n for n, _ in stall_stacks),
                "stall_stacks": stall_stacks,
            }
            return out

        try:
            if mode == "bare":
                session.start("load")
                result = await window_run(None)
                await session.close()
            elif mode == "plain":
                from bench.apps import PlainApp

                plain = PlainApp(session.bus)
                async with plain.run_test(size=SIZE):
                    session.start("load")
                    await _wait(lambda: len(plain.panes) >= agents, start_timeout, "panes")
                    result = await window_run(plain)
                    await session.close()
            else:
                from bench.apps import BenchDelegateApp

                app = BenchDelegateApp(session=session, task="load", store=store, export_dir=ws)
                async with app.run_test(size=SIZE):
                    result = await window_run(app)
                    await app.close_session()
            await store.flush()
        finally:
            await probe.stop()
            await store.close()
            if simulator is not None:
                simulator.terminate()
                simulator.wait(10)
        result["peak_rss_mb"] = round(peak_rss_mb(), 1)
        result["store"] = {"written_events": store.stats.written_events}
        return result


TARGETS = (
    "targets: p99 key-to-screen < 100 ms (100 and 500 agents), p99 loop lag < 50 ms, "
    "RSS < 500 MB, real CPU <= 2x plain"
)


def main() -> None:
    p = parser(__doc__ or "")
    p.add_argument("--agents", default="50,100", help="comma-separated agent counts")
    p.add_argument("--tps", type=float, default=50.0, help="tokens/s per agent")
    p.add_argument("--window", type=float, default=15.0, help="measured seconds per run")
    p.add_argument("--warmup", type=float, default=3.0)
    p.add_argument("--minutes", type=float, help="one long window of this many minutes")
    p.add_argument("--modes", default="real,plain,bare", help="real, plain, bare")
    p.add_argument(
        "--loopback-simulator",
        action="store_true",
        help="serve the simulator from its own process over loopback HTTP",
    )
    p.add_argument(
        "--jitter",
        type=float,
        default=0.0,
        help="vary each turn's length by up to this fraction (default 0: lockstep turns)",
    )
    p.add_argument("--child-json", type=Path, help=argparse_hidden())
    p.add_argument("--mode", default="real", help=argparse_hidden())
    args = p.parse_args()
    window = args.minutes * 60 if args.minutes else args.window
    sample_s = 10.0 if args.minutes else 1.0
    if args.child_json:
        result = asyncio.run(
            measure(
                args.mode,
                int(args.agents),
                args.tps,
                window,
                args.warmup,
                sample_s,
                loopback=args.loopback_simulator,
                jitter=args.jitter,
            )
        )
        args.child_json.write_text(json.dumps(result))
        return
    runs: list[dict[str, Any]] = []
    for n in [int(a) for a in args.agents.split(",")]:
        for mode in args.modes.split(","):
            child_args = ["--mode", mode, "--agents", str(n), "--tps", f"{args.tps:g}"]
            child_args += ["--window", f"{window:g}", "--warmup", f"{args.warmup:g}"]
            if args.minutes:
                child_args += ["--minutes", f"{args.minutes:g}"]
            if args.loopback_simulator:
                child_args.append("--loopback-simulator")
            if args.jitter:
                child_args += ["--jitter", f"{args.jitter:g}"]
            print(f"… {mode} app, {n} agents, {window:g} s", flush=True)
            try:
                result = run_child("bench.ui_load", child_args, timeout=window + 300 + n * 0.5)
            except Exception as exc:  # one failed size must not lose the others' results
                print(f"  {mode} app at {n} agents failed: {exc}", flush=True)
                result = {"error": str(exc)}
            runs.append({"mode": mode, "agents": n, **result})
    report(runs)
    write_json(
        args.json,
        {
            "benchmark": "ui_load",
            "tps": args.tps,
            "jitter": args.jitter,
            "window_s": window,
            "runs": runs,
        },
    )


def argparse_hidden() -> str:
    import argparse

    return argparse.SUPPRESS


def report(runs: list[dict[str, Any]]) -> None:
    failed = [r for r in runs if "error" in r]
    runs = [r for r in runs if "error" not in r]
    rows = []
    for r in runs:
        rows.append([
            r["agents"], r["mode"], r["lag_p50_ms"], r["lag_p99_ms"],
            r.get("focus_p50_ms", "-"), r.get("focus_p99_ms", "-"),
            r.get("modal_p50_ms", "-"), r.get("modal_p99_ms", "-"),
            r["cpu_share"], r["peak_rss_mb"], r["rss_slope_mb_per_min"],
            r["conversations_mb_per_min"],
            r["fps"], r["events_per_s"], r["text_kb_per_s"],
            f'{r["gc_full"]} / {r["gc_full_max_ms"]}',
        ])  # fmt: skip
    header = [
        "agents", "app", "lag p50", "lag p99", "focus p50", "focus p99", "modal p50",
        "modal p99", "cpu", "peak MB", "MB/min", "conv MB/min", "fps", "events/s", "text kB/s",
        "full gc n / max",
    ]  # fmt: skip
    print()
    print(table("UI under load (ms; cpu = process CPU s per wall s)", header, rows))
    ratios = []
    by = {(r["agents"], r["mode"]): r for r in runs}
    for n in sorted({r["agents"] for r in runs}):
        real, plain, bare = by.get((n, "real")), by.get((n, "plain")), by.get((n, "bare"))
        if real and plain:
            row = [n, round(real["cpu_share"] / plain["cpu_share"], 2)]
            if bare:
                ui_real = real["cpu_share"] - bare["cpu_share"]
                ui_plain = plain["cpu_share"] - bare["cpu_share"]
                row.append(round(ui_real / ui_plain, 2) if ui_plain > 0 else "-")
            else:
                row.append("-")
            ratios.append(row)
    if ratios:
        print()
        print(table("CPU ratio, real app / plain app", ["agents", "total", "above bare"], ratios))
    for r in runs:
        if r.get("stall_stacks"):
            print()
            print(f"Where the loop was in stalls over 80 ms ({r['mode']}, {r['agents']} agents;")
            print(f"{r['stall_samples']} samples of 20 ms, top 3 stacks, innermost first):")
            for n, where in r["stall_stacks"][:3]:
                print(f"  {n:4d}  {where}")
    for r in failed:
        print(f"\n{r['mode']} app at {r['agents']} agents failed: {r['error']}")
    print()
    print(TARGETS)


if __name__ == "__main__":
    main()
