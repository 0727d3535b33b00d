"""The Session: one run wired together, and the API the CLI and the TUI use.

Commands go down as method calls here; everything that happens comes back up as
events on `session.bus`.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from core import redact
from core.agent import Agent, AgentFailed, Emit
from core.bus import EventBus
from core.ceo import MAX_LISTED, CeoTools, ceo_system_prompt
from core.claims import unsupported_claims
from core.collisions import CollisionRadar
from core.config import Settings, default_db_path
from core.errors import DelegateError
from core.events import (
    CEO_ID,
    AgentFinished,
    AgentSpawned,
    AgentState,
    AgentStateChanged,
    CeoWaiting,
    ClaimsFlagged,
    Event,
    FileCollision,
    Notice,
    OperatorMessage,
    RunFinished,
    RunStarted,
    RunStatus,
)
from core.evidence import EvidenceBook, ToolRecorder
from core.llm import ModelClient, TurnError
from core.local_runner import LocalRunner
from core.model_access import ModelAccess, open_model_access
from core.outcome import Verification, settle
from core.run_budget import RunBudget
from core.runner import (
    STOP_REASONS,
    AgentRunner,
    Attempt,
    AttemptHooks,
    AttemptOutcome,
    AttemptSpec,
    InboxMessage,
    StopState,
)
from core.sandbox import CommandRunner, detect_runner
from core.supervisor import AgentRecord, Supervisor, SupervisorError
from core.tools.base import ToolContext
from core.tools.policy import ApprovalBroker, CommandPolicy, PendingApproval
from core.tools.registry import build_tools
from core.tools.shell import run_shell
from core.tools.workspace import Workspace

if TYPE_CHECKING:
    from core.records import RunRecords

__all__ = ["PendingApproval", "RunOutcome", "Session", "SessionError", "new_run_id"]

STOPPED = STOP_REASONS["stopped"]  # why agents (and the CEO) end when the operator quits


class SessionError(DelegateError):
    """A command the session cannot carry out; `str()` is one line for the user."""


@dataclass(frozen=True)
class RunOutcome:
    run_id: str
    status: RunStatus
    result: str
    cost_usd: float | None
    verified: bool = False


def new_run_id() -> str:
    return time.strftime("%Y%m%d-%H%M%S") + "-" + secrets.token_hex(2)


class Session:
    """One run of a CEO and its sub-agents.

    `interactive` runs (the TUI) keep the CEO alive after its answer, waiting for
    the operator, and ask before running commands that are not allowed; headless
    runs finish with the CEO's answer and deny such commands unless `assume_yes`.
    """

    def __init__(
        self,
        settings: Settings,
        *,
        interactive: bool = False,
        access: ModelAccess | None = None,
        run_id: str | None = None,
        bus: EventBus | None = None,
    ) -> None:
        self.settings = settings
        self.interactive = interactive
        self.access = access or open_model_access(settings)
        # Secrets are known before anything can print them: the key(s) in use and the
        # secret-looking variables of this process (see core.redact).
        self.redactor = redact.configure(self._keys_in_use())
        self.run_id = run_id or new_run_id()
        self.bus = bus or EventBus()
        self.workspace = settings.workspace.resolve()
        # Opened once: every agent's file tools resolve beneath this directory fd, so
        # replacing the workspace folder mid-run does not move them.
        self.root: Workspace | None = None
        with contextlib.suppress(OSError):  # the CLI checked it; a tool call says why
            self.root = Workspace(self.workspace)
        self.task = ""
        self.status: RunStatus = "running"
        self.result = ""
        self.error = ""  # why the run failed, one line
        self.started_at = time.monotonic()
        # Folded from this run's own events: the evidence ledgers and the checks.
        self.evidence = EvidenceBook()
        self.verification = Verification()
        self.client = ModelClient(
            self.access.client,
            retries=settings.turn_retries,
            base_delay_s=settings.retry_base_delay_s,
        )
        self.client.on_key_refused = self._key_refused
        # Why the run had to end at once (the API key was refused), for the CLI's exit code.
        self.fatal_error: str | None = None
        # Every command of this run goes through this runner (probed once per process);
        # raises SandboxRequired when `[sandbox] mode = "required"` and none can start.
        self.runner: CommandRunner = detect_runner(settings.sandbox, self.workspace)
        # Why the run was stopped from outside as failed (its events cannot be recorded).
        self.abort_reason: str | None = None
        self.policy = CommandPolicy(
            settings.permission_mode,
            settings.allow_commands,
            settings.deny_commands,
            sandbox=self.runner.state,
        )
        self.approvals = ApprovalBroker(
            emit=self.emit,
            run_id=self.run_id,
            policy=self.policy,
            interactive=interactive,
            assume_yes=settings.assume_yes,
            on_waiting=self._on_waiting,
        )
        # Every agent attempt (the sub-agents') runs through this runner (core.runner).
        self.agent_runner: AgentRunner = self._agent_runner()
        self.supervisor = Supervisor(
            run_id=self.run_id,
            emit=self.emit,
            runner=self.agent_runner,
            max_concurrent=settings.max_concurrent,
            max_agents=settings.max_agents,
            max_retries=settings.max_retries,
            stall_after_s=settings.stall_after_s,
            on_finished=self._on_agent_finished,
            on_stalled=self._on_stalled,
            on_ending=self._drop_approvals,
        )
        self.budget = RunBudget(
            run_id=self.run_id,
            budget_usd=settings.budget_usd,
            emit=self.emit,
            supervisor=self.supervisor,
            tell_ceo=lambda text: self._tell_ceo(text, wake="the run has used 80% of its budget"),
            stop_ceo=self._stop_ceo_for_budget,
        )
        self.radar = CollisionRadar(
            is_live=self._is_live, live_others=self._live_others, notify=self._collision
        )
        self.ceo_tools = CeoTools(
            supervisor=self.supervisor,
            settings=settings,
            run_check_fn=self._run_check,
            read_file_tool=build_tools(["read_file"])["read_file"],
            evidence=self.evidence,
            radar=self.radar,
        )
        self.ceo: Agent | None = None
        self.ceo_tools.operator_pending = lambda: (
            self.ceo is not None and any(m.source == "operator" for m in self.ceo.inbox)
        )
        # The CEO's attempt (through the runner) and the task that ends the run after it.
        self._ceo_attempt: Attempt | None = None
        self._ceo_task: asyncio.Task[None] | None = None
        self._ceo_history: list[dict[str, Any]] | None = None
        self._stoppers: set[asyncio.Task[AttemptOutcome]] = set()
        self._ceo_started_at = 0.0
        self._finished = asyncio.Event()
        self._stopping = False
        self._resumed = False
        self._ceo_waiting = False
        self._close_status: RunStatus | None = None
        self._closed = False
        self._budget_stop: str | None = None  # the CEO was stopped: the run's budget is spent
        # The recorded runs, read-only, when the session is recorded (core.session_life).
        self.records: RunRecords | None = None

    # --- events --------------------------------------------------------------

    def emit(self, event: Event) -> None:
        event = self.redactor.event(event)
        self.evidence.observe(event)
        self.verification.observe(event)
        self.bus.publish(event)

    def _keys_in_use(self) -> list[str | None]:
        if self.access.simulated:  # the built-in simulator's placeholder is no secret
            return []
        client = self.access.client
        return [getattr(client, "api_key", None), getattr(client, "auth_token", None)]

    def _emit(self, cls: type[Event], **fields: Any) -> None:
        self.emit(cls(run_id=self.run_id, **fields))

    @property
    def simulated(self) -> bool:
        return self.access.simulated

    # --- wiring --------------------------------------------------------------

    def _tool_context(self, agent_id: str, network: bool | None = None) -> ToolContext:
        s = self.settings
        return ToolContext(
            workspace=self.workspace,
            agent_id=agent_id,
            authorize=self.approvals.authorize,
            command_timeout_s=s.command_timeout_s,
            output_cap_bytes=s.output_cap_bytes,
            fetch_max_bytes=s.fetch_max_bytes,
            fetch_timeout_s=s.fetch_timeout_s,
            fetch_allow_private=s.fetch_allow_private,
            fetch_allow_hosts=s.fetch_allow_hosts,
            runner=self.runner.with_network(network),
            root=self.root,
        )

    def _make_agent(self, attempt: AttemptSpec, emit: Emit) -> Agent:
        """An attempt's agent, for the LocalRunner: the CEO (role "ceo") or a sub-agent."""
        if attempt.role == "ceo":
            return self._make_ceo(attempt, emit)
        spec = self.settings.roles[attempt.role]
        agent = Agent(
            run_id=self.run_id,
            agent_id=attempt.agent_id,
            role=attempt.role,
            model=attempt.model,
            system=spec.system_prompt,
            tools=build_tools(spec.tools),
            ctx=self._tool_context(attempt.agent_id, spec.network),
            client=self.client,
            catalog=self.settings.catalog,
            emit=emit,
            attempt=attempt.attempt,
            max_tokens=spec.max_tokens,
            token_budget=attempt.token_budget,
            budget_usd=attempt.budget_usd,
            ledger=self.budget.ledger,
            notify=self._tell_ceo,
            max_turns=spec.max_turns,
            repeat_limit=self.settings.repeat_limit,
            max_parallel_tools=self.settings.max_parallel_tools,
            cache=True,  # each turn reads the previous turn's prefix (see core.llm)
            recorder=self._recorder(attempt.agent_id, attempt.attempt),
        )
        agent.start(attempt.first_message)
        return agent

    def _recorder(self, agent_id: str, attempt: int) -> ToolRecorder:
        return ToolRecorder(
            run_id=self.run_id,
            agent_id=agent_id,
            attempt=attempt,
            emit=self.emit,
            on_write=self.radar.on_write,
            unscanned=(self.settings.db_path or default_db_path(),),
        )

    def _is_live(self, agent_id: str) -> bool:
        record = self.supervisor.records.get(agent_id)
        return record is not None and not record.finished

    def _live_others(self, agent_id: str) -> list[str]:
        return [a for a, r in self.supervisor.records.items() if a != agent_id and not r.finished]

    def _collision(self, agent_id: str, other: str, path: str) -> None:
        """Tell both agents (at their next turn boundary), their panes and the CEO at once."""
        if other:
            text = (
                f"[file collision] {agent_id} is writing {path}, which {other} (still running) "
                "also wrote: one overwrites the other."
            )
            pairs = [(agent_id, other), (other, agent_id)]
        else:
            owned = ", ".join(self.radar.owned.get(agent_id, ()))
            text = (
                f"[file collision] {agent_id} is writing {path}, outside its own files "
                f"({owned}), while other agents run."
            )
            pairs = [(agent_id, "")]
        for who, against in pairs:
            self._emit(FileCollision, agent_id=who, path=path, other_agent=against, text=text)
            note = " Keep to your own files; if you must change this one, say so in your report."
            self.supervisor.notify(who, text + note, source="radar")
        if self.ceo is None:
            return
        if self.ceo_tools.waiting_for:
            self.ceo_tools.alerts.append(text)
            self.ceo_tools.wake.set()
        else:
            self._tell(InboxMessage(text=text, source="system", silent=True))

    def _agent_runner(self) -> AgentRunner:
        """Sub-agents run here (`[runner] kind = "local"`) or on Temporal ("temporal")."""
        local = LocalRunner(self._make_agent, self.emit)
        s = self.settings
        if s.runner != "temporal":
            return local
        from core.temporal.runner import TemporalOptions, TemporalRunner  # the extra

        return TemporalRunner(
            settings=s,
            emit=self.emit,
            local=local,
            client=lambda: self.client,  # tests put a scripted model in its place
            options=TemporalOptions(
                address=s.temporal_address, queue=s.workspace_queue, events_host=s.events_host
            ),
            ledger=lambda: self.budget.ledger,
            notify=self._tell_ceo,
            approvals=lambda: self.approvals,
        )

    def _drop_approvals(self, record: AgentRecord) -> None:
        """An attempt ended: the commands it was waiting to have approved are dropped."""
        self.approvals.cancel_agent(record.agent_id)

    def _on_waiting(self, agent_id: str, waiting: bool) -> None:
        if agent_id == CEO_ID:
            self._emit(
                AgentStateChanged,
                agent_id=CEO_ID,
                state="waiting_approval" if waiting else "running",
            )
        else:
            self.supervisor.set_waiting(agent_id, waiting)

    def _check_claims(self, record: AgentRecord) -> None:
        """Flag what the agent's report claims and its evidence does not show."""
        ledger = self.evidence.ledger(record.agent_id, record.attempt)
        claims = unsupported_claims(record.result, ledger) if record.result else []
        if claims:
            self._emit(
                ClaimsFlagged, agent_id=record.agent_id, attempt=record.attempt, claims=claims
            )

    def _on_agent_finished(self, record: AgentRecord) -> None:
        """Tell the CEO: through wait_for_agents if it waits for this one, else by a message."""
        self._check_claims(record)
        if self.ceo is None or record.agent_id in self.ceo_tools.waiting_for or self._stopping:
            return
        if record.reported:
            return
        record.reported = True
        result = record.result or record.reason or "(no result)"
        head = f"[agent {record.agent_id} finished: {record.state}]"
        if record.reason and record.state != "done":
            head += f" ({record.reason})"
        block = self.evidence.ledger(record.agent_id, record.attempt).block()
        self._tell(InboxMessage(text=f"{head} {result}\n\n{block}", source="system", silent=True))

    def _tell(self, message: InboxMessage) -> None:
        """A message for the CEO at its next turn boundary, through its attempt."""
        if self._ceo_attempt is not None:
            self._ceo_attempt.steer(message)

    def _tell_ceo(self, text: str, wake: str | None = None) -> None:
        """A notice for the CEO at its next turn boundary; with `wake`, a wait_for_agents
        in progress returns early with that note."""
        if self.ceo is not None and not self._stopping:
            self._tell(InboxMessage(text=text, source="system", silent=True))
            if wake is not None:
                self.ceo_tools.wake_for(wake)

    def _on_stalled(self, record: AgentRecord, idle_s: float) -> None:
        last = f"; last: {record.last_tool}" if record.last_tool else ""
        self._tell_ceo(
            f"[system] {record.agent_id} has shown no output and no tool progress for "
            f"{idle_s:.0f}s (stalled{last}). It keeps running: steer_agent it, kill_agent "
            "it, or keep waiting.",
            wake=f"{record.agent_id} is stalled",
        )

    def _stop_ceo_for_budget(self, reason: str) -> None:
        """Every agent was stopped; the CEO stops too, then gets one last turn to report."""
        self._budget_stop = reason
        if self.ceo is not None and self._close_status is None:
            self._stopping = True
            self.ceo.end_with_last_word(self._final_note(reason))
        self._stop_ceo("failed", reason)

    def _stop_ceo(self, state: StopState, reason: str) -> None:
        """Stop the CEO's attempt (not from inside its own turn: that ends by itself)."""
        attempt = self._ceo_attempt
        if attempt is None or attempt.ended:
            return
        stopping = asyncio.get_running_loop().create_task(attempt.cancel(state, reason))
        self._stoppers.add(stopping)
        stopping.add_done_callback(self._stoppers.discard)

    async def _ceo_turn_limit(self, agent: Agent) -> None:
        """The CEO made `ceo_max_turns` turns on one operator message."""
        n = self.settings.ceo_max_turns
        text = f"The CEO stopped after {n} turns on the last message (its turn limit)"
        if not self.interactive:
            self._emit(Notice, agent_id=CEO_ID, level="warning", text=text + ".")
            raise AgentFailed(f"the CEO reached its turn limit ({n} turns for one message)")
        self._emit(
            Notice, agent_id=CEO_ID, level="warning", text=text + ": send a message to go on."
        )
        while not any(m.source == "operator" for m in agent.inbox):
            agent.inbox_signal.clear()
            self._ceo_waiting = True
            try:
                await agent.inbox_signal.wait()
            finally:
                self._ceo_waiting = False

    async def _run_check(self, command: str, timeout_s: float) -> dict[str, Any]:
        result = await run_shell(
            command,
            self.root.path if self.root is not None else self.workspace,
            timeout_s,
            self.settings.output_cap_bytes,
            self.runner,
            workspace_fd=self.root.fd if self.root is not None else None,
        )
        return {
            "exit_code": result.exit_code,
            "stdout_tail": result.stdout_tail,
            "stderr_tail": result.stderr_tail,
            **({"timed_out": True} if result.timed_out else {}),
        }

    async def _ceo_idle(self, agent: Agent) -> bool:
        """The CEO's reply ended. Return True to finish, False when new input arrived."""
        while True:
            if agent.inbox:
                return False
            if not self.supervisor.active() and not self.interactive:
                return True
            if not self.supervisor.active():
                self._emit(Notice, agent_id=CEO_ID, text="The CEO is waiting for you.")
                self._emit(CeoWaiting, agent_id=CEO_ID, answered=True)
            agent.inbox_signal.clear()
            self._ceo_waiting = True
            try:
                await agent.inbox_signal.wait()
            finally:
                self._ceo_waiting = False

    # --- lifecycle -----------------------------------------------------------

    def start(
        self,
        task: str | None = None,
        *,
        history: list[dict[str, Any]] | None = None,
        resumed_from: str | None = None,
        ceo_attempt: int = 1,
    ) -> None:
        """Start the run. Without a task (interactive), the CEO waits for the operator.

        With `history` (resume), the CEO gets its conversation back and waits for the
        operator or for a retried agent to end before it speaks again.
        """
        self.task = task or ""
        self._resumed = history is not None
        warm_up = getattr(self.agent_runner, "warm_up", None)
        if warm_up is not None:  # a remote runner connects while the CEO plans
            warm_up()
        s = self.settings
        self._emit(
            RunStarted,
            task=self.task,
            workspace=str(self.workspace),
            ceo_model=s.ceo_model,
            simulated=self.simulated,
            max_concurrent=s.max_concurrent,
            resumed_from=resumed_from,
            sandbox=self.runner.state,
            budget_usd=self.budget.limit_usd,
        )
        if self.simulated:
            self._emit(Notice, text=f"Simulated models ({self.access.describe}).")
        self._ceo_history = history
        self._emit(
            AgentSpawned,
            agent_id=CEO_ID,
            role="ceo",
            model=s.ceo_model,
            task=self.task,
            attempt=ceo_attempt,
            timeout_s=None,
            context_window=s.catalog.context_window(s.ceo_model),
        )
        self._emit(AgentStateChanged, agent_id=CEO_ID, state="running")
        first = task if task and not self._resumed else ""
        if first:
            self._emit(OperatorMessage, agent_id=CEO_ID, text=first)
        # The CEO runs through the same seam as its sub-agents, in its own role; its
        # policies (idle, turn limit, first message) run beside it, so it stays here.
        spec = AttemptSpec(
            run_id=self.run_id,
            agent_id=CEO_ID,
            role="ceo",
            model=s.ceo_model,
            attempt=ceo_attempt,
            first_message=first,
        )
        self._ceo_attempt = self.agent_runner.start(spec, AttemptHooks(on_end=lambda _: None))
        assert self.ceo is not None, "the CEO's attempt runs in this process"
        self._ceo_started_at = time.monotonic()
        self._ceo_task = asyncio.get_running_loop().create_task(self._run_ceo(), name="ceo")

    def _make_ceo(self, attempt: AttemptSpec, emit: Emit) -> Agent:
        """The CEO's attempt (role "ceo"), for the LocalRunner."""
        s = self.settings
        ceo = Agent(
            run_id=self.run_id,
            agent_id=CEO_ID,
            role="ceo",
            model=attempt.model,
            system=ceo_system_prompt(s),
            tools=self.ceo_tools.tools(),
            ctx=self._tool_context(CEO_ID),
            client=self.client,
            catalog=s.catalog,
            emit=emit,
            max_tokens=s.ceo_max_tokens,
            cache=True,
            history=self._ceo_history,
            on_idle=self._ceo_idle,
            before_run=self._ceo_first_message,
            attempt=attempt.attempt,
            ledger=self.budget.ledger,
            max_turns=s.ceo_max_turns,
            on_turn_limit=self._ceo_turn_limit,
            repeat_limit=s.repeat_limit,
            max_parallel_tools=s.max_parallel_tools,
            recorder=self._recorder(CEO_ID, attempt.attempt),
        )
        self.ceo = ceo
        if attempt.first_message:
            ceo.start(attempt.first_message)
        return ceo

    async def _ceo_first_message(self, ceo: Agent) -> None:
        """No task yet, or a resumed run: wait for the operator (or an agent's end)."""
        if ceo.messages and not self._resumed:
            return
        await ceo.wait_for_inbox()
        first = "\n\n".join(b["text"] for b in ceo.take_inbox())
        if ceo.messages:
            # A resumed run: say first which agents the crash interrupted.
            ceo.add_user([*self._resume_notice(), {"type": "text", "text": first}])
        else:
            self.task = self.task or first
            ceo.start(first)

    def _final_note(self, reason: str) -> str:
        """The run's budget is spent: what the CEO is told for its last reply (no tool)."""
        stopped = [r.agent_id for r in self.supervisor.records.values() if r.reason == reason]
        listed = ", ".join(stopped[:MAX_LISTED]) + (
            " and more" if len(stopped) > MAX_LISTED else ""
        )
        return (
            f"{reason[0].upper()}{reason[1:]}. Every agent was stopped"
            f"{f' ({listed})' if listed else ''} and no tool can run now. In one short reply, "
            "tell the operator what was done and verified, and what is left."
        )

    def _resume_notice(self) -> list[dict[str, Any]]:
        """The first message of a resumed run: which agents the crash interrupted."""
        lost = [r for r in self.supervisor.records.values() if r.state == "interrupted"]
        if not lost:
            return []
        blocks: list[dict[str, Any]] = [
            {
                "type": "text",
                "text": (
                    f"[system] This run was resumed after the app stopped. {len(lost)} "
                    "agent(s) were interrupted and are not running (listed below); their "
                    "unfinished work is lost, files they wrote stay in the workspace. "
                    "wait_for_agents has nothing to wait for until you start work again: "
                    "retry_agent an interrupted agent to run its task again, spawn_agent new "
                    "work, or tell the operator what is left."
                ),
            }
        ]
        for r in lost[:MAX_LISTED]:
            blocks.append(
                {
                    "type": "text",
                    "text": f"[agent {r.agent_id} finished: interrupted] (the app stopped "
                    f"while it ran) task: {r.task[:300]}",
                }
            )
        if len(lost) > MAX_LISTED:
            blocks.append({"type": "text", "text": f"... and {len(lost) - MAX_LISTED} more."})
        return blocks

    def _key_refused(self, error: TurnError) -> None:
        """No agent can go on with a refused key: end the run now, with that reason."""
        self.fatal_error = error.reason
        self._stop_ceo("failed", error.reason)

    def abort(self, reason: str) -> None:
        """End the run now as `failed` with `reason` (e.g. the store cannot record it):
        agents and their processes stop, the CEO's turn is cancelled."""
        if self.abort_reason is None:
            self.abort_reason = reason
        if self._ceo_task is not None:
            self._stop_ceo("failed", reason)
        elif not self._finished.is_set():
            self.status, self.result = "failed", reason
            self._emit(RunFinished, status="failed", result=reason, cost_usd=self.total_cost())
            self._finished.set()

    async def _run_ceo(self) -> None:
        """Wait for the CEO's attempt to end, then end the run: every agent stops, the
        run's status follows from how the CEO ended."""
        assert self.ceo is not None and self._ceo_attempt is not None
        outcome = await self._ceo_attempt.wait()
        status: RunStatus = "done"
        state: AgentState = "done"
        reason = ""
        result = outcome.result
        budget = self._budget_stop
        if self.ceo.last_word_given and budget is not None:  # it gave its last report
            status, state, reason = "failed", "failed", budget
        elif outcome.state == "failed" and not (budget is not None and outcome.reason == budget):
            status, state, reason = "failed", "failed", outcome.reason
        elif outcome.state != "done":  # stopped: the session closed, or the run must end
            status = self._close_status or "cancelled"
            state, reason = ("done", "") if status == "done" else ("stopped", STOPPED)
        if self.fatal_error is not None:  # the key was refused: the run cannot go on
            status, state, reason, result = "failed", "failed", self.fatal_error, ""
        elif self.abort_reason is not None:
            status, state, reason, result = "failed", "failed", self.abort_reason, ""
        self._stopping = True
        # Closed by the operator: the agents' end is a clean stop, not a kill or a failure.
        closed = self._close_status is not None and state != "failed"
        await self.supervisor.shutdown("stopped" if closed else "killed")
        if status == "done" and any(
            r.state in ("failed", "timed_out") for r in self.supervisor.records.values()
        ):
            status = "failed"
            reason = "some delegated work did not succeed"
        self._emit(AgentStateChanged, agent_id=CEO_ID, state=state, reason=reason)
        self._emit(
            AgentFinished,
            agent_id=CEO_ID,
            state=state,
            result=result or reason,
            elapsed_s=round(time.monotonic() - self._ceo_started_at, 3),
        )
        self._end(settle(status, self.verification.verified), result or reason, reason)

    def _end(self, status: RunStatus, result: str, reason: str = "") -> None:
        """Record the run's end: its status, whether it was verified, and why it failed."""
        self.status = status
        self.result = result
        error = "" if status in ("done", "unverified") else (reason or status)
        if status in ("cancelled", "stopped") and error in (STOPPED, "stopped", "cancelled"):
            error = "stopped by the operator before the run finished"
        self.error = " ".join(error.split()) if status == "failed" else ""
        self._emit(
            RunFinished,
            status=status,
            result=self.result,
            cost_usd=self.total_cost(),
            verified=self.verification.verified,
            error=" ".join(error.split()),
        )
        self._finished.set()

    async def wait_finished(self) -> RunOutcome:
        await self._finished.wait()
        return RunOutcome(
            self.run_id, self.status, self.result, self.total_cost(), self.verification.verified
        )

    @property
    def finished(self) -> bool:
        return self._finished.is_set()

    @property
    def answered(self) -> bool:
        """The CEO has given its answer and waits for the operator, with nothing running."""
        ceo = self.ceo
        return (
            ceo is not None
            and self._ceo_waiting
            and not ceo.inbox
            and not self.supervisor.active()
            and bool(ceo.last_text)
        )

    async def close(self, status: RunStatus | None = None) -> None:
        """Stop the run: every agent and process ends.

        The run is recorded with `status`; by default `done` if the CEO had answered and
        nothing was running, else `stopped`. Agents still running end `stopped`. Closing
        again does nothing.
        """
        if self._closed:
            return
        self._closed = True
        if status is None:
            status = "done" if self.answered else "stopped"
        self._close_status = status
        if self._ceo_task is not None and not self._ceo_task.done():
            assert self.ceo is not None and self._ceo_attempt is not None
            self.ceo.end_with_last_word(None)  # closing: no last report
            await self._ceo_attempt.cancel("stopped", STOPPED)
            with contextlib.suppress(asyncio.CancelledError):
                await self._ceo_task
        elif self._ceo_task is None and not self._finished.is_set():
            self._end(settle(status, self.verification.verified), "")
        await self.agent_runner.aclose()
        await self.access.aclose()

    def total_cost(self) -> float | None:
        costs: list[float | None] = [r.cost_usd for r in self.supervisor.records.values()]
        if self._ceo_attempt is not None:
            costs.append(self._ceo_attempt.progress().cost_usd)
        if any(c is None for c in costs):
            return None
        return round(sum(c for c in costs if c is not None), 6)

    # --- operator commands ---------------------------------------------------

    def say(self, text: str) -> bool:
        """Send the operator's message to the CEO. Returns True if it was queued (CEO busy)."""
        if self.ceo is None or self.finished:
            raise SessionError("the run has ended")
        queued = self.ceo.busy
        msg_id = "op_" + secrets.token_hex(4)
        self._emit(OperatorMessage, agent_id=CEO_ID, text=text, queued=queued, message_id=msg_id)
        prefix = "[operator] " if self.ceo.messages else ""
        self._tell(InboxMessage(text=prefix + text, source="operator", silent=True))
        self.ceo_tools.wake.set()
        return queued

    def _guard(self, fn: Callable[[], Any]) -> Any:
        try:
            return fn()
        except SupervisorError as exc:
            raise SessionError(str(exc)) from None

    def spawn(
        self, role: str, task: str, model: str | None = None, timeout_s: float | None = None
    ) -> str:
        spec = self.settings.roles.get(role)
        if spec is None:
            raise SessionError(f"unknown role {role!r}")
        record = self._guard(
            lambda: self.supervisor.spawn(
                role,
                task,
                model or spec.model,
                timeout_s if timeout_s else spec.timeout_s,
                budget_usd=spec.budget_usd,
                token_budget=spec.token_budget,
            )
        )
        return str(record.agent_id)

    def steer(self, agent_id: str, message: str, *, interrupt: bool = False) -> str:
        steer = self._guard(
            lambda: self.supervisor.steer(agent_id, message, interrupt=interrupt, source="operator")
        )
        return str(steer.steer_id)

    async def kill(self, agent_id: str) -> str:
        try:
            return await self.supervisor.kill(agent_id)
        except SupervisorError as exc:
            raise SessionError(str(exc)) from None

    def retry(self, agent_id: str, note: str | None = None, model: str | None = None) -> int:
        record = self.supervisor.records.get(agent_id)
        if record is not None and record.role not in self.settings.roles:
            raise SessionError(f"role {record.role!r} is no longer in the config")
        record = self._guard(lambda: self.supervisor.retry(agent_id, note, model, limited=False))
        return int(record.attempt)

    def extend_timeout(self, agent_id: str, seconds: float = 300.0) -> float | None:
        result = self._guard(lambda: self.supervisor.extend(agent_id, seconds))
        return float(result) if result is not None else None

    def pending_approvals(self) -> list[PendingApproval]:
        return self.approvals.pending()

    def answer_approval(self, request_id: str, decision: str) -> bool:
        if decision not in ("once", "always", "deny"):
            raise SessionError(f"unknown decision {decision!r}")
        try:
            return self.approvals.answer(request_id, decision)  # type: ignore[arg-type]
        except ValueError as exc:
            raise SessionError(str(exc)) from None

    def agents(self) -> list[AgentRecord]:
        return self.supervisor.agents()


async def run_headless(
    settings: Settings,
    task: str,
    *,
    subscribe: Callable[[EventBus], Awaitable[None] | None] | None = None,
) -> tuple[Session, RunOutcome]:
    """Run one task to the end without a UI (used by `delegate run` and tests)."""
    session = Session(settings, interactive=False)
    if subscribe is not None:
        maybe = subscribe(session.bus)
        if maybe is not None:
            await maybe
    session.start(task)
    try:
        outcome = await session.wait_finished()
    finally:
        await session.close()
    return session, outcome
