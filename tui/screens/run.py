"""The main screen: the CEO conversation beside the agent board, live or in replay.

Events only touch plain data (`RunView`); an 8 Hz timer flushes what changed into
fixed-size widgets inside `batch_update()`, so many streaming agents cannot starve keys.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.command import Provider
from textual.containers import Horizontal, Vertical
from textual.events import DescendantFocus, Resize
from textual.screen import Screen
from textual.widgets import Input

from core.tools.always_allow import always_allow_offer
from tui.commands import AgentCommands, applies
from tui.keymap import default_key
from tui.replay import ReplayFeed
from tui.screens.confirm import ConfirmScreen
from tui.screens.retry import RetryRequest, RetryScreen
from tui.screens.steer import RECENT_LINES, SteerScreen
from tui.screens.transcript import TranscriptScreen
from tui.view_model import AgentView, RunView, one_line
from tui.widgets.agent_board import PANE_MIN_WIDTH, AgentBoard
from tui.widgets.agent_pane import AgentPane
from tui.widgets.approvals import ApprovalInbox
from tui.widgets.ceo_chat import CeoChat
from tui.widgets.run_header import RunHeader
from tui.widgets.steady_footer import SteadyFooter
from tui.widgets.view_tabs import BOARD, CHAT, ViewTabs

if TYPE_CHECKING:
    from core.session import Session

STEER_SCREEN = "steer"
FLUSH_S = 0.125  # each flush draws a few panes (see agent_board.PANES_PER_FLUSH)
TICKS_PER_CLOCK = 8  # clocks move once a second
EXTEND_S = 300.0
# Below this many columns the chat and the board share the screen as two tabs (the board
# beside a chat column would hold one narrow pane column).
NARROW_BELOW = 120
SWITCH_ID, SWITCH_KEY = "view.switch", "ctrl+t"
CHAT_MIN_WIDTH = 40
# Hints in the message box name no key it would type: `q` there is a letter of the reply.
ANSWERED_PLACEHOLDER = "Reply, or {back} then {quit} to finish"
OVER_LIVE_HINT = "replay — {back} returns to the live run"

AGENT_ACTIONS = frozenset({"steer", "interrupt", "kill", "retry", "extend", "transcript"})
APPROVAL_ACTIONS = frozenset({"approve", "always", "deny"})
REPLAY_ACTIONS = frozenset({"pause", "faster", "slower", "to_end"})


class RunScreen(Screen[None]):
    COMMANDS: ClassVar[set[type[Provider] | Callable[[], type[Provider]]]] = {AgentCommands}
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("s", "steer", "Steer", id="agent.steer"),
        Binding("S", "interrupt", "Interrupt+steer", id="agent.interrupt"),
        Binding("x", "kill", "Kill", id="agent.kill"),
        Binding("r", "retry", "Retry", id="agent.retry"),
        Binding("plus", "extend", "+5 min", key_display="+", id="agent.extend"),
        Binding("enter", "transcript", "Transcript", id="agent.transcript"),
        Binding("a", "approve", "Approve", id="approval.once"),
        Binding("A", "always", "Always allow", id="approval.always"),
        Binding("d", "deny", "Deny", id="approval.deny"),
        Binding("c", "clear_finished", "Clear done", id="board.clear", show=False),
        Binding("i", "focus_input", "Message CEO", id="chat.focus", show=False),
        Binding("escape", "back_to_live", "Back to live run", id="replay.back"),
        Binding("escape", "focus_board", "Board", id="board.focus", show=False),
        Binding(SWITCH_KEY, "switch_view", "Chat/Board", id=SWITCH_ID),
        Binding("space", "pause", "Pause", id="replay.pause"),
        Binding("right_square_bracket", "faster", "Faster", key_display="]", id="replay.faster"),
        Binding("left_square_bracket", "slower", "Slower", key_display="[", id="replay.slower"),
        Binding("G", "to_end", "End", id="replay.end"),
    ]

    def __init__(
        self,
        view: RunView,
        *,
        session: Session | None = None,
        replay: ReplayFeed | None = None,
        clock: Callable[[], float] | None = None,
        export_dir: Path | None = None,
        focus_input: bool = False,
        over_live: bool = False,
    ) -> None:
        super().__init__()
        self.view = view
        self.over_live = over_live  # a replay opened over the live run: escape goes back
        self.session = session
        self.replay = replay
        self.clock = clock or (replay.now if replay is not None else time.time)
        self.export_dir = export_dir or Path.cwd()
        self.focus_input_first = focus_input
        # Held, not queried: a DOM query walks every widget, and the flush runs 8 times a
        # second.
        self.header = RunHeader(id="run-header")
        self.chat = CeoChat(id="ceo-chat", read_only=self.read_only)
        self.inbox = ApprovalInbox(id="approvals", read_only=self.read_only)
        self.board = AgentBoard(id="board")
        self.tabs = ViewTabs(id="view-tabs")
        self.narrow = False
        self.showing = BOARD  # the tab on screen while narrow
        self._chat_seen = 0  # chat items when the chat tab was last on screen
        self._ticks = 0
        self._binding_key: tuple[object, ...] = ()
        self.flushes = 0

    @property
    def selected(self) -> str | None:
        """The agent the operator is on: the board owns the selection."""
        return self.board.selected

    @property
    def read_only(self) -> bool:
        return self.session is None

    # --- layout --------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield self.header
        yield self.tabs
        with Horizontal(id="run-body"):
            yield self.chat
            with Vertical(id="board-column"):
                yield self.inbox
                yield self.board
        yield SteadyFooter()

    async def on_mount(self) -> None:
        if self.replay is not None:
            self.replay.start()
        await self.flush()
        self.set_interval(FLUSH_S, self.flush, name="flush")
        if self.focus_input_first and not self.read_only:
            self.chat.input.focus()
        else:
            self.board.focus()
        if self.over_live:
            self.notify(self.over_live_hint(), title="Replay", timeout=6)

    async def on_unmount(self) -> None:
        if self.replay is not None:
            await self.replay.stop()

    # --- narrow: the chat and the board as two tabs --------------------------

    def on_resize(self, event: Resize) -> None:
        width = event.size.width
        narrow = width < NARROW_BELOW
        if not narrow:
            # Two fifths for the chat, but never so much that the board drops to one pane
            # column (from 120 columns up the board keeps two).
            board = 2 * PANE_MIN_WIDTH + 3  # two panes, the gutter, the board's padding
            self.chat.styles.width = max(CHAT_MIN_WIDTH, min(width * 2 // 5, width - board))
        if narrow == self.narrow:
            return
        self.narrow = narrow
        self.set_class(narrow, "-narrow")
        if narrow:
            focused = self.focused
            in_chat = focused is not None and self.chat in (focused, *focused.ancestors)
            self.show_view(CHAT if in_chat else BOARD)
        self.refresh_bindings()

    def show_view(self, view: str) -> None:
        """Put the board or the chat on screen (narrow only; wide shows both)."""
        self.showing = view
        self.set_class(view == CHAT, "-chat")
        if view == CHAT:
            self._chat_seen = len(self.view.chat)
        else:
            self.call_after_refresh(self.flush)  # the board drew nothing while out of view
        self._show_tabs()

    async def on_screen_resume(self) -> None:
        """Back on top (a screen above was closed): the board catches up at once."""
        if self.flushes:  # not before the first flush (on mount)
            await self.flush()

    def _show_tabs(self) -> None:
        if not self.narrow:
            return
        self.tabs.show(
            self.showing,
            self._switch_key(),
            unseen_chat=len(self.view.chat) > self._chat_seen,
            approvals=len(self.view.approvals) if self.showing == CHAT else 0,
        )

    def _key(self, binding_id: str) -> str:
        """A key as the footer shows it, after a `[keys]` remap (the app's `key_label`)."""
        label: Callable[[str], str] = getattr(self.app, "key_label", default_key)
        return label(binding_id)

    def answered_placeholder(self) -> str:
        """The message box's hint when the CEO answered: the keys that finish the run."""
        return ANSWERED_PLACEHOLDER.format(
            back=self._key("board.focus"), quit=self._key("app.quit")
        )

    def over_live_hint(self) -> str:
        """What a replay opened over the live run says: the key back to it."""
        return OVER_LIVE_HINT.format(back=self._key("replay.back"))

    def _switch_key(self) -> str:
        return self._key(SWITCH_ID)

    def action_switch_view(self) -> None:
        if not self.narrow:
            return
        if self.showing == BOARD:
            self.show_view(CHAT)
            if self.read_only:
                self.chat.log_view.focus()
            else:
                self.chat.input.focus()
        else:
            self.show_view(BOARD)
            self.action_focus_board()

    # --- the flush -----------------------------------------------------------

    async def flush(self) -> None:
        """Move what changed in the view into the widgets: one batch, 8 times a second."""
        self.flushes += 1
        self._ticks += 1
        tick = self._ticks % TICKS_PER_CLOCK == 0
        agents, chat, run = self.view.take_dirty()
        now = self.clock()
        board = self.board
        with self.app.batch_update():
            if run or tick:
                label = self.replay.label if self.replay is not None else ""
                paused = self.replay.paused if self.replay is not None else False
                self.header.show(self.view, replay=label, paused=paused)
                self.inbox.show(self.view)
                self._chat_state()
            board.sync(self.view, now, agents, tick)
        await self.chat.sync(self.view, chat)
        if self.narrow:
            if self.showing == CHAT:
                self._chat_seen = len(self.view.chat)
            self._show_tabs()
        self._maybe_refresh_bindings()

    def _chat_state(self) -> None:
        chat = self.chat
        if self.read_only:
            chat.set_state("replay", placeholder=self.over_live_hint() if self.over_live else None)
        elif self.view.status != "running":
            chat.set_state(self.view.status)
        elif self.view.ceo_busy:
            chat.set_state("CEO busy", queued=True)
        elif self.view.answered:
            chat.set_state("waiting for you", placeholder=self.answered_placeholder())
        else:
            chat.set_state("CEO idle")

    def _maybe_refresh_bindings(self) -> None:
        agent = self.agent()
        key = (
            self.selected,
            agent.state if agent else None,
            agent.attempt if agent else None,
            # The oldest request the inbox shows (is "always" offered?): not the view's,
            # which events change between flushes, so the keys never come before the box.
            self.inbox.oldest.request_id if self.inbox.oldest else None,
            self.replay.paused if self.replay else None,
        )
        if key != self._binding_key:
            self._binding_key = key
            self.refresh_bindings()

    # --- selection -----------------------------------------------------------

    @on(DescendantFocus)
    def _agent_focused(self, event: DescendantFocus) -> None:
        widget = event.widget
        if self.narrow:  # tab, i or escape moved focus to the other tab: show it
            side = CHAT if self.chat in (widget, *widget.ancestors) else BOARD
            if side != self.showing:
                self.show_view(side)
        if isinstance(widget, AgentPane) and widget.agent_id is not None:
            self.board.selected = widget.agent_id
            self._maybe_refresh_bindings()

    @on(AgentBoard.Selected)
    def _agent_selected(self) -> None:
        self._maybe_refresh_bindings()

    def agent(self) -> AgentView | None:
        if self.selected is None:
            return None
        return self.view.agents.get(self.selected)

    def select(self, agent_id: str) -> None:
        self.board.focus_agent(agent_id)
        self._maybe_refresh_bindings()

    # --- bindings ------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "back_to_live":
            return self.over_live  # else escape is the board's key
        if action == "switch_view":
            return self.narrow
        if action in REPLAY_ACTIONS:
            return self.replay is not None
        if action in APPROVAL_ACTIONS:
            if self.read_only:
                return False
            # What the inbox shows, not the view (events reach it between flushes): the
            # footer shows these keys once the box they answer is on screen, and not at
            # all (not even dimmed) while no command waits.
            if self.inbox.oldest is None or self.inbox.offer is None:
                return False
            if action == "always" and not self.inbox.offer.offered:
                return None  # dimmed; the inbox says why
            return True
        if action in AGENT_ACTIONS:
            agent = self.agent()
            if action == "transcript":
                return agent is not None
            if self.read_only:
                return False
            if agent is None:
                return None
            return applies(action, agent)
        return True

    # --- agent commands ------------------------------------------------------

    def _session(self) -> Session | None:
        if self.session is None:
            self.notify("Replay is read-only.", severity="warning")
        return self.session

    def _fail(self, exc: Exception) -> None:
        self.notify(str(exc), title="Not done", severity="error")

    def action_steer(self, interrupt: bool = False) -> None:
        agent = self.agent()
        session = self._session()
        if agent is None or session is None:
            return
        agent_id = agent.agent_id

        def send(text: str | None) -> None:
            if not text:
                return
            self.steer(agent_id, text, interrupt=interrupt)

        recent = agent.tail_lines(RECENT_LINES)
        screen = self._steer_screen().prepare(
            agent_id, agent.task, interrupt=interrupt, recent=recent
        )
        self.app.push_screen(screen, send)

    def _steer_screen(self) -> SteerScreen:
        """The app's one steer modal, installed on first use and reused after."""
        if not self.app.is_screen_installed(STEER_SCREEN):
            self.app.install_screen(SteerScreen(), STEER_SCREEN)
        screen = self.app.get_screen(STEER_SCREEN)
        assert isinstance(screen, SteerScreen)
        return screen

    def action_interrupt(self) -> None:
        self.action_steer(interrupt=True)

    def steer(self, agent_id: str, text: str, *, interrupt: bool = False) -> None:
        from core.session import SessionError

        if self.session is None:
            return
        try:
            self.session.steer(agent_id, text, interrupt=interrupt)
        except SessionError as exc:
            self._fail(exc)
            return
        kind = "Interrupt" if interrupt else "Steer"
        self.notify(f"{kind} queued for {agent_id}", timeout=3)

    def action_kill(self) -> None:
        agent = self.agent()
        if agent is None or self._session() is None:
            return
        agent_id = agent.agent_id

        def answer(yes: bool | None) -> None:
            if yes:
                self.kill(agent_id)

        self.app.push_screen(
            ConfirmScreen(f"Kill {agent_id} and every process it started?", "Kill"), answer
        )

    @work(group="agent-commands", exit_on_error=False)
    async def kill(self, agent_id: str) -> None:
        from core.session import SessionError

        if self.session is None:
            return
        try:
            state = await self.session.kill(agent_id)
        except SessionError as exc:
            self._fail(exc)
            return
        self.notify(f"{agent_id}: {state}", timeout=3)

    def action_retry(self) -> None:
        agent = self.agent()
        session = self._session()
        if agent is None or session is None:
            return
        agent_id = agent.agent_id
        catalog = session.settings.catalog.models
        models = sorted(catalog)
        prices = {m: info.price for m, info in catalog.items()}

        def answer(request: RetryRequest | None) -> None:
            if request is not None:
                self.retry(agent_id, request.note, request.model)

        ending = agent.result or agent.reason or agent.state.replace("_", " ")
        recent = [*agent.tail_lines(RECENT_LINES - 2), f"= {ending}"]
        self.app.push_screen(
            RetryScreen(agent_id, agent.attempt, agent.model, models, prices=prices, recent=recent),
            answer,
        )

    def retry(self, agent_id: str, note: str | None, model: str | None) -> None:
        from core.session import SessionError

        if self.session is None:
            return
        try:
            attempt = self.session.retry(agent_id, note, model)
        except SessionError as exc:
            self._fail(exc)
            return
        self.notify(f"{agent_id}: attempt {attempt} started", timeout=3)

    def action_extend(self) -> None:
        from core.session import SessionError

        agent = self.agent()
        session = self._session()
        if agent is None or session is None:
            return
        try:
            timeout = session.extend_timeout(agent.agent_id, EXTEND_S)
        except SessionError as exc:
            self._fail(exc)
            return
        minutes = f"{timeout / 60:g} min" if timeout else "none"
        self.notify(f"{agent.agent_id}: timeout now {minutes}", timeout=3)

    def action_transcript(self) -> None:
        if self.selected is None:
            return
        self.app.push_screen(TranscriptScreen(self.view, self.selected, self.export_dir))

    # --- approvals -----------------------------------------------------------

    def answer_oldest(self, decision: str) -> None:
        from core.session import SessionError

        session = self._session()
        if session is None:
            return
        pending = sorted(session.pending_approvals(), key=lambda p: p.created_at)
        if not pending:
            self.notify("No command is waiting for approval.", timeout=3)
            return
        # The request the inbox shows as the oldest: the one the operator read.
        shown = self.inbox.oldest.request_id if self.inbox.oldest else None
        request = next((p for p in pending if p.request_id == shown), pending[0])
        offer = always_allow_offer(request.command)
        if decision == "always" and offer.prefix is None:
            self.notify(f"No always-allow: {offer.reason}", severity="warning", timeout=5)
            return
        try:
            session.answer_approval(request.request_id, decision)
        except SessionError as exc:
            self._fail(exc)
            return
        if decision == "always":
            message = (
                f"{request.agent_id}: allowed from now on: commands starting with {offer.prefix}"
            )
        else:
            word = {"once": "approved", "deny": "denied"}[decision]
            message = f"{request.agent_id}: {word}: {one_line(request.command, 200)}"
        self.notify(message, timeout=3)

    def action_approve(self) -> None:
        self.answer_oldest("once")

    def action_always(self) -> None:
        self.answer_oldest("always")

    def action_deny(self) -> None:
        self.answer_oldest("deny")

    # --- board and chat ------------------------------------------------------

    def action_clear_finished(self) -> None:
        n = self.view.clear_finished()  # the board moves the selection off cleared panes
        self.notify(f"Cleared {n} finished pane(s).", timeout=2)

    def action_focus_input(self) -> None:
        if not self.read_only:
            self.chat.input.focus()

    def action_back_to_live(self) -> None:
        if self.over_live and self.app.screen is self:
            self.dismiss(None)

    def action_focus_board(self) -> None:
        board = self.board
        if self.selected is None or not board.focus_agent(self.selected):
            board.focus()

    @on(Input.Submitted, "#chat-input")
    def _send(self, event: Input.Submitted) -> None:
        from core.session import SessionError

        text = event.value.strip()
        if not text or self.session is None:
            return
        try:
            queued = self.session.say(text)
        except SessionError as exc:
            self._fail(exc)
            return
        event.input.value = ""
        if queued:
            self.chat.set_state("queued", queued=True)

    # --- replay --------------------------------------------------------------

    def action_pause(self) -> None:
        if self.replay is not None:
            self.replay.toggle_pause()

    def action_faster(self) -> None:
        if self.replay is not None:
            self.replay.faster()

    def action_slower(self) -> None:
        if self.replay is not None:
            self.replay.slower()

    def action_to_end(self) -> None:
        if self.replay is not None:
            self.replay.skip_to_end()
