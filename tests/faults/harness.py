"""The fault harness: a whole Session (CEO, supervisor, agents, ModelClient, the real SDK)
against the loopback FakeAPI, whose reply is a function of the request.

`Plan` plays the models: the CEO (requests offering `spawn_agent`) spawns the workers,
waits for them and answers; a worker (known by the `task NAME:` its task starts with)
makes `turns` list_files calls, then reports. Faults are rules on (agent, turn, try):
the n-th HTTP request for one agent's turn (SDK retries included) gets the n-th fault.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import threading
from collections import defaultdict
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core.config import Settings
from core.events import (
    CEO_ID,
    AgentFinished,
    AgentStateChanged,
    Event,
    RunFinished,
    TextDelta,
    ThinkingDelta,
)
from core.llm import make_client
from core.model_access import ModelAccess
from core.session import RunOutcome, Session
from core.store import Store
from tests.fakeapi import DEFAULT_KEY, FakeAPI, RecordedRequest, Reply, text_reply, tool_use_reply
from tests.scripted import Recorder

FAST = {"retry-after-ms": "5"}  # keeps the SDK's own backoff short (it honours the header)
_TASK = re.compile(r"^task (\S+):")


@dataclass(frozen=True)
class Worker:
    name: str
    turns: int = 0  # successful tool turns before the final report
    model: str | None = None
    timeout_s: float | None = None

    @property
    def report(self) -> str:
        return f"report from {self.name}"


@dataclass(frozen=True)
class Call:
    """What the plan knows of one request."""

    agent: str  # "ceo" or a worker's name
    turn: int  # 1-based; every try of one turn has the same number
    try_no: int  # 1-based count of HTTP requests for this (agent, turn)
    request: RecordedRequest


Rule = Callable[[Call], Reply | None]


@dataclass
class Plan:
    workers: Sequence[Worker]
    rules: list[Rule] = field(default_factory=list)
    calls: list[Call] = field(default_factory=list)
    _tries: dict[tuple[str, int], int] = field(default_factory=lambda: defaultdict(int))

    def fail(self, agent: str, turn: int, *replies: Reply) -> Plan:
        """The first len(replies) requests of `agent`'s `turn` get these replies in order."""

        def rule(call: Call) -> Reply | None:
            if call.agent == agent and call.turn == turn and call.try_no <= len(replies):
                return replies[call.try_no - 1]
            return None

        self.rules.append(rule)
        return self

    def always(self, when: Callable[[Call], bool], reply: Callable[[], Reply]) -> Plan:
        self.rules.append(lambda call: reply() if when(call) else None)
        return self

    def of(self, agent: str) -> list[Call]:
        return [c for c in self.calls if c.agent == agent]

    def __call__(self, request: RecordedRequest) -> Reply:
        agent = agent_of(request)
        turn = (len(request.messages) + 1) // 2
        self._tries[(agent, turn)] += 1
        call = Call(agent, turn, self._tries[(agent, turn)], request)
        self.calls.append(call)
        for rule in self.rules:
            reply = rule(call)
            if reply is not None:
                return reply
        return self.ceo_reply(call) if agent == CEO_ID else self.worker_reply(call)

    def ceo_reply(self, call: Call) -> Reply:
        if call.turn == 1:
            spawns = []
            for w in self.workers:
                args: dict[str, Any] = {"role": "research", "task": f"task {w.name}: look"}
                if w.model:
                    args["model"] = w.model
                if w.timeout_s:
                    args["timeout_s"] = w.timeout_s
                spawns.append(("spawn_agent", args))
            return tool_use_reply(spawns)
        if call.turn == 2:
            return tool_use_reply([("wait_for_agents", {})])
        return text_reply("All done.")

    def worker_reply(self, call: Call) -> Reply:
        worker = next(w for w in self.workers if w.name == call.agent)
        if call.turn <= worker.turns:
            return tool_use_reply([("list_files", {"path": "."})])
        return text_reply(worker.report)


def agent_of(request: RecordedRequest) -> str:
    if any(t.get("name") == "spawn_agent" for t in request.tools):
        return CEO_ID
    first = request.messages[0]["content"] if request.messages else ""
    text = first if isinstance(first, str) else first[0].get("text", "")
    match = _TASK.match(text)
    return match.group(1) if match else "?"


def request_text(request: RecordedRequest) -> str:
    return json.dumps(request.messages)


