"""The activities: one model turn, one tool call. They run on a worker of the workspace.

Both are the in-process agent's own code (core.agent's turn and tool call, so
redaction, usage, budgets, evidence and events are the same), with the conversation
read from and written to the worker's conversation store and every event published
to the session's hub. They heartbeat every 100 ms: that is how a cancellation (kill,
timeout, interrupt) reaches them, and how the server notices a worker that died.
Activities are at least once: after a worker crash the turn or the command runs again.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import functools
import hashlib
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

from temporalio import activity
from temporalio.client import Client

from core.agent import Agent, AgentFailed
from core.catalog import Usage
from core.config import Settings
from core.cost_meter import RunLedger
from core.events import ApprovalDecision, ApprovalRequested
from core.evidence import ToolRecorder
from core.llm import ModelClient
from core.runner import InboxMessage
from core.sandbox import CommandRunner
from core.temporal.conversations import ConversationStore, Saved
from core.temporal.hub import HubAddress, Publisher
from core.temporal.types import (
    APPROVAL_NEEDED,
    MODEL_TURN,
    TOOL_CALL,
    Hub,
    Policy,
    Steer,
    ToolInput,
    TurnInput,
    TurnOutput,
    UsageTotals,
)
from core.tools.base import ToolContext
from core.tools.errors import ApprovalNeeded
from core.tools.policy import ApprovalBroker, CommandPolicy
from core.tools.registry import build_tools
from core.tools.workspace import Workspace

HEARTBEAT_EVERY_S = 0.1
RELOCATE_ASK = 8  # workflows a publisher that lost its hub asks where it went


@dataclass
class WorkerHost:
    """What a worker's activities share: its settings, model client, workspace, sandbox."""

    settings: Settings
    workspace: Path
    client: ModelClient
    runner: CommandRunner
    conversations: ConversationStore
    root: Workspace | None = None
    source: str = field(default_factory=lambda: "w-" + uuid.uuid4().hex[:12])
    publishers: dict[tuple[str, int, str], Publisher] = field(default_factory=dict)
    temporal: Client | None = None  # asks a workflow where its session's hub is now
    # Per publisher: the attempts' workflows it published for, the newest last.
    followed: dict[int, dict[str, None]] = field(default_factory=dict)

    def publisher(self, hub: Hub, workflow_id: str | None = None) -> Publisher:
        key = (hub.host, hub.port, hub.token)
        pub = self.publishers.get(key)
        if pub is None:
            # Each its own source: a publisher that moved to a resumed session's hub
            # must not share its numbering with that hub's own publisher here.
            source = f"{self.source}.{len(self.followed)}"
            pub = self.publishers[key] = Publisher(HubAddress(*key), source)
            pub.relocate = functools.partial(self._relocate, pub)
            self.followed[id(pub)] = {}
        if workflow_id is not None:
            seen = self.followed.setdefault(id(pub), {})
            seen.pop(workflow_id, None)
            seen[workflow_id] = None
            while len(seen) > RELOCATE_ASK:
                del seen[next(iter(seen))]
        return pub

    async def _relocate(self, pub: Publisher) -> HubAddress | None:
        """The hub `pub` publishes to is gone (its session died): a session that resumed
        the run told the attempts' workflows its own hub (`set_hub`); ask them, newest
        first, and send there what the old hub never took (the in-flight turn's events)."""
        if self.temporal is None:
            return None
        for workflow_id in reversed(list(self.followed.get(id(pub), {}))):
            handle = self.temporal.get_workflow_handle(workflow_id)
            try:
                hub = await asyncio.wait_for(handle.query("hub", result_type=Hub), 2.0)
            except Exception:
                continue
            if hub is None:
                continue
            address = HubAddress(hub.host, hub.port, hub.token)
            if address != pub.address:
                self.publishers.setdefault((hub.host, hub.port, hub.token), pub)
                return address
        return None

    def context(
        self,
        agent_id: str,
        policy: Policy,
        run_id: str,
        network: bool | None,
        pub: Publisher,
        approval: str | None = None,
    ) -> ToolContext:
        s = self.settings

        async def elsewhere(agent_id: str, tool: str, command: str, cwd: str) -> ApprovalDecision:
            # Nobody is at a worker to approve: the call stops unrun and the workflow asks
            # the session's operator; it runs again with the answer.
            if approval is None:
                raise ApprovalNeeded(tool, command, cwd)
            return cast(ApprovalDecision, approval)

        broker = ApprovalBroker(
            emit=pub.emit,
            run_id=run_id,
            policy=CommandPolicy(
                policy.mode,  # type: ignore[arg-type]
                policy.allow,
                policy.deny,
                sandbox=self.runner.state,
            ),
            interactive=policy.interactive,
            assume_yes=policy.assume_yes,
            elsewhere=elsewhere,
        )
        return ToolContext(
            workspace=self.workspace,
            agent_id=agent_id,
            authorize=broker.authorize,
            command_timeout_s=s.command_timeout_s,
            output_cap_bytes=s.output_cap_bytes,
            fetch_max_bytes=s.fetch_max_bytes,
            fetch_timeout_s=s.fetch_timeout_s,
            fetch_allow_private=s.fetch_allow_private,
            fetch_allow_hosts=s.fetch_allow_hosts,
            runner=self.runner.with_network(network),
            root=self.root,
        )

    async def close(self) -> None:
        for pub in self.publishers.values():
            await pub.flush(2.0)
            await pub.close()
        self.publishers.clear()


