"""TemporalRunner: sub-agent attempts as Temporal workflows, behind core.runner's seam.

A run is a workflow (`delegate.run`); each attempt a child workflow running the turn
loop (core.temporal.workflows); each model turn and tool call an activity on the
workers of the run's workspace. The Supervisor above is unchanged: start is an update
on the run workflow, a steer an update on the attempt (its receipt), a deadline a
signal that moves the attempt's own timer, a kill a signal that cancels the running
activity (its command's processes with it) and ends the attempt with that state.
Live events come back on the hub (core.temporal.hub), not through Temporal.

The CEO is not a sub-agent: its tools are the Supervisor's own methods, so it runs
in this process on the local runner it is given.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

from temporalio.client import Client, WorkflowHandle
from temporalio.common import WorkflowIDConflictPolicy

from core.catalog import Usage
from core.config import Settings
from core.cost_meter import WARN_AT, Limit, RunLedger
from core.events import (
    CEO_ID,
    AgentState,
    ApprovalRequested,
    BudgetCrossed,
    Event,
    MessageAppended,
    ToolCallStarted,
    UsageUpdated,
)
from core.llm import ModelClient
from core.runner import (
    STOP_REASONS,
    AgentRunner,
    Attempt,
    AttemptHooks,
    AttemptOutcome,
    AttemptProgress,
    AttemptSpec,
    Deadline,
    InboxMessage,
    SteerReceipt,
    StopState,
)
from core.temporal.devserver import DevServer, shared_dev_server, stop_quietly
from core.temporal.errors import TemporalUnavailable, unreachable
from core.temporal.hub import EventHub
from core.temporal.types import (
    ATTEMPT_WORKFLOW,
    RUN_WORKFLOW,
    Approval,
    AttemptEnd,
    AttemptInfo,
    AttemptInput,
    AttemptResult,
    Hub,
    Policy,
    RunRecord,
    Steer,
    UsageTotals,
    attempt_workflow_id,
    run_workflow_id,
    workspace_queue,
)
from core.temporal.types import SteerReceipt as WorkflowReceipt
from core.temporal.worker import WorkerGroup, build_workers, make_host, workspace_name
from core.tools.policy import ApprovalBroker

CONNECT_TIMEOUT_S = 10.0
# A stopped attempt whose workflow does not end in this time (no worker runs workflow
# tasks now) is terminated on the server, so a worker coming back later cannot go on.
STOP_GRACE_S = 5.0
# The run workflow's record of its attempts goes out at most this often (`record`).
RECORD_EVERY_S = 0.1


@dataclass(frozen=True)
class TemporalOptions:
    """Where the runner finds Temporal and how it runs there."""

    address: str | None = None  # HOST:PORT; None: start a local dev server
    db_file: Path | None = None  # the dev server's history (default: the user data dir)
    conversations: Path | None = None  # the in-process worker's conversation store
    queue: str | None = None  # the workspace's name (default: its folder's name)
    events_host: str = "127.0.0.1"  # where workers reach this session's event hub
    local_worker: bool | None = None  # run a worker in this process (default: no address)
    id_prefix: str = ""  # before every workflow id (tests sharing one server)
    # An attempt's workflow continues as new past this many history events (the server's
    # limit is 50k; a turn costs about seven).
    continue_after_events: int = 10_000


@dataclass(frozen=True)
class AgentShape:
    """What an attempt's workflow needs of its role: prompt, tools, limits."""

    system: str
    tools: tuple[str, ...]
    max_tokens: int = 8192
    max_turns: int | None = None
    network: bool | None = None


def role_shape(settings: Settings) -> Callable[[AttemptSpec], AgentShape]:
    def shape(spec: AttemptSpec) -> AgentShape:
        role = settings.roles[spec.role]
        return AgentShape(
            role.system_prompt, tuple(role.tools), role.max_tokens, role.max_turns, role.network
        )

    return shape


