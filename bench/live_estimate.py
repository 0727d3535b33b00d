"""How live the live figures are, and how close the streamed estimate comes to the usage.

Runs the demo (`delegate --demo`: the default scenario at 150 tokens/s, commands allowed)
in the real app, headless (Textual's `run_test`), against the in-process simulator, and
records:

- per reply: the meter's estimate of its output just before the API's final usage
  replaced it (`estimate`), and the last estimate the screen was sent (`shown`: published
  at most every `LIVE_USAGE_EVERY_S`, so up to that much older), each against the final
  count, in percent;
- per pane: how often the usage line it draws (`in … out ~… · ~$…`) and its tail change
  while its agent streams, per second of streaming; the same for the header's totals and
  for the `UsageUpdated` events themselves.

The simulator counts tokens as about four characters each, like the estimate, so the
error here is the estimate's bookkeeping (the `1` of message_start, tool input JSON
spacing, rounding per block), not a tokenizer's: against the real API the error is that
of four characters a token for the text at hand.

    python -m bench.live_estimate [--runs 3] [--tokens-per-s 150] [--json out.json]
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.common import parser, percentile, table, write_json
from core.agent import LIVE_USAGE_EVERY_S
from core.catalog import Usage
from core.config import Settings
from core.cost_meter import CostMeter
from core.events import AgentSpawned, Event, TurnEnded, TurnStarted, UsageUpdated
from core.session import Session
from tui.launch import DEMO_TASK, DEMO_TOKENS_PER_S
from tui.widgets.agent_pane import AgentPane
from tui.widgets.run_header import RunHeader

RUN_TIMEOUT_S = 300.0


@dataclass
class Record:
    """What one run showed: reply estimates, pane and header draws, usage events."""

    estimates: list[tuple[int, int]] = field(default_factory=list)  # (estimate, final)
    draws: dict[str, list[tuple[float, str, str]]] = field(default_factory=dict)
    header: list[tuple[float, str]] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)


def _instrument(record: Record) -> list[tuple[Any, str, Any]]:
    """Wrap the meter's report, the pane's and the header's draw; returns what to undo."""
    on_usage, show, header_show = CostMeter.on_usage, AgentPane.show, RunHeader.show

    def meter_on_usage(self: CostMeter, usage: Usage) -> None:
        if self.estimating:  # the report that replaces a streamed estimate
            record.estimates.append((self.current.output_tokens, usage.output_tokens))
        on_usage(self, usage)

    def pane_show(self: AgentPane, agent: Any, now: float) -> None:
        show(self, agent, now)
        lines = self.content.plain.splitlines()  # type: ignore[union-attr]
        usage = next((ln for ln in lines if ln.startswith("in ")), "")
        tail = "\n".join(lines[6:])  # below the header, task, clock, usage, ctx, tool lines
        record.draws.setdefault(agent.agent_id, []).append((time.time(), usage, tail))

    def header_draw(self: RunHeader, view: Any, **kw: Any) -> None:
        header_show(self, view, **kw)
        text = self.content.plain.splitlines()  # type: ignore[union-attr]
        record.header.append((time.time(), text[-1] if text else ""))

    patches = [
        (CostMeter, "on_usage", meter_on_usage),
        (AgentPane, "show", pane_show),
        (RunHeader, "show", header_draw),
    ]
    undo = [(owner, name, getattr(owner, name)) for owner, name, _ in patches]
    for owner, name, fn in patches:
        setattr(owner, name, fn)
    return undo


async def one_run(tokens_per_s: float) -> Record:
    from tui.app import DelegateApp

    record = Record()
    undo = _instrument(record)
    try:
        with tempfile.TemporaryDirectory(prefix="bench-live-") as tmp:
            workspace = Path(tmp) / "ws"
            workspace.mkdir()
            settings = Settings().with_overrides(
                simulate=True,
                scenario="default",
                permission_mode="allow",
                workspace=workspace,
                db_path=Path(tmp) / "runs.db",
                sim_tokens_per_s=tokens_per_s,
            )
            session = Session(settings, interactive=True)
            session.bus.subscribe(record.events.append)
            app = DelegateApp(session=session, task=DEMO_TASK, export_dir=workspace)
            async with app.run_test(size=(160, 48)) as pilot:
                deadline = time.monotonic() + RUN_TIMEOUT_S
                while not (session.answered or session.finished):
                    if time.monotonic() > deadline:
                        raise TimeoutError(f"the demo did not finish in {RUN_TIMEOUT_S:.0f}s")
                    await pilot.pause(0.1)
                await pilot.pause(0.3)  # the last flush draws the final figures
                await session.close()
    finally:
        for owner, name, fn in undo:
            setattr(owner, name, fn)
    return record


