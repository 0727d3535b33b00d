"""The approval inbox: commands waiting for the operator, oldest first."""

from __future__ import annotations

from textual.content import Content
from textual.widgets import Static

from tui.view_model import RunView, one_line

SHOWN = 4


class ApprovalInbox(Static):
    """Hidden while empty; `a` approves, `A` always allows, `d` denies the oldest."""

    DEFAULT_CSS = """
    ApprovalInbox {
        display: none;
        height: auto;
        max-height: 8;
        border: round $warning;
        border-title-color: $warning;
        padding: 0 1;
        margin: 0 1;
    }
    ApprovalInbox.-open { display: block; }
    """

    def __init__(self, *, id: str | None = None, read_only: bool = False) -> None:
        super().__init__("", id=id, markup=False)
        self.read_only = read_only
        self.count = 0

    def show(self, view: RunView) -> None:
        items = list(view.approvals.values())
        self.count = len(items)
        self.set_class(bool(items), "-open")
        if not items:
            return
        keys = "" if self.read_only else "  a approve · A always allow prefix · d deny"
        self.border_title = f"Approvals ({len(items)}){keys}"
        lines = []
        for i, ap in enumerate(items[:SHOWN]):
            marker = ("▶ ", "bold $warning") if i == 0 else ("  ", "")
            lines.append(
                Content.assemble(
                    marker,
                    (ap.agent_id, "bold"),
                    (f" {ap.tool}: ", "$text-muted"),
                    (one_line(ap.command, 200), "$text"),
                    ("  in ", "$text-muted"),
                    (ap.cwd, "$text-muted"),
                )
            )
        if len(items) > SHOWN:
            lines.append(Content.styled(f"  … {len(items) - SHOWN} more", "$text-muted"))
        self.update(Content("\n").join(lines))
