"""The top bar: run id, task, totals and the simulated / sandbox / replay badges.

Two lines that never wrap, at any width: each is built in a few forms, richest first,
and the first that fits the width is shown (the last is cut with an ellipsis). The
second line always keeps the agent counts and the cost; tokens go first when it is
narrow.
"""

from __future__ import annotations

from collections.abc import Sequence

from textual.content import Content
from textual.widgets import Static

from core.cost_meter import fmt_usd
from tui.view_model import RunView, Totals, fmt_output, fmt_spend, fmt_tokens, one_line

STATUS_STYLES = {
    "running": "$legible-success",
    "answered": "$legible-accent",
    "done": "$legible-primary",
    "unverified": "$legible-warning",
    "stopped": "$legible-muted",
}
# No badge while commands are confined; a loud one when they are not. (full, short)
SANDBOX_BADGES = {
    "unavailable": (" no sandbox: every command asks ", " no sandbox ", "reverse $legible-error"),
    "off": (" sandbox off ", " sandbox off ", "reverse $legible-warning"),
}
MIN_TASK = 24  # below this many cells left for the task, the badges take their short form

Part = str | tuple[str, str]
BUDGET_STYLES = {
    "": "$legible-muted",
    "warn": "bold $legible-warning",
    "spent": "bold $legible-error",
}


def _budget(view: RunView, short: bool = False) -> list[Part]:
    """` / $5.00 budget`, in warning colours from 80%."""
    if view.budget_usd is None:
        return [] if short else [(" · no budget", "$legible-muted")]
    label = {"warn": " (80%)", "spent": " spent"}.get(view.budget_level, "")
    word = "" if short else " budget"
    return [(f" / {fmt_usd(view.budget_usd)}{word}{label}", BUDGET_STYLES[view.budget_level])]


def fit(forms: Sequence[Content], width: int) -> Content:
    """The first form no wider than `width`; else the last, cut with an ellipsis."""
    for form in forms:
        if form.cell_length <= width:
            return form
    return forms[-1].truncate(max(1, width), ellipsis=True)


class RunHeader(Static):
    DEFAULT_CSS = """
    RunHeader {
        height: 2; background: $panel; color: $legible-text; padding: 0 1;
        text-wrap: nowrap; text-overflow: ellipsis;
    }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__("", id=id, markup=False)
        self._last: tuple[RunView, str, bool] | None = None

    def on_resize(self) -> None:
        if self._last is not None:
            view, replay, paused = self._last
            self.show(view, replay=replay, paused=paused)

    def show(self, view: RunView, *, replay: str = "", paused: bool = False) -> None:
        self._last = (view, replay, paused)
        width = self.content_region.width or self.app.size.width - 2
        task = one_line(view.task or "(no task yet: message the CEO)", 90)
        head = self._head(view, replay, paused, short=False)
        if width - head.cell_length < min(MIN_TASK, len(task)):
            head = self._head(view, replay, paused, short=True)
        first = Content.assemble(head, (task, "$text")).truncate(width, ellipsis=True)
        second = fit(self._totals(view), width)
        self.update(Content("\n").join([first, second]), layout=False)

    @staticmethod
    def _head(view: RunView, replay: str, paused: bool, *, short: bool) -> Content:
        """The first line up to the task: badges (short ones when narrow), id, status."""
        badges: list[Part] = []
        if view.simulated:
            badges += [
                (" sim " if short else " simulated models ", "reverse $legible-warning"),
                " ",
            ]
        sandbox = SANDBOX_BADGES.get(view.sandbox)
        if sandbox is not None:
            full, brief, style = sandbox
            badges += [(brief if short else full, style), " "]
        if replay:
            badges += [(f" replay {replay} ", "reverse $legible-accent"), " "]
            if paused:
                badges += [(" paused ", "reverse $legible-error"), " "]
        status = view.display_status
        status_style = STATUS_STYLES.get(status, "$legible-error")
        waiting: list[Part] = []
        outcome = view.outcome_line
        if outcome:
            ok = view.verification.verified
            waiting = [(f" · {outcome}", "$legible-success" if ok else "$legible-warning")]
        if status == "answered":
            waiting.append((" · waiting for you", "$legible-accent"))
        return Content.assemble(
            *badges,
            ("delegate ", "bold"),
            (view.run_id or "(starting)", "$legible-muted"),
            "  ",
            (status, f"bold {status_style}"),
            *waiting,
            "  ",
        )

    @staticmethod
    def _totals(view: RunView) -> list[Content]:
        """The second line, richest first: counts and cost in every form."""
        t = view.totals()
        counts = _counts(t)
        tok = t.tokens
        tokens_full = (
            f"{fmt_tokens(tok.input)} in / {fmt_output(tok)} out / "
            f"{fmt_tokens(tok.cache_read)} cached"
        )
        tokens_short = f"{fmt_tokens(tok.input)} in / {fmt_output(tok)} out"
        cost: Part = (fmt_spend(tok), "bold")
        return [
            Content.assemble(
                *counts,
                ("   tokens ", "$legible-muted"),
                tokens_full,
                ("   cost ", "$legible-muted"),
                cost,
                *_budget(view),
            ),
            Content.assemble(
                *counts, ("  cost ", "$legible-muted"), cost, *_budget(view), "  ", tokens_full
            ),
            Content.assemble(*counts, "  ", cost, *_budget(view, short=True), "  ", tokens_short),
            Content.assemble(*counts, "  ", cost, *_budget(view, short=True)),
            Content.assemble(*_counts(t, short=True), "  ", cost, *_budget(view, short=True)),
        ]


def _counts(t: Totals, short: bool = False) -> list[Part]:
    names = ("run" if short else "running", "queued", "done", "failed")
    numbers = (t.running, t.queued, t.done, t.failed)
    styles = ("$legible-success", "$legible-warning", "$legible-primary", "$legible-error")
    parts: list[Part] = []
    for i, (name, n, style) in enumerate(zip(names, numbers, styles, strict=True)):
        if i:
            parts.append(" · " if not short else " ")
        parts.append((f"{n} {name}", style if n else "$legible-muted"))
    if t.stopped:  # the operator's quit: a clean stop, not counted as failed
        parts += [" · " if not short else " ", (f"{t.stopped} stopped", "$legible-muted")]
    return parts
