"""The approval inbox: commands waiting for the operator, oldest first.

The oldest request (the one `a` / `A` / `d` answer) is shown whole: its command wrapped
over as many lines as it takes (the inbox scrolls when it is taller than its cap), the
directory it runs in, and what `A` would do: the exact prefix it adds to the allow list,
or why no "always" is offered for it (see core.tools.always_allow).
"""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.content import Content
from textual.widgets import Static

from core.tools.always_allow import AlwaysOffer, always_allow_offer
from tui.view_model import ApprovalView, RunView, one_line

SHOWN = 4  # the oldest in full, then up to three more on one line each


def always_text(offer: AlwaysOffer) -> str:
    """The line the inbox shows for `A`; tests compare it with what `A` adds."""
    if offer.prefix is not None:
        return f"A: always allow commands starting with: {offer.prefix}"
    return f"No always-allow: {offer.reason}"


class ApprovalInbox(VerticalScroll, can_focus=False):
    """Hidden while empty; `a` approves, `A` always allows, `d` denies the oldest."""

    DEFAULT_CSS = """
    ApprovalInbox {
        display: none;
        height: auto;
        max-height: 14;
        border: round $warning;
        border-title-color: $legible-warning;
        padding: 0 1;
        margin: 0 1;
    }
    ApprovalInbox.-open { display: block; }
    ApprovalInbox > #approvals-body { width: 1fr; height: auto; }
    """

    def __init__(self, *, id: str | None = None, read_only: bool = False) -> None:
        super().__init__(id=id)
        self.read_only = read_only
        self.count = 0
        self.oldest: ApprovalView | None = None
        self.offer: AlwaysOffer | None = None  # for the oldest request
        self.body = Static("", id="approvals-body", markup=False)
        self._shown: tuple[str, ...] = ()

    def compose(self) -> ComposeResult:
        yield self.body

    def show(self, view: RunView) -> None:
        items = list(view.approvals.values())
        self.count = len(items)
        self.set_class(bool(items), "-open")
        key = tuple(ap.request_id for ap in items)
        if key == self._shown:
            return
        self._shown = key
        if not items:
            self.oldest = self.offer = None
            return
        oldest = self.oldest = items[0]
        offer = self.offer = always_allow_offer(oldest.command)
        if self.read_only:
            keys = ""
        elif offer.offered:
            keys = "  a approve once · A always allow · d deny"
        else:
            keys = "  a approve once · d deny"
        self.border_title = f"Approvals ({len(items)}){keys}"
        lines = [
            Content.assemble(
                ("▶ ", "bold $legible-warning"),
                (oldest.agent_id, "bold"),
                (f" {oldest.tool}", "$legible-muted"),
                ("  in ", "$legible-muted"),
                (oldest.cwd or "?", "$text"),
            ),
            Content.assemble(("$ ", "$legible-muted"), (oldest.command, "bold $text")),
            Content.styled(
                always_text(offer), "$legible-success" if offer.offered else "$legible-warning"
            ),
        ]
        for ap in items[1:SHOWN]:
            lines.append(
                Content.assemble(
                    ("  ", ""),
                    (ap.agent_id, "bold"),
                    (f" {ap.tool}: ", "$legible-muted"),
                    (one_line(ap.command, 100), "$text"),
                    ("  in ", "$legible-muted"),
                    (ap.cwd, "$legible-muted"),
                )
            )
        if len(items) > SHOWN:
            lines.append(Content.styled(f"  … {len(items) - SHOWN} more", "$legible-muted"))
        self.body.update(Content("\n").join(lines))
        self.scroll_home(animate=False)