class TemporalRunner:
    """Sub-agents on Temporal; the CEO on `local`."""

    def __init__(
        self,
        *,
        settings: Settings,
        emit: Any,
        local: AgentRunner,
        client: ModelClient | Callable[[], ModelClient],
        options: TemporalOptions | None = None,
        shape: Callable[[AttemptSpec], AgentShape] | None = None,
        ledger: Callable[[], RunLedger | None] = lambda: None,
        notify: Callable[[str], None] | None = None,
        approvals: Callable[[], ApprovalBroker | None] = lambda: None,
    ) -> None:
        self.settings = settings
        # The session's approval broker: a worker's command that needs the operator's
        # answer is asked there, as a local agent's is (the same request, events, inbox).
        self.approvals = approvals
        self.shape = shape or role_shape(settings)
        self.emit = emit
        self.local = local
        # The in-process worker's model client (read when it starts: a callable may give
        # the session's current one).
        self.model_client = client
        self._closed = False
        self.options = options or TemporalOptions()
        self.queue = self.options.queue or workspace_name(settings.workspace)
        # The run's budget (core.run_budget): sub-agents' spend is added as it streams.
        self.ledger = ledger
        # Tells the CEO (an agent's 80% budget warning, as the local agent's `notify`).
        self.notify = notify
        self.server: DevServer | None = None
        self.client: Client | None = None
        self.hub = EventHub()
        self.hub_ref: Hub | None = None
        self.workers: WorkerGroup | None = None
        self.runs: dict[str, WorkflowHandle[Any, Any]] = {}
        self.live: dict[str, TemporalAttempt] = {}  # agent id -> its running attempt
        self._opening: asyncio.Task[None] | None = None
        self._later: set[asyncio.Task[Any]] = set()  # RPCs nobody waits for, until close
        self._run_starts: dict[str, asyncio.Future[WorkflowHandle[Any, Any]]] = {}
        # Per run: what its workflow has not been told yet (`record`).
        self._records: dict[str, RunRecord] = {}

    # --- setup -----------------------------------------------------------------

    async def open(self) -> None:
        """Connect (starting the dev server if no address was given), open the hub and,
        on one machine, a worker in this process. Idempotent; raises TemporalUnavailable."""
        self.warm_up()
        assert self._opening is not None
        await asyncio.shield(self._opening)

    async def _open(self) -> None:
        opts = self.options
        address = opts.address
        if address is None:
            self.server = await shared_dev_server(opts.db_file)
            address = self.server.address
        try:
            self.client = await asyncio.wait_for(Client.connect(address), CONNECT_TIMEOUT_S)
        except Exception as exc:
            stop_quietly(self.server)
            raise unreachable(address, exc, CONNECT_TIMEOUT_S) from None
        addr = await self.hub.start(opts.events_host)
        self.hub_ref = Hub(addr.host, addr.port, addr.token)
        self.hub.subscribe(self._on_event)
        self.hub.spend_watchers.append(self._on_spend)
        local_worker = opts.local_worker if opts.local_worker is not None else opts.address is None
        if local_worker:
            client = self.model_client
            model = client() if callable(client) else client
            host = make_host(self.settings, model, self.settings.workspace, opts.conversations)
            self.workers = WorkerGroup(build_workers(self.client, host, self.queue), host)
            self.workers.start()

    async def run_handle(self, run_id: str) -> WorkflowHandle[Any, Any]:
        """The run's workflow, started once (or found: a resumed run)."""
        start = self._run_starts.get(run_id)
        if start is None:
            assert self.client is not None
            start = self._run_starts[run_id] = asyncio.ensure_future(
                self.client.start_workflow(
                    RUN_WORKFLOW,
                    run_id,
                    id=run_workflow_id(self.options.id_prefix, run_id),
                    task_queue=workspace_queue(self.queue),
                    id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
                )
            )
        handle = await asyncio.shield(start)
        self.runs[run_id] = handle
        return handle

    def record(
        self, run_id: str, started: AttemptInfo | None = None, ended: AttemptEnd | None = None
    ) -> None:
        """Tell the run's workflow an attempt started or ended, in one signal with what else
        came within RECORD_EVERY_S (and while a record is on its way): a burst of 20
        spawns and their ends is a few signals, not 40 (each a server write and an RPC
        in the burst). Nothing waits for it; `aclose` sends what is left."""
        pending = self._records.get(run_id)
        if pending is None:
            pending = self._records[run_id] = RunRecord()
            self.later(self._send_records(run_id))
        if started is not None:
            pending.started.append(started)
        if ended is not None:
            pending.ended.append(ended)

    async def _send_records(self, run_id: str) -> None:
        while True:
            await asyncio.sleep(RECORD_EVERY_S)
            record = self._records.pop(run_id, None)
            if record is None:
                return
            self._records[run_id] = RunRecord()  # what comes meanwhile waits for this one
            # Best effort, as the end signal was: a resumed session reads each attempt's
            # own workflow, not this record.
            with contextlib.suppress(Exception):
                run = await self.run_handle(run_id)
                await run.signal("record", record)
            if not (self._records[run_id].started or self._records[run_id].ended):
                del self._records[run_id]
                return

    def later(self, call: Coroutine[Any, Any, Any]) -> None:
        """Run `call` in the background (awaited, its errors dropped, at close)."""
        task = asyncio.ensure_future(call)
        self._later.add(task)
        task.add_done_callback(self._later.discard)
        task.add_done_callback(lambda t: t.cancelled() or t.exception())

    # --- the seam -----------------------------------------------------------------

    def warm_up(self) -> None:
        """Begin connecting now (the first spawn then does not wait for the server)."""
        if self._opening is None:
            self._opening = asyncio.ensure_future(self._open())
            self._opening.add_done_callback(lambda t: t.cancelled() or t.exception())

    def start(self, spec: AttemptSpec, hooks: AttemptHooks) -> Attempt:
        if spec.agent_id == CEO_ID or spec.role == "ceo":
            return self.local.start(spec, hooks)
        attempt = TemporalAttempt(self, spec, hooks)
        self.live[spec.agent_id] = attempt
        return attempt

    # --- resume: the attempts of a run outlive the session that started them ----

    async def still_running(
        self, run_id: str, agent_id: str, attempt: int
    ) -> tuple[Usage, float | None] | None:
        """Whether that attempt's workflow runs on (or ended after the session that
        started it stopped following it), so a resumed session can reattach to it: its
        usage and cost so far as the workflow counted them (at its last turn's end), or
        None when there is nothing to reattach to."""
        from temporalio.client import WorkflowExecutionStatus
        from temporalio.service import RPCError

        await self.open()
        assert self.client is not None
        wid = attempt_workflow_id(self.options.id_prefix, run_id, agent_id, attempt)
        handle = self.client.get_workflow_handle(wid, result_type=AttemptResult)
        try:
            info = await handle.describe()
            if info.status == WorkflowExecutionStatus.COMPLETED:
                u = (await handle.result()).usage
            elif info.status == WorkflowExecutionStatus.RUNNING:
                status = await handle.query("status")
                u = UsageTotals(**status["usage"])
            else:
                return None
        except RPCError:
            return None  # never started there (a run of the local runner)
        usage = Usage(u.input_tokens, u.output_tokens, u.cache_read_tokens, u.cache_write_tokens)
        return usage, u.cost_usd

    def attach(self, spec: AttemptSpec, hooks: AttemptHooks) -> Attempt:
        """Follow the attempt's existing workflow (see `still_running`) instead of starting
        one: its events come to this session's hub, its end to `hooks`."""
        attempt = TemporalAttempt(self, spec, hooks, attach=True)
        self.live[spec.agent_id] = attempt
        return attempt

    async def aclose(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._opening is not None:  # closed while connecting: let it finish, then stop
            with contextlib.suppress(Exception):
                await asyncio.shield(self._opening)
        for attempt in list(self.live.values()):
            await attempt.detach()
        if self._later:
            await asyncio.wait(list(self._later), timeout=CONNECT_TIMEOUT_S)
        for handle in self.runs.values():
            with contextlib.suppress(Exception):
                await handle.signal("close")
        if self.workers is not None:
            await self.workers.stop()
        await self.hub.close()
        stop_quietly(self.server)
        await self.local.aclose()

    def attempt_input(self, spec: AttemptSpec) -> AttemptInput:
        s = self.settings
        role = self.shape(spec)
        assert self.hub_ref is not None
        return AttemptInput(
            id_prefix=self.options.id_prefix,
            run_id=spec.run_id,
            agent_id=spec.agent_id,
            attempt=spec.attempt,
            role=spec.role,
            model=spec.model,
            system=role.system,
            tools=list(role.tools),
            first_message=spec.first_message,
            queue=workspace_queue(self.queue),
            hub=self.hub_ref,
            conversation=f"{self.options.id_prefix}{spec.run_id}/{spec.agent_id}.{spec.attempt}",
            policy=self.policy(),
            max_tokens=role.max_tokens,
            timeout_s=spec.deadline.timeout_s,
            max_turns=role.max_turns,
            budget_usd=spec.budget_usd,
            token_budget=spec.token_budget,
            network=role.network,
            max_parallel_tools=s.max_parallel_tools,
            continue_after_events=self.options.continue_after_events,
            ends_told=True,
        )

    def policy(self) -> Policy:
        """The session's command policy as its workers apply it (its allow list as now)."""
        s = self.settings
        broker = self.approvals()
        if broker is None:
            allow, deny = list(s.allow_commands), list(s.deny_commands)
        else:
            allow, deny = list(broker.policy.allow), list(broker.policy.deny)
        return Policy(
            mode=s.permission_mode,
            allow=allow,
            deny=deny,
            assume_yes=s.assume_yes,
            interactive=broker is not None and broker.interactive,
        )

    def allow_changed(self) -> None:
        """The operator allowed a prefix (`always`): every running attempt applies it."""
        allow = self.policy().allow
        for attempt in self.live.values():
            attempt.send("allow", allow)

    # --- live events --------------------------------------------------------------

    def _on_spend(self, agent_id: str, attempt_no: int, usd: float) -> None:
        attempt = self.live.get(agent_id)
        if attempt is not None and attempt.spec.attempt == attempt_no:
            attempt.count(usd)

    def _on_event(self, seq: int, event: Event) -> None:
        attempt = self.live.get(event.agent_id or "")
        if isinstance(event, ApprovalRequested) and attempt is not None:
            attempt.ask_operator(event)  # the broker publishes the request itself
            return
        if attempt is not None:
            attempt.observe(event)
        self.emit(event)


def _add(ledger: RunLedger, delta: float) -> None:
    """Add spend that came in one piece over the hub (usage updates are batched) so that
    passing 80% on the way to 100% still warns first, as the local meters' small steps do."""
    limit = ledger.limit
    mark = limit.limit * WARN_AT if limit is not None and not limit.warned else None
    if mark is not None and ledger.spent_usd < mark <= ledger.spent_usd + delta:
        first = mark - ledger.spent_usd
        ledger.add(first)
        delta -= first
    if delta:
        ledger.add(delta)


class TemporalAttempt:
    """One attempt's workflow, as the Supervisor sees it. Commands to the workflow go out
    in order through one sender task; the outcome is the workflow's result."""

    def __init__(
        self,
        runner: TemporalRunner,
        spec: AttemptSpec,
        hooks: AttemptHooks,
        *,
        attach: bool = False,
    ) -> None:
        self.runner = runner
        self._attach = attach
        self._spec = spec
        self._hooks = hooks
        self._started = time.monotonic()
        self._outcome: AttemptOutcome | None = None
        self._ended = asyncio.Event()
        self._commands: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()
        self._wrap_timer: asyncio.TimerHandle | None = None
        self._stop: tuple[AgentState, str] | None = None
        self.usage = Usage()
        self.cost: float | None = 0.0
        self._last_cost = 0.0
        self.last_activity = self._started
        self.last_tool = ""
        self.last_text = ""
        self._usage_seen = False  # live usage came over the hub (it has cut replies too)
        self.handle: WorkflowHandle[Any, AttemptResult] | None = None
        self._asking: dict[str, asyncio.Task[None]] = {}  # approvals asked of the operator
        self._answered: dict[str, str] = {}
        for steer in spec.steers:
            self._commands.put_nowait(("steer", steer))
        self._arm_wrap_up(spec.deadline)
        self._task = asyncio.get_running_loop().create_task(
            self._drive(), name=f"temporal:{spec.agent_id}"
        )

    @property
    def spec(self) -> AttemptSpec:
        return self._spec

    @property
    def ended(self) -> bool:
        return self._outcome is not None

    def steer(self, message: InboxMessage) -> SteerReceipt:
        self._commands.put_nowait(("steer", message))
        return SteerReceipt(message.steer_id, self._spec.agent_id)

    def send(self, kind: str, arg: Any) -> None:
        """A command for the workflow, after those given before it."""
        self._commands.put_nowait((kind, arg))

    def ask_operator(self, request: ApprovalRequested) -> None:
        """A tool call of this attempt waits, unrun, for the operator: ask the session's
        broker (its ApprovalRequested, the waiting state, the paused clock), and give the
        workflow the answer. Asked again (a worker re-ran the call): the same request."""
        rid = request.request_id
        if rid in self._answered:
            self.send("approval", Approval(rid, self._answered[rid], self.runner.policy().allow))
            return
        broker = self.runner.approvals()
        if rid in self._asking or broker is None or self._outcome is not None:
            return
        self._asking[rid] = asyncio.get_running_loop().create_task(
            self._ask(broker, request), name=f"approval:{rid}"
        )

    async def _ask(self, broker: ApprovalBroker, request: ApprovalRequested) -> None:
        rid = request.request_id
        try:
            decision = await broker.ask(
                request.agent_id or self._spec.agent_id,
                request.tool,
                request.command,
                request.cwd,
                request_id=rid,
            )
        except asyncio.CancelledError:  # the attempt was stopped: its request dropped
            return
        finally:
            self._asking.pop(rid, None)
        self._answered[rid] = decision
        self.send("approval", Approval(rid, decision, self.runner.policy().allow))
        if decision == "always":
            self.runner.allow_changed()

    async def _ask_pending(self, handle: WorkflowHandle[Any, AttemptResult]) -> None:
        """Reattached: the requests the workflow still waits on are asked of this session."""
        with contextlib.suppress(Exception):  # it may have ended meanwhile
            status = await handle.query("status")
            for block in status.get("asking", []):
                self.ask_operator(
                    ApprovalRequested(
                        run_id=self._spec.run_id,
                        agent_id=self._spec.agent_id,
                        request_id=str(block["request_id"]),
                        tool=str(block["tool"]),
                        command=str(block["command"]),
                        cwd=str(block["cwd"]),
                    )
                )

    def set_deadline(self, deadline: Deadline) -> None:
        self._arm_wrap_up(deadline)
        self._commands.put_nowait(("deadline", deadline.timeout_s))

    async def cancel(self, state: StopState, reason: str | None = None) -> AttemptOutcome:
        if self._outcome is None and self._stop is None:
            self._stop = (cast(AgentState, state), reason or STOP_REASONS.get(state, state))
            # The streaming reply ends now through the hub; the workflow hears it too.
            self.runner.hub.stop(self._spec.agent_id, self._spec.attempt, *self._stop)
            self._commands.put_nowait(("stop", self._stop))
        try:
            await asyncio.wait_for(asyncio.shield(self._ended.wait()), STOP_GRACE_S)
        except TimeoutError:
            if self.handle is not None:
                with contextlib.suppress(Exception):
                    await self.handle.terminate(reason="stopped; no worker ended it in time")
            self._task.cancel()
        return await self.wait()

    async def detach(self) -> None:
        """The session closes: stop following this attempt (its workflow stays)."""
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task

    def progress(self) -> AttemptProgress:
        return AttemptProgress(
            usage=self.usage,
            cost_usd=self.cost,
            idle_s=max(0.0, time.monotonic() - self.last_activity),
            last_tool=self.last_tool,
        )

    async def wait(self) -> AttemptOutcome:
        await self._ended.wait()
        assert self._outcome is not None
        return self._outcome

    # --- inside ---------------------------------------------------------------

    def count(self, cost_usd: float) -> None:
        """The attempt's cost so far (as it streams): the run's ledger gets the change."""
        ledger = self.runner.ledger()
        if ledger is not None:
            delta, self._last_cost = cost_usd - self._last_cost, cost_usd
            if delta:
                _add(ledger, delta)

    def observe(self, event: Event) -> None:
        """A live event of this agent (from the hub): its usage and activity so far."""
        self.last_activity = time.monotonic()
        if isinstance(event, UsageUpdated) and event.attempt == self._spec.attempt:
            self.usage = Usage(
                event.input_tokens,
                event.output_tokens,
                event.cache_read_tokens,
                event.cache_write_tokens,
            )
            self.cost = event.cost_usd
            if event.cost_usd is not None:
                self.count(event.cost_usd)
            self._usage_seen = True
        elif isinstance(event, ToolCallStarted):
            self.last_tool = event.summary
        elif isinstance(event, BudgetCrossed) and event.level == "warn":
            notify = self.runner.notify
            if notify is not None and event.attempt == self._spec.attempt:
                limit = Limit(event.limit, "usd" if event.unit == "usd" else "tokens")
                what = "budget" if limit.unit == "usd" else "token budget"
                notify(
                    f"[system] {self._spec.agent_id} has used {WARN_AT:.0%} of its {what} "
                    f"({limit.describe(event.spent)}); it was told to wrap up."
                )
        elif isinstance(event, MessageAppended) and event.role == "assistant":
            # What the agent said last, a reply cut by a stop included (its result then).
            said = "".join(
                b.get("text", "") for b in event.content if b.get("type") == "text"
            ).strip()
            if said:
                self.last_text = said

    def _arm_wrap_up(self, deadline: Deadline) -> None:
        if self._wrap_timer is not None:
            self._wrap_timer.cancel()
            self._wrap_timer = None
        if deadline.wrap_up_s is None or self._outcome is not None:
            return
        delay = max(0.0, deadline.wrap_up_s - (time.monotonic() - self._started))
        self._wrap_timer = asyncio.get_running_loop().call_later(delay, self._hooks.on_wrap_up)

    async def _drive(self) -> None:
        runner = self.runner
        spec = self._spec
        outcome: AttemptOutcome
        sender: asyncio.Task[None] | None = None
        try:
            await runner.open()
            await runner.run_handle(spec.run_id)
            wid = attempt_workflow_id(
                runner.options.id_prefix, spec.run_id, spec.agent_id, spec.attempt
            )
            assert runner.client is not None
            if self._attach:
                self.handle = runner.client.get_workflow_handle(wid, result_type=AttemptResult)
            else:
                self.handle = await runner.client.start_workflow(
                    ATTEMPT_WORKFLOW,
                    runner.attempt_input(spec),
                    id=wid,
                    task_queue=workspace_queue(runner.queue),
                    result_type=AttemptResult,
                    # The session's own worker (one machine) takes the first workflow
                    # task in the start's reply, without a poll.
                    request_eager_start=runner.workers is not None,
                )
                runner.record(
                    spec.run_id, started=AttemptInfo(wid, spec.agent_id, spec.attempt, spec.role)
                )
            if self._attach:
                with contextlib.suppress(Exception):  # it may have ended meanwhile
                    await self.handle.signal("set_hub", runner.hub_ref)
                await self._ask_pending(self.handle)
            sender = asyncio.ensure_future(self._send(self.handle))
            result: AttemptResult = await self.handle.result()
            # The run workflow's record of the end, sent after the outcome is handed on.
            runner.record(spec.run_id, ended=AttemptEnd(wid, result.state))
            usage = result.usage
            if self._usage_seen:  # it counts a reply cut by a stop, which the result cannot
                usage = UsageTotals(
                    self.usage.input_tokens,
                    self.usage.output_tokens,
                    self.usage.cache_read_tokens,
                    self.usage.cache_write_tokens,
                    self.cost,
                )
            outcome = AttemptOutcome(
                state=result.state,  # type: ignore[arg-type]
                reason=result.reason or ("" if result.state == "done" else result.state),
                result=result.result if result.state == "done" else self.last_text or result.result,
                usage=Usage(
                    usage.input_tokens,
                    usage.output_tokens,
                    usage.cache_read_tokens,
                    usage.cache_write_tokens,
                ),
                cost_usd=usage.cost_usd,
            )
            if usage.cost_usd is not None and usage.cost_usd > self._last_cost:
                # Spend lines over the hub may be lost (a hub that died with its session,
                # a resumed one not yet found): the run's ledger gets the rest at the end.
                self.count(usage.cost_usd)
        except asyncio.CancelledError:
            state, reason = self._stop or ("interrupted", STOP_REASONS["interrupted"])
            outcome = AttemptOutcome(state, reason, self.last_text, self.usage, self.cost)
        except TemporalUnavailable as exc:
            outcome = AttemptOutcome("failed", str(exc), self.last_text, self.usage, self.cost)
        except Exception as exc:
            if self._stop is not None:
                state, reason = self._stop
            else:
                state = "failed"
                reason = f"Temporal: {type(exc).__name__}: {' '.join(str(exc).split())}"
            outcome = AttemptOutcome(state, reason, self.last_text, self.usage, self.cost)
        finally:
            if sender is not None:
                sender.cancel()
            for task in list(self._asking.values()):
                task.cancel()
            if self._wrap_timer is not None:
                self._wrap_timer.cancel()
        self.usage, self.cost = outcome.usage, outcome.cost_usd
        self._outcome = outcome
        if runner.live.get(spec.agent_id) is self:
            del runner.live[spec.agent_id]
        try:
            self._hooks.on_end(outcome)
        finally:
            self._ended.set()

    async def _send(self, handle: WorkflowHandle[Any, AttemptResult]) -> None:
        """The commands, in the order they were given."""
        while True:
            kind, arg = await self._commands.get()
            try:
                if kind == "steer":
                    msg: InboxMessage = arg
                    await handle.execute_update(
                        "steer",
                        Steer(msg.steer_id, msg.text, msg.interrupt, msg.source, msg.silent),
                        result_type=WorkflowReceipt,
                    )
                elif kind == "deadline":
                    await handle.signal("extend", arg)
                elif kind == "stop":
                    await handle.signal("stop_as", args=list(arg))
                elif kind == "approval":
                    await handle.execute_update("approve", arg, result_type=bool)
                elif kind == "allow":
                    await handle.signal("allow", arg)
            except asyncio.CancelledError:
                raise
            except Exception:  # the attempt ended meanwhile: nothing to tell it
                if self._outcome is not None:
                    return
