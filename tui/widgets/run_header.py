"""The top bar: run id, task, totals and the simulated / sandbox / replay badges."""

from __future__ import annotations

from textual.content import Content
from textual.widgets import Static

from core.cost_meter import fmt_usd
from tui.view_model import RunView, fmt_output, fmt_spend, fmt_tokens, one_line

STATUS_STYLES = {
    "running": "$success",
    "answered": "$accent",
    "done": "$primary",
    "unverified": "$warning",
}
# No badge while commands are confined; a loud one when they are not.
SANDBOX_BADGES = {
    "unavailable": (" no sandbox: every command asks ", "reverse $error"),
    "off": (" sandbox off ", "reverse $warning"),
}


BUDGET_STYLES = {"": "$text-muted", "warn": "bold $warning", "spent": "bold $error"}


def _budget(view: RunView) -> list[str | tuple[str, str]]:
    """` / $5.00 budget`, in warning colours from 80%."""
    if view.budget_usd is None:
        return [(" · no budget", "$text-muted")]
    label = {"warn": " (80%)", "spent": " spent"}.get(view.budget_level, "")
    return [(f" / {fmt_usd(view.budget_usd)} budget{label}", BUDGET_STYLES[view.budget_level])]


class RunHeader(Static):
    DEFAULT_CSS = """
    RunHeader { height: 2; background: $panel; padding: 0 1; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__("", id=id, markup=False)

    def show(self, view: RunView, *, replay: str = "", paused: bool = False) -> None:
        t = view.totals()
        tok = t.tokens
        badges: list[str | tuple[str, str]] = []
        if view.simulated:
            badges += [(" simulated models ", "reverse $warning"), " "]
        sandbox = SANDBOX_BADGES.get(view.sandbox)
        if sandbox is not None:
            badges += [sandbox, " "]
        if replay:
            badges += [(f" replay {replay} ", "reverse $accent"), " "]
            if paused:
                badges += [(" paused ", "reverse $error"), " "]
        status = view.display_status
        status_style = STATUS_STYLES.get(status, "$error")
        waiting: list[str | tuple[str, str]] = []
        outcome = view.outcome_line
        if outcome:
            ok = view.verification.verified
            waiting = [(f" · {outcome}", "$success" if ok else "$warning")]
        if status == "answered":
            waiting.append((" · waiting for you", "$accent"))
        first = Content.assemble(
            *badges,
            ("delegate ", "bold"),
            (view.run_id or "(starting)", "$text-muted"),
            "  ",
            (status, f"bold {status_style}"),
            *waiting,
            "  ",
            (one_line(view.task or "(no task yet: message the CEO)", 90), "$text"),
        )
        second = Content.assemble(
            (f"{t.running} running", "$success" if t.running else "$text-muted"),
            " · ",
            (f"{t.queued} queued", "$warning" if t.queued else "$text-muted"),
            " · ",
            (f"{t.done} done", "$primary" if t.done else "$text-muted"),
            " · ",
            (f"{t.failed} failed", "$error" if t.failed else "$text-muted"),
            ("   tokens ", "$text-muted"),
            f"{fmt_tokens(tok.input)} in / {fmt_output(tok)} out / "
            f"{fmt_tokens(tok.cache_read)} cached",
            ("   cost ", "$text-muted"),
            (fmt_spend(tok), "bold"),
            *_budget(view),
        )
        self.update(Content("\n").join([first, second]), layout=False)
