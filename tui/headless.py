"""The headless commands: run, history, show, simulator."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import shutil
import signal
import sys
import time
from typing import TYPE_CHECKING, Any

from core import redact
from core.config import Settings
from core.errors import UsageError
from core.events import (
    AgentFinished,
    AgentSpawned,
    AgentStateChanged,
    ApiRetry,
    ClaimsFlagged,
    Event,
    FileCollision,
    Notice,
    SteerDelivered,
    SteerQueued,
    TimeoutChanged,
    ToolCallFinished,
    ToolCallStarted,
    TurnEnded,
)
from core.records import db_path
from tui.launch import tune_gc
from tui.process_exit import mark_written

if TYPE_CHECKING:
    from collections.abc import Sequence

    from core.records import AgentSummary, RunRecords


class ProgressPrinter:
    """One line per meaningful event on stderr, so long headless runs show progress."""

    def __init__(self, stream: Any = None) -> None:
        self.stream = stream or sys.stderr
        self.t0 = time.monotonic()
        self._turn_text: dict[str, list[str]] = {}

    def _line(self, who: str, text: str) -> None:
        elapsed = time.monotonic() - self.t0
        print(f"{elapsed:7.1f}s  {who:<12} {text}", file=self.stream, flush=True)

    def __call__(self, event: Event) -> None:
        who = event.agent_id or "run"
        if isinstance(event, AgentSpawned):
            if event.agent_id != "ceo":
                tmo = f", {event.timeout_s / 60:g}m" if event.timeout_s else ""
                att = f" attempt {event.attempt}" if event.attempt > 1 else ""
                self._line(who, f"spawned{att} ({event.model}{tmo}): {_short(event.task)}")
        elif isinstance(event, AgentStateChanged):
            if event.state in ("queued", "done"):
                return
            reason = f" ({event.reason})" if event.reason else ""
            self._line(who, f"{event.state}{reason}")
        elif isinstance(event, AgentFinished):
            if event.state == "done":
                att = f" (attempt {event.attempt})" if event.attempt > 1 else ""
                self._line(who, f"done{att} in {event.elapsed_s:.1f}s: {_short(event.result)}")
        elif isinstance(event, ToolCallStarted):
            self._line(who, f"→ {event.summary or event.name}")
        elif isinstance(event, ToolCallFinished) and event.is_error:
            self._line(who, f"  tool error: {_short(event.output)}")
        elif isinstance(event, SteerQueued):
            self._line(who, f"steer queued ({event.source}): {_short(event.message)}")
        elif isinstance(event, SteerDelivered):
            self._line(who, f"steer delivered at turn {event.turn}")
        elif isinstance(event, TimeoutChanged):
            self._line(who, f"timeout now {event.timeout_s}s ({event.reason})")
        elif isinstance(event, ApiRetry):
            self._line(who, f"API retry {event.try_number} in {event.delay_s:.1f}s: {event.reason}")
        elif isinstance(event, Notice):
            self._line(who, event.text)
        elif isinstance(event, ClaimsFlagged):
            for claim in event.claims:
                self._line(who, f"unsupported claim: {_short(claim, 120)}")
        elif isinstance(event, FileCollision):
            self._line(who, f"file collision: {_short(event.text, 120)}")
        elif isinstance(event, TurnEnded) and event.agent_id == "ceo":
            pass


def _short(text: str, n: int = 90) -> str:
    text = " ".join(text.split())
    return text if len(text) <= n else text[: n - 1] + "…"


def run_command(args: argparse.Namespace, settings: Settings) -> int:
    if not args.task.strip():
        raise UsageError("run: the task is empty")
    code = asyncio.run(_run(args, settings))
    # The store is closed, the summary printed, the agents' processes ended (the
    # session's close), the loop and its threads shut down: the process may now leave
    # without the interpreter's final collection.
    mark_written()
    return code


async def _run(args: argparse.Namespace, settings: Settings) -> int:
    from core.records import RecordsError
    from core.session_life import open_session

    async with open_session(settings, interactive=False) as session:
        # As the TUI does: what start-up left alive (the SDK, the session) is frozen, and
        # short-lived stream objects die young. Untuned, 500 agents streaming over HTTP
        # had six full collections in 24 s of them, up to 0.5 s each with the loop held.
        tune_gc()
        store = session.records
        assert store is not None
        if not session.runner.confined:  # said once, even with --quiet
            print(f"delegate: {session.runner.describe()}", file=sys.stderr)

        def cannot_record(error: RecordsError) -> None:
            # One line, once; the run cannot be recorded, so it stops as failed.
            print(f"delegate: {error}", file=sys.stderr, flush=True)
            session.abort(str(error))

        store.on_failure(cannot_record)
        if not args.quiet:
            session.bus.subscribe(ProgressPrinter())
        loop = asyncio.get_running_loop()
        stop = asyncio.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        session.start(args.task)
        waiter = asyncio.ensure_future(session.wait_finished())
        stopper = asyncio.ensure_future(stop.wait())
        await asyncio.wait({waiter, stopper}, return_when=asyncio.FIRST_COMPLETED)
        stopper.cancel()
        interrupted = not waiter.done()
        if interrupted:
            print("delegate: stopping: agents and their processes are being ended", file=sys.stderr)
            await session.close("cancelled")
        outcome = await waiter
        await session.close()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
        summary = await _summary(store, outcome)
    if session.fatal_error is not None:
        # A configuration problem (the API key was refused): one line, exit 2; a script
        # that asked for --json still gets the (failed) run's summary.
        print(f"delegate: {redact.current().redact(session.fatal_error)}", file=sys.stderr)
        if args.json:
            summary.setdefault("error", session.fatal_error)
            print(redact.current().redact(json.dumps(summary, indent=2, ensure_ascii=False)))
        return 2
    if session.error and outcome.status == "failed":
        # Why the run failed (a budget spent, a turn limit, a stuck CEO): one line.
        summary.setdefault("error", session.error)
        if store.failure is None or session.error != str(store.failure):  # not said twice
            print(f"delegate: {redact.current().redact(session.error)}", file=sys.stderr)
    if args.json:
        print(redact.current().redact(json.dumps(summary, indent=2, ensure_ascii=False)))
    else:
        print(redact.current().redact(outcome.result))
        cost = summary.get("cost_usd")
        cost_text = f"${cost:.4f}" if cost is not None else "unknown cost"
        workers = len(summary["agents"]) - 1  # the CEO is not a sub-agent
        print(
            f"\nrun {outcome.run_id}: {summary['status']} ({session.verification.headline()})"
            f" · {workers} sub-agent{'' if workers == 1 else 's'} · {cost_text}",
            file=sys.stderr,
        )
    if interrupted:
        return 130
    if store.failure is not None:
        return 1
    return 0 if outcome.status == "done" else 1


async def _summary(store: RunRecords, outcome: Any) -> dict[str, Any]:
    """The run's JSON summary from the store; when the store stopped recording, what it
    has (if it can still be read) with the run's real end: `failed` and why."""
    from core.records import RecordsError as StoreError

    with contextlib.suppress(StoreError):
        await store.flush()
    if store.failure is None:
        summary: dict[str, Any] = await store.run_summary(outcome.run_id)
        return summary
    try:
        summary = await store.run_summary(outcome.run_id)
    except StoreError:
        summary = {"run_id": outcome.run_id, "agents": [{"id": "ceo"}]}
    summary.update(
        status="failed",  # whatever the CEO did, the run was not recorded
        result=outcome.result,
        cost_usd=outcome.cost_usd,
        error=str(store.failure),
    )
    return summary