class SpendRelay(RunLedger):
    """The run's ledger as a model turn on a worker feeds it: every change of the
    attempt's cost goes to the session at once (its RunLedger, the run's budget), not
    with the next live usage event (those are throttled to a few a second)."""

    def __init__(self, pub: Publisher, agent_id: str, attempt: int, cost_usd: float) -> None:
        super().__init__(None)
        self.pub = pub
        self.key = (agent_id, attempt)
        self.spent_usd = cost_usd  # the attempt's earlier turns

    def add(self, delta_usd: float) -> None:
        self.spent_usd += delta_usd
        self.pub.spend(*self.key, self.spent_usd)


@contextlib.asynccontextmanager
async def heartbeating() -> AsyncIterator[None]:
    async def beat() -> None:
        while True:
            activity.heartbeat()
            await asyncio.sleep(HEARTBEAT_EVERY_S)

    task = asyncio.ensure_future(beat())
    try:
        yield
    finally:
        task.cancel()


class Activities:
    def __init__(self, host: WorkerHost) -> None:
        self.host = host

    def _agent(
        self,
        *,
        run_id: str,
        agent_id: str,
        attempt: int,
        role: str,
        model: str,
        system: str,
        tools: list[str],
        max_tokens: int,
        pub: Publisher,
        ctx: ToolContext,
        history: list[dict[str, Any]] | None = None,
        budget_usd: float | None = None,
        token_budget: int | None = None,
        ledger: RunLedger | None = None,
    ) -> Agent:
        host = self.host
        return Agent(
            run_id=run_id,
            agent_id=agent_id,
            role=role,
            model=model,
            system=system,
            tools=build_tools(tools),
            ctx=ctx,
            client=host.client,
            catalog=host.settings.catalog,
            emit=pub.emit,
            attempt=attempt,
            max_tokens=max_tokens,
            cache=True,
            history=history,
            budget_usd=budget_usd,
            token_budget=token_budget,
            ledger=ledger,
            recorder=ToolRecorder(run_id=run_id, agent_id=agent_id, attempt=attempt, emit=pub.emit),
        )

    @activity.defn(name=MODEL_TURN)
    async def model_turn(self, inp: TurnInput) -> TurnOutput:
        host = self.host
        pub = host.publisher(inp.hub, activity.info().workflow_id)
        saved = host.conversations.load(inp.conversation)
        if saved.turn >= inp.turn and saved.output is not None:
            return _output(saved.output)  # this turn ran to its end before: its result
        history = saved.messages
        if not history and inp.history:
            history = inp.history
        agent = self._agent(
            run_id=inp.run_id,
            agent_id=inp.agent_id,
            attempt=inp.attempt,
            role=inp.role,
            model=inp.model,
            system=inp.system,
            tools=inp.tools,
            max_tokens=inp.max_tokens,
            pub=pub,
            ctx=host.context(inp.agent_id, Policy(), inp.run_id, None, pub),
            history=history,
            budget_usd=inp.budget_usd,
            token_budget=inp.token_budget,
            ledger=SpendRelay(pub, inp.agent_id, inp.attempt, inp.usage.cost_usd or 0.0),
        )
        _seed(agent, inp)
        # The session stops this attempt (its run's budget spent, a kill): the reply ends
        # now, not at the next heartbeat after the workflow heard of it.
        stopped: list[str] = []

        def stop(state: str, reason: str) -> None:
            stopped[:] = [state, reason]
            agent.halt(reason)

        key = (inp.agent_id, inp.attempt)
        pub.stop_handlers[key] = stop
        agent.turn = inp.turn - 1
        if inp.first_message is not None and not history:
            agent.start(inp.first_message)
        for s in inp.steers:
            agent.post(InboxMessage(s.text, s.steer_id, False, s.source, s.silent))
        blocks = [*inp.append, *agent.take_inbox()]
        if blocks:
            agent.add_user(blocks)
        agent.turn = inp.turn
        failed: str | None = None
        try:
            async with heartbeating():
                try:
                    reply = await agent.model_turn(agent.tool_specs())
                except AgentFailed as exc:
                    failed, reply = exc.reason, None
                out = self._turn_output(agent, reply, failed)
                out.stopped = list(stopped)
                host.conversations.save(
                    inp.conversation, Saved(inp.turn, agent.messages, dataclasses.asdict(out))
                )
                await pub.flush()
        except asyncio.CancelledError:
            # Killed, timed out or interrupted: what streamed stays in the conversation.
            host.conversations.save(inp.conversation, Saved(inp.turn, agent.messages))
            await pub.flush()
            raise
        finally:
            if pub.stop_handlers.get(key) is stop:
                del pub.stop_handlers[key]
        return out

    def _turn_output(
        self,
        agent: Agent,
        reply: tuple[list[dict[str, Any]], str] | None,
        failed: str | None,
    ) -> TurnOutput:
        calls: list[dict[str, Any]] = []
        stop_reason: str | None = None
        if reply is not None:
            content, stop_reason = reply
            if stop_reason == "tool_use" or agent.cut_call is not None:
                calls = [
                    {"id": b["id"], "name": b["name"], "input": b.get("input")}
                    for b in content
                    if b.get("type") == "tool_use"
                ]
        total = agent.usage.total
        return TurnOutput(
            stop_reason=stop_reason,
            calls=calls,
            usage=UsageTotals(
                total.input_tokens,
                total.output_tokens,
                total.cache_read_tokens,
                total.cache_write_tokens,
                agent.cost_usd,
            ),
            last_text=agent.last_text,
            failed=failed,
            cut_notice=agent.cut_notice() if agent.cut_call is not None else None,
            notes=[Steer(m.steer_id, m.text, m.interrupt, m.source, m.silent) for m in agent.inbox],
            warned=[limit.unit for limit in agent.limits if limit.warned],
            cuts_in_a_row=agent.cuts_in_a_row,
        )

    @activity.defn(name=TOOL_CALL)
    async def tool_call(self, inp: ToolInput) -> dict[str, Any]:
        host = self.host
        pub = host.publisher(inp.hub, activity.info().workflow_id)
        ctx = host.context(inp.agent_id, inp.policy, inp.run_id, inp.network, pub, inp.approval)
        agent = self._agent(
            run_id=inp.run_id,
            agent_id=inp.agent_id,
            attempt=inp.attempt,
            role=inp.role,
            model="",
            system="",
            tools=inp.tools,
            max_tokens=1,
            pub=pub,
            ctx=ctx,
        )
        async with heartbeating():
            try:
                block, _ = await agent.run_tool(inp.call, announce=not inp.announced)
            except ApprovalNeeded as need:
                # The session's broker asks the operator (the same request the TUI shows
                # for a local agent); the workflow waits for the answer.
                request_id = approval_id(inp, str(inp.call["id"]))
                pub.emit(
                    ApprovalRequested(
                        run_id=inp.run_id,
                        agent_id=inp.agent_id,
                        request_id=request_id,
                        tool=need.tool,
                        command=need.command,
                        cwd=need.cwd,
                    )
                )
                block = {
                    "type": APPROVAL_NEEDED,
                    "request_id": request_id,
                    "tool": need.tool,
                    "command": need.command,
                    "cwd": need.cwd,
                }
            await pub.flush()
        return block


def approval_id(inp: ToolInput, tool_use_id: str) -> str:
    """The same for every run of one call (activities are at least once: a call asked
    again after a worker crash is the same request, not a second one)."""
    key = f"{inp.run_id}/{inp.agent_id}/{inp.attempt}/{tool_use_id}"
    return "apr-" + hashlib.sha256(key.encode()).hexdigest()[:10]


def _output(data: dict[str, Any]) -> TurnOutput:
    fields = dict(data)
    fields["usage"] = UsageTotals(**fields["usage"])
    fields["notes"] = [Steer(**n) for n in fields["notes"]]
    return TurnOutput(**fields)


def _seed(agent: Agent, inp: TurnInput) -> None:
    """The attempt's usage and budget warnings so far (this agent object lives one turn)."""
    u = inp.usage
    usage = Usage(u.input_tokens, u.output_tokens, u.cache_read_tokens, u.cache_write_tokens)
    agent.carry_over(usage, u.cost_usd, inp.warned, inp.cuts_in_a_row)
