"""Below a width, the run screen shows the board or the chat, not both: this line says
which, what is new on the other side, and the key that switches."""

from __future__ import annotations

from textual.content import Content
from textual.widgets import Static

BOARD, CHAT = "board", "chat"


class ViewTabs(Static):
    """One line: ` Board ` and ` Chat `, the shown one lit; `•` marks unseen CEO output."""

    DEFAULT_CSS = """
    ViewTabs {
        display: none; height: 1; padding: 0 1; background: $panel;
        text-wrap: nowrap; text-overflow: ellipsis;
    }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__("", id=id, markup=False)
        self._shown: tuple[object, ...] = ()

    def show(self, showing: str, key: str, *, unseen_chat: bool, approvals: int) -> None:
        state = (showing, key, unseen_chat, approvals)
        if state == self._shown:
            return
        self._shown = state
        # The accent as text at AA on the panel (tui/contrast.py): a theme's own accent
        # may not be (textual-light's orange on its grey: 1.27:1).
        lit, dim = "bold reverse $legible-accent", "$text-muted"
        new = "bold $legible-accent" if unseen_chat else dim
        board_label = " Board " if not approvals else f" Board · {approvals} to approve "
        chat_label = " Chat • " if unseen_chat and showing == BOARD else " Chat "
        self.update(
            Content.assemble(
                (board_label, lit if showing == BOARD else dim),
                " ",
                (chat_label, lit if showing == CHAT else new),
                ("   ", ""),
                (key, "bold"),
                (" switches", "$text-muted"),
            ),
            layout=False,
        )