def history_command(args: argparse.Namespace, settings: Settings) -> int:
    code = asyncio.run(_history(args, settings))
    mark_written()
    return code


async def _history(args: argparse.Namespace, settings: Settings) -> int:
    from core.records import open_records

    path = db_path(settings)
    if not path.exists():
        runs: list[Any] = []
    else:
        async with open_records(settings) as records:
            runs = await records.list_runs(limit=args.limit)
    if args.json:
        text = json.dumps([_run_row_json(r) for r in runs], indent=2, ensure_ascii=False)
        print(redact.current().redact(text))
        return 0
    if not runs:
        print("no runs yet", file=sys.stderr)
        return 0
    rows = [_history_row(r) for r in runs]
    if sys.stdout.isatty():
        width = shutil.get_terminal_size().columns
        print("\n".join(aligned(HISTORY_COLUMNS, rows, width)))
    else:  # for scripts: one run a line, tab-separated, the whole task, no header
        for row in rows:
            print("\t".join(row))
    return 0


def _cost(cost: float | None, estimated: bool) -> str:
    """`$0.0123`, `~$0.0123` when partly counted from streamed text (as the live view)."""
    return ("~" if estimated else "") + f"${cost:.4f}" if cost is not None else "?"


HISTORY_COLUMNS = ("run", "started", "status", "agents", "cost", "task")


def _history_row(r: Any) -> list[str]:
    return [
        r.run_id,
        time.strftime("%Y-%m-%d %H:%M", time.localtime(r.created_at)),
        r.status,
        str(r.agents),
        _cost(r.cost_usd, r.estimated),
        " ".join(r.task.split()),  # no tabs or newlines: one run, one line
    ]


def aligned(header: tuple[str, ...], rows: list[list[str]], width: int) -> list[str]:
    """Columns padded to their widest cell; the last one is cut to fit `width`."""
    widths = [max(len(c) for c in col) for col in zip(header, *rows, strict=False)]
    lead = sum(w + 2 for w in widths[:-1])
    room = max(width - lead, 10)
    out = []
    for row in (list(header), *rows):
        cells = [c.ljust(w) for c, w in zip(row[:-1], widths, strict=False)]
        last = row[-1] if len(row[-1]) <= room else row[-1][: room - 1] + "…"
        out.append("  ".join([*cells, last]).rstrip())
    return out


