"""`delegate stats`: the model scorecard (core/scorecard.py) as columns, TSV or JSON."""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import sys
from typing import TYPE_CHECKING

from core import redact
from core.config import Settings
from tui.process_exit import mark_written

if TYPE_CHECKING:
    from core.scorecard import ScoreRow

STATS_COLUMNS = (
    "role",
    "model",
    "attempts",
    "passed",
    "unverified",
    "failed",
    "pass rate",
    "median cost",
    "median time",
)


def stats_command(args: argparse.Namespace, settings: Settings) -> int:
    rows = asyncio.run(load_scorecard(settings, args.limit))
    mark_written()
    if args.json:
        text = json.dumps([r.to_dict() for r in rows], indent=2, ensure_ascii=False)
        print(redact.current().redact(text))
        return 0
    if not rows:
        print("no runs yet", file=sys.stderr)
        return 0
    print("\n".join(format_stats(rows, tty=sys.stdout.isatty())))
    return 0


async def load_scorecard(settings: Settings, last_runs: int | None = None) -> list[ScoreRow]:
    """The scorecard of the database the settings name (empty when there is none yet)."""
    from core.records import open_records, records_exist
    from core.scorecard import scorecard

    if not records_exist(settings):
        return []
    async with open_records(settings, readonly=True) as records:
        return scorecard(await records.attempt_records(last_runs))


# On a terminal: short headers (the whole table fits 80 columns) and a legend under it.
TERMINAL_COLUMNS = ("role", "model", "tries", "pass", "unver", "fail", "rate", "cost", "time")
LEGEND = (
    "pass: ended done, not retried, run verified · unver: done otherwise · fail: failed, "
    "timed out or killed · rate: pass over those three (stopped attempts left out) · "
    "cost, time: median per attempt"
)


def format_stats(rows: list[ScoreRow], *, tty: bool, width: int | None = None) -> list[str]:
    """Aligned columns (numbers to the right) with a header and a legend for people;
    tab-separated rows (no header) for scripts."""
    if not tty:
        return ["\t".join(tsv_cells(r)) for r in rows]
    import textwrap

    table = [list(TERMINAL_COLUMNS)] + [terminal_cells(r) for r in rows]
    widths = [max(len(c) for c in col) for col in zip(*table, strict=True)]
    lines = [
        "  ".join(
            cell.ljust(w) if i < 2 else cell.rjust(w)
            for i, (cell, w) in enumerate(zip(row, widths, strict=True))
        ).rstrip()
        for row in table
    ]
    room = width or shutil.get_terminal_size().columns
    return [*lines, "", *textwrap.wrap(LEGEND, max(room, 40))]


def terminal_cells(r: ScoreRow) -> list[str]:
    """One row for a terminal: the rate as a percentage, dollars, a duration."""
    cells = stats_cells(r)
    cells[6] = "-" if r.pass_rate is None else f"{r.pass_rate:.0%}"
    return cells


def stats_cells(r: ScoreRow) -> list[str]:
    """One row as people read it: 67% (2/3), $0.0123, 1:05."""
    rate = "-" if r.pass_rate is None else f"{r.pass_rate:.0%} ({r.passed}/{r.judged})"
    return [
        r.role,
        r.model,
        str(r.attempts),
        str(r.passed),
        str(r.unverified),
        str(r.failed),
        rate,
        "?" if r.median_cost_usd is None else f"${r.median_cost_usd:.4f}",
        "-" if r.median_time_s is None else fmt_seconds(r.median_time_s),
    ]


def tsv_cells(r: ScoreRow) -> list[str]:
    """One row for scripts: plain numbers (rate 0..1, dollars, seconds; empty if unknown)."""

    def num(value: float | None, digits: int) -> str:
        return "" if value is None else f"{value:.{digits}f}"

    return [
        r.role,
        r.model,
        str(r.attempts),
        str(r.passed),
        str(r.unverified),
        str(r.failed),
        num(r.pass_rate, 3),
        num(r.median_cost_usd, 6),
        num(r.median_time_s, 1),
    ]


def fmt_seconds(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.1f}s"
    whole = round(seconds)
    if whole >= 3600:
        return f"{whole // 3600}:{whole % 3600 // 60:02d}:{whole % 60:02d}"
    return f"{whole // 60}:{whole % 60:02d}"