def windows(events: list[Event]) -> dict[str, list[tuple[float, float]]]:
    """Per agent, the time its replies streamed: first usage report to TurnEnded."""
    out: dict[str, list[tuple[float, float]]] = defaultdict(list)
    start: dict[str, float] = {}
    replying: set[str] = set()
    for e in events:
        agent = e.agent_id or ""
        if isinstance(e, TurnStarted):
            replying.add(agent)
            start.pop(agent, None)
        elif isinstance(e, UsageUpdated) and agent in replying and agent not in start:
            start[agent] = e.ts
        elif isinstance(e, TurnEnded) and agent in start:
            out[agent].append((start.pop(agent), e.ts))
            replying.discard(agent)
    return out


def shown_errors(events: list[Event]) -> list[float]:
    """Per reply, the last estimate sent to the screen against the final count (percent)."""
    errors: list[float] = []
    base: dict[str, int] = {}
    last_estimate: dict[str, int] = {}
    latest: dict[str, int] = {}
    for e in events:
        agent = e.agent_id or ""
        if isinstance(e, AgentSpawned):
            latest[agent] = 0  # a new attempt counts from zero again
        elif isinstance(e, TurnStarted):
            base[agent] = latest.get(agent, 0)
            last_estimate.pop(agent, None)
        elif isinstance(e, UsageUpdated):
            latest[agent] = e.output_tokens
            if e.estimated:
                last_estimate[agent] = e.output_tokens
            elif agent in last_estimate and agent in base:
                final = e.output_tokens - base[agent]
                shown = last_estimate.pop(agent) - base[agent]
                if final > 0:
                    errors.append(100.0 * (shown - final) / final)
    return errors


def _inside(ts: float, spans: list[tuple[float, float]]) -> bool:
    return any(a <= ts <= b for a, b in spans)


def _changes(samples: list[tuple[float, str]], spans: list[tuple[float, float]]) -> int:
    n, last = 0, None
    for ts, value in samples:
        if value != last and last is not None and _inside(ts, spans):
            n += 1
        last = value
    return n


def _union(spans: list[tuple[float, float]]) -> list[tuple[float, float]]:
    out: list[tuple[float, float]] = []
    for a, b in sorted(spans):
        if out and a <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], b))
        else:
            out.append((a, b))
    return out


def summarise(records: list[Record]) -> dict[str, Any]:
    estimate_err: list[float] = []
    shown_err: list[float] = []
    usage_rate: list[float] = []
    tail_rate: list[float] = []
    event_rate: list[float] = []
    header_rate: list[float] = []
    for rec in records:
        estimate_err += [100.0 * (e - f) / f for e, f in rec.estimates if f > 0]
        shown_err += shown_errors(rec.events)
        spans = windows(rec.events)
        for agent, draws in rec.draws.items():
            mine = spans.get(agent, [])
            streaming = sum(b - a for a, b in mine)
            if streaming < 1.0:
                continue
            usage_rate.append(_changes([(t, u) for t, u, _ in draws], mine) / streaming)
            tail_rate.append(_changes([(t, tl) for t, _, tl in draws], mine) / streaming)
            published = [
                e
                for e in rec.events
                if isinstance(e, UsageUpdated) and e.agent_id == agent and _inside(e.ts, mine)
            ]
            event_rate.append(len(published) / streaming)
        busy = _union([s for ss in spans.values() for s in ss])
        total = sum(b - a for a, b in busy)
        if total > 0:
            header_rate.append(_changes(rec.header, busy) / total)

    def stats(values: list[float]) -> dict[str, float]:
        return {
            "n": len(values),
            "min": round(min(values), 2) if values else float("nan"),
            "median": round(percentile(values, 50), 2),
            "max": round(max(values), 2) if values else float("nan"),
        }

    return {
        "estimate_error_pct": stats(estimate_err),
        "estimate_abs_error_pct": stats([abs(v) for v in estimate_err]),
        "shown_error_pct": stats(shown_err),
        "pane_usage_updates_per_s": stats(usage_rate),
        "pane_tail_updates_per_s": stats(tail_rate),
        "usage_events_per_s": stats(event_rate),
        "header_updates_per_s": stats(header_rate),
    }


def main() -> None:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--runs", type=int, default=1)
    p.add_argument("--tokens-per-s", type=float, default=DEMO_TOKENS_PER_S)
    args = p.parse_args()
    records = [asyncio.run(one_run(args.tokens_per_s)) for _ in range(args.runs)]
    result = summarise(records)
    rows = [[name, s["n"], s["min"], s["median"], s["max"]] for name, s in result.items()]
    print(
        table(
            f"live figures: demo, {args.tokens_per_s:g} tokens/s, {args.runs} run(s), "
            f"estimate published every {LIVE_USAGE_EVERY_S}s at most",
            ["figure", "n", "min", "median", "max"],
            rows,
        )
    )
    write_json(args.json, {"tokens_per_s": args.tokens_per_s, "runs": args.runs, **result})


if __name__ == "__main__":
    main()
