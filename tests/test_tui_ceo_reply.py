"""A CEO reply streamed in pieces reads back whole and in order, however the pieces fall."""

from __future__ import annotations

from textual.app import App, ComposeResult

from tui.view_model import ChatItem
from tui.widgets.ceo_chat import CeoReply

PIECES = [
    "Everything is done and verified.\n\n- **writer-1** (writer): done. Wrote the ",
    "landing page copy for a coffee ",
    "subscription to deliverables/site/copy.md.\n",
    "- **coding-1**: done.",
]


class _One(App[None]):
    def compose(self) -> ComposeResult:
        yield CeoReply(1)


async def test_pieces_and_the_final_one_with_the_end_of_the_turn_keep_all_text() -> None:
    app = _One()
    async with app.run_test() as pilot:
        reply = app.query_one(CeoReply)
        item = ChatItem(item_id=1, kind="ceo", streaming=True)
        for piece in PIECES[:-1]:
            item.text += piece
            await reply.show(item)
        item.text += PIECES[-1]
        item.streaming = False  # the last piece and the end of the turn in one flush
        await reply.show(item)
        await pilot.pause()
        assert reply.source == "".join(PIECES)