@dataclass
class FaultRun:
    api: FakeAPI
    plan: Plan
    session: Session
    store: Store
    recorder: Recorder

    async def finish(self, timeout_s: float = 15.0) -> RunOutcome:
        return await asyncio.wait_for(self.session.wait_finished(), timeout_s)

    def finished(self, agent_id: str) -> AgentFinished:
        (event,) = self.recorder.of(AgentFinished, agent_id)
        return event  # type: ignore[no-any-return]

    def states(self, agent_id: str) -> list[str]:
        return [e.state for e in self.recorder.of(AgentStateChanged, agent_id)]

    def last_ceo_request(self) -> str:
        return request_text(self.plan.of(CEO_ID)[-1].request)

    async def assert_stored(self) -> None:
        """Every published event is in the store, in order (text deltas may be coalesced)."""
        await self.store.flush()
        stored = await self.store.events(self.session.run_id)
        published = self.recorder.events
        assert _plain(stored) == _plain(published)
        assert _deltas(stored) == _deltas(published)


def _plain(events: list[Event]) -> list[dict[str, Any]]:
    return [e.to_dict() for e in events if not isinstance(e, TextDelta | ThinkingDelta)]


def _deltas(events: list[Event]) -> dict[tuple[str | None, int, str], str]:
    out: dict[tuple[str | None, int, str], str] = defaultdict(str)
    for e in events:
        if isinstance(e, TextDelta | ThinkingDelta):
            out[(e.agent_id, e.turn, e.kind)] += e.text
    return dict(out)


@contextlib.asynccontextmanager
async def fault_run(
    tmp_path: Path,
    plan: Plan,
    *,
    task: str = "Find things out",
    api_key: str = DEFAULT_KEY,
    sdk_retries: int = 2,
    sdk_timeout_s: float = 600.0,
    turn_retries: int = 3,
    retry_base_delay_s: float = 0.01,
    max_concurrent: int = 5,
    before_start: Callable[[Session], None] | None = None,
    settings: dict[str, Any] | None = None,
    interactive: bool = False,
    start: bool = True,
) -> AsyncIterator[FaultRun]:
    """A started run against a FakeAPI answering with `plan`; closed (and checked) after.
    With `start=False` the caller starts it (an app given the session does)."""
    workspace = tmp_path / "ws"
    workspace.mkdir(exist_ok=True)
    async with FakeAPI(default=lambda request: plan(request)) as api:
        client = make_client(
            api_key, api.base_url, max_retries=sdk_retries, timeout_s=sdk_timeout_s
        )
        config = Settings(
            workspace=workspace,
            retry_base_delay_s=retry_base_delay_s,
            turn_retries=turn_retries,
            max_concurrent=max_concurrent,
            **(settings or {}),
        )
        access = ModelAccess(client, simulated=False, describe="fault server")
        session = Session(config, access=access, interactive=interactive)
        store = await Store.open(tmp_path / "runs.db")
        session.bus.subscribe(store.append)
        recorder = Recorder(session.bus)
        if before_start is not None:
            before_start(session)
        try:
            if start:
                session.start(task)
            yield FaultRun(api, plan, session, store, recorder)
        finally:
            await session.close()
            await store.close()
    assert len(recorder.of(RunFinished)) == 1


def assert_recovered(run: FaultRun, outcome: RunOutcome) -> None:
    """The run was answered: every worker reported, and the CEO saw every report.

    The fault plans run no check, so an answered run is honestly `unverified`.
    """
    assert (outcome.status, outcome.verified) == ("unverified", False), outcome.result
    assert outcome.result == "All done."
    ceo_saw = run.last_ceo_request()
    for w in run.plan.workers:
        finished = run.finished(agent_id(run, w))
        assert finished.state == "done"
        assert finished.result == w.report
        assert w.report in ceo_saw


def agent_id(run: FaultRun, worker: Worker) -> str:
    """The supervisor's id (research-N) of the worker spawned with `worker`'s task."""
    for record in run.session.supervisor.records.values():
        if record.task.startswith(f"task {worker.name}:"):
            return record.agent_id
    raise AssertionError(f"{worker.name} was not spawned")


# ---- a FakeAPI on its own thread, for the CLI (which runs its own event loop) ----------------


@contextlib.contextmanager
def threaded_api(**kwargs: Any) -> Iterator[FakeAPI]:
    """A FakeAPI served from a background thread's loop; stopped on exit."""
    loop = asyncio.new_event_loop()
    ready = threading.Event()
    holder: dict[str, FakeAPI] = {}
    stop: asyncio.Event | None = None

    async def serve() -> None:
        nonlocal stop
        stop = asyncio.Event()
        async with FakeAPI(**kwargs) as api:
            holder["api"] = api
            ready.set()
            await stop.wait()

    thread = threading.Thread(target=loop.run_until_complete, args=(serve(),), daemon=True)
    thread.start()
    try:
        assert ready.wait(5), "the fault server did not start"
        yield holder["api"]
    finally:
        assert stop is not None
        loop.call_soon_threadsafe(stop.set)
        thread.join(5)
        loop.close()
