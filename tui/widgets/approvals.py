"""The approval inbox: commands waiting for the operator, oldest first.

The oldest request (the one `a` / `A` / `d` answer) is shown whole: its command wrapped
over as many lines as it takes (the inbox scrolls when it is taller than its cap), the
directory it runs in, and what `A` would do: the exact prefix it adds to the allow list,
or why no "always" is offered for it (see core.tools.always_allow).
"""

from __future__ import annotations

from collections.abc import Callable

from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.content import Content
from textual.widgets import Static

from core.tools.always_allow import AlwaysOffer, always_allow_offer
from tui.keymap import default_key
from tui.view_model import ApprovalView, RunView, one_line

SHOWN = 4  # the oldest in full, then up to three more on one line each


def always_text(offer: AlwaysOffer, key: str = "A") -> str:
    """The line the inbox shows for `A` (`key`, when remapped); tests compare it with what
    `A` adds."""
    if offer.prefix is not None:
        return f"{key}: always allow commands starting with: {offer.prefix}"
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

    def _key(self, binding_id: str) -> str:
        """The key that does `binding_id`, after a `[keys]` remap (the app's `key_label`)."""
        label: Callable[[str], str] = getattr(self.app, "key_label", default_key)
        return label(binding_id)

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
        else:
            once, always, deny = (self._key(f"approval.{i}") for i in ("once", "always", "deny"))
            if offer.offered:
                keys = f"  {once} approve once · {always} always allow · {deny} deny"
            else:
                keys = f"  {once} approve once · {deny} deny"
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
                always_text(offer, self._key("approval.always")),
                "$legible-success" if offer.offered else "$legible-warning",
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
