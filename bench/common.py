"""Shared helpers for the benchmarks: percentiles, loop lag, RSS, CPU, tables, JSON, children."""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import gc
import json
import os
import platform
import resource
import subprocess
import sys
import threading
import time
import traceback
from collections.abc import Sequence
from pathlib import Path
from typing import Any

PAGE = os.sysconf("SC_PAGE_SIZE")


def percentile(values: Sequence[float], p: float) -> float:
    """The p-th percentile (0-100), linear between ranks; NaN for no values."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = (len(ordered) - 1) * p / 100
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def ms(seconds: float) -> float:
    return round(seconds * 1000, 1)


def rss_mb() -> float:
    """Resident memory of this process now, in MB."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * PAGE / 1e6


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far (Linux reports KB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1000


def machine() -> dict[str, Any]:
    model = "unknown"
    try:
        with open("/proc/cpuinfo") as f:
            model = next(
                (ln.split(":", 1)[1].strip() for ln in f if ln.startswith("model name")), model
            )
    except OSError:
        pass
    return {
        "nproc": os.cpu_count(),
        "cpu": model,
        "python": platform.python_version(),
        "platform": platform.platform(),
    }


class Histogram:
    """Durations in 0.1 ms buckets: constant memory however long a run measures.

    A list of floats grows by 32 bytes a sample; at 200 samples a second that alone
    read as 0.4 MB/min of "growth" in a 10-minute memory run.
    """

    RESOLUTION_S = 1e-4

    def __init__(self) -> None:
        self.buckets: collections.Counter[int] = collections.Counter()
        self.count = 0
        self.max = 0.0

    def add(self, seconds: float) -> None:
        self.buckets[round(seconds / self.RESOLUTION_S)] += 1
        self.count += 1
        self.max = max(self.max, seconds)

    def percentile(self, p: float) -> float:
        """The p-th percentile (0-100) to the bucket; NaN when empty."""
        if not self.count:
            return float("nan")
        rank = round((self.count - 1) * p / 100)
        seen = 0
        for bucket in sorted(self.buckets):
            seen += self.buckets[bucket]
            if seen > rank:
                return bucket * self.RESOLUTION_S
        return self.max


class LagProbe:
    """Event-loop lag: a task sleeps `interval` and records how late it wakes."""

    def __init__(self, interval: float = 0.005) -> None:
        self.interval = interval
        self.lags = Histogram()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name="lag-probe")

    async def _run(self) -> None:
        while True:
            t0 = time.perf_counter()
            await asyncio.sleep(self.interval)
            self.lags.add(max(0.0, time.perf_counter() - t0 - self.interval))

    def reset(self) -> None:
        self.lags = Histogram()

    async def stop(self) -> Histogram:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        return self.lags

    def summary(self) -> dict[str, float]:
        lags = self.lags
        return {
            "lag_p50_ms": ms(lags.percentile(50)),
            "lag_p99_ms": ms(lags.percentile(99)),
            "lag_max_ms": ms(lags.max) if lags.count else float("nan"),
            "lag_samples": lags.count,
        }


class StallWatch:
    """Where the event loop was when it stalled: a thread samples the loop thread's stack
    whenever the loop has not ticked for `threshold` seconds (counts per stack)."""

    def __init__(self, threshold: float = 0.08, depth: int = 12) -> None:
        self.threshold = threshold
        self.depth = depth
        self.stacks: collections.Counter[str] = collections.Counter()
        self._beat = time.perf_counter()
        self._stop = threading.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> StallWatch:
        self._task = asyncio.get_running_loop().create_task(self._tick(), name="stall-beat")
        loop_thread = threading.get_ident()
        threading.Thread(target=self._watch, args=(loop_thread,), daemon=True).start()
        return self

    async def _tick(self) -> None:
        while True:
            self._beat = time.perf_counter()
            await asyncio.sleep(0.005)

    def _watch(self, loop_thread: int) -> None:
        while not self._stop.wait(0.02):
            if time.perf_counter() - self._beat < self.threshold:
                continue
            frame = sys._current_frames().get(loop_thread)
            if frame is None:
                continue
            stack = traceback.extract_stack(frame)[-self.depth :]
            where = " < ".join(
                f"{f.name} ({Path(f.filename).name}:{f.lineno})" for f in reversed(stack)
            )
            self.stacks[where] += 1

    def stop(self, top: int = 8) -> list[tuple[int, str]]:
        self._stop.set()
        if self._task is not None:
            self._task.cancel()
        return [(n, where) for where, n in self.stacks.most_common(top)]


class GcMeter:
    """Pauses of the cyclic garbage collector, per generation, via `gc.callbacks`."""

    def __init__(self) -> None:
        self.pauses: dict[int, list[float]] = {0: [], 1: [], 2: []}
        self._t0 = 0.0

    def _callback(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._t0 = time.perf_counter()
        else:
            self.pauses[info["generation"]].append(time.perf_counter() - self._t0)

    def start(self) -> GcMeter:
        gc.callbacks.append(self._callback)
        return self

    def stop(self) -> dict[str, float]:
        if self._callback in gc.callbacks:
            gc.callbacks.remove(self._callback)
        full = self.pauses[2]
        young = self.pauses[0] + self.pauses[1]
        return {
            "gc_full": len(full),
            "gc_full_max_ms": ms(max(full, default=0.0)),
            "gc_full_total_ms": ms(sum(full)),
            "gc_young_p99_ms": ms(percentile(young, 99)) if young else 0.0,
        }


class CpuMeter:
    """Process CPU time over wall time between `start` and `stop` (1.0 = one core busy)."""

    def start(self) -> CpuMeter:
        self.cpu0, self.wall0 = time.process_time(), time.perf_counter()
        return self

    def stop(self) -> dict[str, float]:
        cpu = time.process_time() - self.cpu0
        wall = time.perf_counter() - self.wall0
        return {"cpu_s": round(cpu, 3), "wall_s": round(wall, 3), "cpu_share": round(cpu / wall, 3)}


def table(title: str, header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A plain-text table, columns padded to fit."""
    cells = [[str(c) for c in header]] + [[_fmt(c) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    lines = [title, "  ".join(h.ljust(w) for h, w in zip(cells[0], widths, strict=True))]
    lines.append("  ".join("-" * w for w in widths))
    for row in cells[1:]:
        lines.append("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)))
    return "\n".join(lines)


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.3g}" if abs(value) < 100 else f"{value:.0f}"
    return str(value)


def parser(description: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--json", metavar="PATH", type=Path, help="also write the results as JSON")
    return p


def write_json(path: Path | None, data: dict[str, Any]) -> None:
    if path is None:
        return
    payload = {"machine": machine(), "argv": sys.argv, **data}
    path.write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")


def run_child(
    module: str, args: Sequence[str], timeout: float = 600, env: dict[str, str] | None = None
) -> dict[str, Any]:
    """Run `python -m module args --child-json FILE` in a fresh process (with `env`, or
    this process's environment); return its JSON."""
    import tempfile

    with tempfile.TemporaryDirectory(prefix="bench-") as tmp:
        out = Path(tmp) / "out.json"
        cmd = [sys.executable, "-m", module, *args, "--child-json", str(out)]
        subprocess.run(cmd, check=True, timeout=timeout, env=env)
        result: dict[str, Any] = json.loads(out.read_text(encoding="utf-8"))
        return result