def _run_row_json(r: Any) -> dict[str, Any]:
    import dataclasses

    return dataclasses.asdict(r)


def show_command(args: argparse.Namespace, settings: Settings) -> int:
    code = asyncio.run(_show(args, settings))
    mark_written()
    return code


async def _show(args: argparse.Namespace, settings: Settings) -> int:
    from core.records import open_records, run_markdown

    path = db_path(settings)
    if not path.exists():
        raise UsageError(f"no run {args.run!r}: no runs recorded yet ({path})")
    async with open_records(settings) as records:
        row = await records.find_run(args.run)
        if row is None:
            raise UsageError(f"no run matches {args.run!r} (see `delegate history`)")
        summary = await records.run_summary(row.run_id)
        text = await run_markdown(records, row.run_id) if args.markdown else ""
        agents = await records.agents(row.run_id) if not (args.json or args.markdown) else []
    if args.json:
        print(redact.current().redact(json.dumps(summary, indent=2, ensure_ascii=False)))
    elif args.markdown:
        print(text)
    else:
        _print_summary(redact.current().deep(summary), agents)
    return 0


def _print_summary(summary: dict[str, Any], agents: Sequence[AgentSummary]) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    cost = summary.get("cost_usd")
    console.print(f"[b]run {summary['run_id']}[/b] · {summary['status']}", markup=True)
    console.print(f"task: {summary.get('task', '')}", markup=False)
    if summary.get("error"):
        console.print(f"error: {summary['error']}", markup=False)
    checks = summary.get("checks") or []
    console.print("verified: " + ("yes" if summary.get("verified") else "no"), markup=False)
    for c in checks:
        where = "after the last change" if c["after_last_change"] else "before a later change"
        code = "timed out" if c.get("timed_out") else f"exit {c['exit_code']}"
        console.print(f"  check `{c['command']}`: {code}, {where}", markup=False)
    hide = redact.current().redact
    rows = [
        (
            hide(a.agent_id),
            hide(a.role),
            hide(a.model).replace("claude-", ""),
            a.state,
            str(a.attempt),
            f"{a.input_tokens:,}",
            ("~" if a.estimated else "") + f"{a.output_tokens:,}",
            f"{a.cache_read_tokens:,}/{a.cache_write_tokens:,}",
            _cost(a.cost_usd, a.estimated),
            f"{a.elapsed_s:.1f}s" if a.elapsed_s is not None else "",
        )
        for a in agents
    ]
    table = Table(box=None, pad_edge=False, padding=(0, 1, 0, 0))  # fits 80 columns
    names = ("agent", "role", "model", "status", "try", "in", "out", "cache r/w", "cost", "time")
    for i, col in enumerate(names):
        width = max([len(col), *(len(r[i]) for r in rows)])
        if i in (0, 1, 3):  # words: cut with … when the terminal is narrow
            table.add_column(col)
        elif i == 2:  # the model is what the table is read for
            table.add_column(col, no_wrap=True, min_width=width)
        else:  # figures are never cut: a cut number reads as another number
            table.add_column(col, justify="right", no_wrap=True, min_width=width)
    for row in rows:
        table.add_row(*row)
    console.print(table)
    for a in summary["agents"]:
        ev = a.get("evidence") or {}
        for claim in ev.get("unsupported_claims") or []:
            console.print(f"{a['id']}: unsupported claim: {claim}", markup=False)
    estimated = bool(summary.get("estimated"))
    console.print("total: " + (_cost(cost, estimated) if cost is not None else "unknown cost"))
    if estimated:
        console.print("~: counted from streamed text (the run ended mid-reply)", markup=False)
    if summary.get("result"):
        console.print("\n[b]result[/b]")
        console.print(summary["result"], markup=False)


def simulator_command(args: argparse.Namespace, settings: Settings) -> int:
    if not 0 <= args.port < 65536:
        raise UsageError(f"--port must be 0-65535 (0: any free port), got {args.port}")
    return asyncio.run(_simulator(args, settings))


async def _simulator(args: argparse.Namespace, settings: Settings) -> int:
    from core.simulator import Simulator, serve

    sim = Simulator(scenario=settings.scenario, tokens_per_s=settings.sim_tokens_per_s)
    try:
        server = await serve(sim, host=args.host, port=args.port)
    except OSError as exc:
        raise UsageError(f"cannot listen on {args.host}:{args.port}: {exc.strerror}") from None
    print(
        f"simulator (scenario {settings.scenario}) on {server.base_url}\n"
        f"use it: ANTHROPIC_BASE_URL={server.base_url} ANTHROPIC_API_KEY=any delegate run TASK\n"
        "Ctrl-C stops it.",
        file=sys.stderr,
        flush=True,
    )
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    with contextlib.suppress(Exception):
        await server.close()
    return 0
