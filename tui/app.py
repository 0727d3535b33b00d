"""The Textual app: one run screen (live or replay), plus history, help and quit."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from textual import work
from textual.app import App, SystemCommand
from textual.binding import Binding, BindingType
from textual.notifications import Notification, Notify, SeverityLevel
from textual.screen import Screen

from core.bus import HeldEvents
from core.events import ApprovalResolved, Event, RunFinished
from tui import strip_cycles
from tui.attention import Alert, Attention
from tui.contrast import legible_variables
from tui.keymap import first_key
from tui.replay import ReplayFeed
from tui.screens.confirm import ConfirmScreen
from tui.screens.help import HelpScreen
from tui.screens.history import HistoryScreen
from tui.screens.run import RunScreen
from tui.screens.starting import StartingScreen
from tui.view_model import RunView

if TYPE_CHECKING:
    from core.records import RunRecords
    from core.session import Session

QUIT_QUESTION = "quit-question"  # the name of the quit ConfirmScreen

strip_cycles.install()  # before any frame is drawn (see tui/strip_cycles.py)

RUN_COMMANDS: tuple[tuple[str, str, str], ...] = (
    ("Steer the focused agent", "s: message at its next turn", "steer"),
    ("Interrupt and steer the focused agent", "S: cancel its reply, deliver now", "interrupt"),
    ("Kill the focused agent", "x: asks once", "kill"),
    ("Retry the focused agent", "r: note and model", "retry"),
    ("Add 5 minutes to the focused agent", "+: extend its timeout", "extend"),
    ("Open the focused agent's transcript", "enter", "transcript"),
    ("Approve the oldest command", "a: once", "approve"),
    ("Always allow the oldest command's prefix", "A", "always"),
    ("Deny the oldest command", "d", "deny"),
    ("Clear finished panes", "c", "clear_finished"),
    ("Message the CEO", "i: focus the message box", "focus_input"),
    ("Pause or resume the replay", "space", "pause"),
    ("Replay faster", "]", "faster"),
    ("Replay slower", "[", "slower"),
    ("Jump to the end of the replay", "G", "to_end"),
)


class DelegateApp(App[int]):
    """Live when given a `session` (or `connect`, which builds one after the first frame),
    a replay when given `replay_events`."""

    CSS_PATH = "app.tcss"
    TITLE = "delegate"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("q", "quit_run", "Quit", id="app.quit"),
        Binding("question_mark,f1", "help", "Help", key_display="?", id="app.help"),
        Binding("h", "history", "History", id="app.history"),
        Binding(
            "dollar_sign", "dashboard", "Dashboard", key_display="$", id="app.dashboard", show=False
        ),
    ]

    def __init__(
        self,
        *,
        session: Session | None = None,
        connect: Callable[[], Awaitable[Session]] | None = None,
        task: str | None = None,
        store: RunRecords | None = None,
        replay_events: Sequence[Event] | None = None,
        prior_events: Iterable[Event] = (),
        replay_speed: float = 4.0,
        export_dir: Path | None = None,
        clock: Callable[[], float] | None = None,
        autostart: bool = True,
        keymap: dict[str, str] | None = None,
        start_notice: str | None = None,
        held: HeldEvents | None = None,
    ) -> None:
        super().__init__()
        self.held = held  # what a session that started first published before the app listened
        self.keymap = dict(keymap or {})  # binding id -> keys, from the config's [keys]
        self.start_notice = start_notice  # a line for the chat when the run starts
        self.session = session
        self.connect = connect
        self.connect_error: BaseException | None = None
        self.initial_task = task
        self.store = store
        self.view = RunView()
        self.resumed = False  # a recorded run reopened (`delegate resume`)
        for event in prior_events:
            self.view.apply(event)
            self.resumed = True
        self.replay: ReplayFeed | None = None
        if replay_events is not None:
            self.replay = ReplayFeed(replay_events, self.view, speed=replay_speed)
        self.export_dir = export_dir
        self.clock = clock
        self.autostart = autostart
        self.main_screen: RunScreen | None = None
        self.session_closed = False
        self.store_failure: str | None = None  # why the run's events cannot be written
        self.attention: Attention | None = None  # bell, desktop notification, toasts
        # By request id, until answered: the alert and the toast that shows it.
        self._approval_toasts: dict[str, tuple[Alert, Notification]] = {}

    def on_mount(self) -> None:
        self.screen_change_signal.subscribe(self, self._screen_changed)
        if self.keymap:
            self.set_keymap(self.keymap)
        if self.session is None and self.connect is not None:
            self.push_screen(StartingScreen(self.initial_task))
            self.run_worker(self._connect(), group="connect", exit_on_error=False)
            return
        self._open_run()

    async def _connect(self) -> None:
        """Build the session while the starting screen shows, then open the run."""
        assert self.connect is not None
        try:
            self.session = await self.connect()
        except Exception as exc:  # shown by the CLI as one line once the app has exited
            self.connect_error = exc
            self.exit(return_code=2)
            return
        screen = self._run_screen()
        await self.switch_screen(screen)  # mounted (and first flushed) before events flow
        self._attach_session()

    def _open_run(self) -> None:
        self.push_screen(self._run_screen())
        self._attach_session()

    def _run_screen(self) -> RunScreen:
        screen = RunScreen(
            self.view,
            session=self.session,
            replay=self.replay,
            clock=self.clock,
            export_dir=self.export_dir,
            # A new run without a task starts in the message box; a resumed run (its
            # events given) or one with a task starts on the board.
            focus_input=self.session is not None and not self.initial_task and not self.resumed,
        )
        self.main_screen = screen
        return screen

    def _attach_session(self) -> None:
        if self.session is not None:
            if self.store is not None and not self.store.readonly:
                self.store.on_failure(self._store_failed)
            if self.held is not None:  # in the same step as subscribing: none lost, none twice
                for event in self.held.release():
                    self.view.apply(event)
            self.session.bus.subscribe(self.view.apply)
            self.attention = Attention(
                self.session.settings.notify,
                write=self.write_terminal,
                toast=self._toast,
                label=self.key_label,
            )
            self.session.bus.subscribe(self._attend)
            if self.autostart:
                self.session.start(self.initial_task or None)
            if self.start_notice:
                from core.events import Notice

                # The CEO's column: info notices from the run itself stay off the chat.
                notice = Notice(run_id=self.session.run_id, agent_id="ceo", text=self.start_notice)
                self.session.emit(notice)

    def _attend(self, event: Event) -> None:
        """Call the operator back when the run needs them (not for the end they chose)."""
        if isinstance(event, ApprovalResolved):  # answered: its "a approve · d deny" goes
            shown = self._approval_toasts.pop(event.request_id, None)
            if shown is not None:
                self._drop_toasts([shown[1]])
            return
        if self.attention is None or (self.session_closed and isinstance(event, RunFinished)):
            return
        self.attention.observe(event)

    def on_notify(self, event: Notify) -> None:
        """Before Textual shows a toast: on a narrow run screen the newest only (an error
        stays), over the header (app.tcss): stacked there they would reach over the chat."""
        screen = self.screen_stack[-1] if self.screen_stack else None
        if isinstance(screen, RunScreen) and screen.narrow:
            self._drop_toasts([n for n in self._notifications if n.severity != "error"])

    def _drop_toasts(self, stale: list[Notification]) -> None:
        for notification in stale:
            if notification in self._notifications:
                self._unnotify(notification, refresh=False)
        if stale:
            self._refresh_notifications()

    def key_label(self, binding_id: str) -> str:
        """The key that does `binding_id` here (the config's `[keys]` apply), as the footer
        shows it."""
        return self.get_key_display(Binding(first_key(binding_id, self.keymap), binding_id))

    def _toast(self, alert: Alert, timeout: float = 8.0) -> None:
        severity: SeverityLevel = alert.severity  # type: ignore[assignment]
        notification = Notification(self._toast_text(alert), alert.title, severity, timeout)
        if alert.request_id is not None:
            self._approval_toasts[alert.request_id] = (alert, notification)
        self.post_message(Notify(notification))

    def _toast_text(self, alert: Alert) -> str:
        screen = self.screen_stack[-1] if self.screen_stack else None
        if not alert.keys or screen is self.main_screen:
            return alert.text(self.key_label)
        # Its keys work on the live run's screen only (not the history, a transcript...).
        return f"{alert.message} (answer it on the run screen)"

    def _screen_changed(self, screen: Screen[Any]) -> None:
        """Approval toasts still up say again how to answer, on the screen now shown."""
        for request_id, (alert, shown) in list(self._approval_toasts.items()):
            if shown not in self._notifications:  # timed out
                del self._approval_toasts[request_id]
            elif self._toast_text(alert) != shown.message:
                self._drop_toasts([shown])
                self._toast(alert, max(shown.time_left, 1.0))

    def write_terminal(self, text: str) -> None:
        """Raw output for the real terminal (bell, OSC notifications), between frames."""
        driver = self._driver
        if driver is not None and self.is_running:
            driver.write(text)

    def _store_failed(self, error: Exception) -> None:
        """The run's events cannot be written (disk full...): stop it, and say so plainly."""
        self.store_failure = str(error)
        if self.session is not None:
            from core.events import Notice

            self.session.emit(
                Notice(run_id=self.session.run_id, agent_id="ceo", text=str(error), level="error")
            )
            self.session.abort(str(error))
        self.notify(
            f"{error}. The run was stopped: it cannot be recorded.",
            title="Not recorded",
            severity="error",
            timeout=3600,
        )

    def get_css_variables(self) -> dict[str, str]:
        """The theme's variables plus `$legible-*`: its text colours at WCAG AA contrast."""
        variables = super().get_css_variables()
        variables.update(legible_variables(variables, self.ansi_theme))
        return variables

    # --- app keys ------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        # History, once open, is not offered again in its own footer.
        return not (action == "history" and isinstance(self.screen, HistoryScreen))

    def action_help(self) -> None:
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen(self.keymap))

    def action_dashboard(self) -> None:
        """The run dashboard of the run on screen (a replay's when one is open)."""
        from tui.screens.dashboard import DashboardScreen

        screen = self.screen
        if isinstance(screen, DashboardScreen):  # the same key closes it (when remapped too)
            screen.dismiss(None)
            return
        run = screen if isinstance(screen, RunScreen) else self.main_screen
        if run is None:
            self.notify("No run is open yet.", severity="warning")
            return
        self.push_screen(DashboardScreen(run.view, clock=run.clock, store=self.store))

    def action_scorecard(self) -> None:
        from tui.screens.stats import StatsScreen

        if not isinstance(self.screen, StatsScreen):
            self.push_screen(StatsScreen(self.store))

    def action_history(self) -> None:
        if self.store is None:
            self.notify("No run database is open.", severity="warning")
            return

        def chosen(run_id: str | None) -> None:
            if run_id is not None:
                self.open_replay(run_id)

        self.push_screen(HistoryScreen(self.store), chosen)

    @work(group="history", exit_on_error=False)
    async def open_replay(self, run_id: str) -> None:
        if self.store is None:
            return
        events = await self.store.events(run_id)
        view = RunView()
        feed = ReplayFeed(events, view, speed=8.0)
        # Over a live run, escape returns to it (and the replay says so).
        over_live = self.session is not None and not self.session_closed
        self.push_screen(
            RunScreen(view, replay=feed, export_dir=self.export_dir, over_live=over_live)
        )

    async def action_quit(self) -> None:
        """Textual's own quit (ctrl+q, the palette's "Quit"): the same path as `q`."""
        self.action_quit_run()

    def action_quit_run(self) -> None:
        """The one way out: asks first while agents run or wait (stopping them cleanly)."""
        if isinstance(self.screen, StartingScreen):
            self.exit(0)  # nothing runs yet
            return
        if isinstance(self.screen, ConfirmScreen) and self.screen.name == QUIT_QUESTION:
            return  # already asking
        session = self.session
        active = [a for a in self.view.agents.values() if not a.finished]
        ceo_working = self.view.ceo_busy  # replying, checking or running a tool
        if session is None or session.finished or self.session_closed:
            active, ceo_working = [], False
        if not active and not ceo_working:
            self.stop_and_exit()
            return
        if active:
            names = ", ".join(a.agent_id for a in active[:4]) + (" …" if len(active) > 4 else "")
            one = len(active) == 1
            question = (
                f"{len(active)} agent{'' if one else 's'} not finished yet ({names}): "
                f"{'it ends' if one else 'they end'} stopped (`delegate resume` can retry "
                f"{'it' if one else 'them'}). Stop {'it' if one else 'them'} and quit?"
            )
        else:
            question = (
                "The CEO is still working (replying, checking or running a tool). It ends "
                "stopped (`delegate resume` picks the run up again). Stop it and quit?"
            )

        def answer(yes: bool | None) -> None:
            if yes:
                self.stop_and_exit()

        self.push_screen(ConfirmScreen(question, "Stop and quit", name=QUIT_QUESTION), answer)

    @work(group="quit", exclusive=True, exit_on_error=False)
    async def stop_and_exit(self) -> None:
        await self.close_session()
        self.exit(0)

    async def close_session(self) -> None:
        """Stop every agent cleanly (once); the run is recorded as done or cancelled."""
        session = self.session
        if session is None or self.session_closed:
            return
        self.session_closed = True
        if not session.finished:
            self.notify("Stopping agents…", timeout=5)
        await session.close()  # recorded as done if the CEO had answered, else cancelled

    # --- command palette -----------------------------------------------------

    def get_system_commands(self, screen: Screen[object]) -> Iterable[SystemCommand]:
        for command in super().get_system_commands(screen):
            if command.title != "Quit":  # Textual's own quits at once: ours asks first
                yield command
        yield SystemCommand("Help: keys", "?", self.action_help)
        yield SystemCommand("History of runs", "h: replay a past run", self.action_history)
        yield SystemCommand(
            "Run dashboard", "$: tokens, cost, tokens/s, spend over time", self.action_dashboard
        )
        yield SystemCommand(
            "Model scorecard", "pass rate, cost and time per role and model", self.action_scorecard
        )
        yield SystemCommand(
            "Quit", "q: asks first while agents run (they end stopped)", self.action_quit_run
        )
        if not isinstance(screen, RunScreen):
            return
        for title, help_text, action in RUN_COMMANDS:
            if screen.check_action(action, ()):
                yield SystemCommand(title, help_text, getattr(screen, f"action_{action}"))
