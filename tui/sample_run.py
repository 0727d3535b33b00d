"""A fixed, synthetic run mid-flight: the feed for snapshot tests and screenshots.

Every timestamp is fixed, so with `SAMPLE_NOW` as the clock the screens render the same
bytes every time.
"""

from __future__ import annotations

import json
from typing import Any

from core.config import DEFAULT_RUN_BUDGET_USD
from core.events import (
    AgentFinished,
    AgentQueued,
    AgentSpawned,
    AgentStateChanged,
    ApprovalRequested,
    Event,
    MessageAppended,
    OperatorMessage,
    RunStarted,
    SteerDelivered,
    SteerQueued,
    TextDelta,
    ToolCallFinished,
    ToolCallStarted,
    TurnEnded,
    TurnStarted,
    UsageUpdated,
)

RUN_ID = "20260301-090000-c0de"
T0 = 1_772_355_600.0
SAMPLE_NOW = T0 + 200.0
TASK = "Research competitors and build a landing page for a coffee subscription"

AGENTS: list[dict[str, Any]] = [
    {
        "id": "research-1",
        "role": "research",
        "model": "claude-haiku-5-5",
        "task": "Survey three coffee subscription competitors: prices, plans, tone",
        "timeout": 300.0,
    },
    {
        "id": "coding-1",
        "role": "coding",
        "model": "claude-haiku-5-5",
        "task": "Build deliverables/site/index.html with hero, plans and contact form",
        "timeout": 900.0,
    },
    {
        "id": "writer-1",
        "role": "writer",
        "model": "claude-sonnet-5-5",
        "task": "Write the landing page copy into deliverables/site/copy.md",
        "timeout": 180.0,
    },
    {
        "id": "data-1",
        "role": "data",
        "model": "claude-haiku-5-5",
        "task": "Build a pricing table CSV from the research notes",
        "timeout": 300.0,
    },
    {
        "id": "coding-2",
        "role": "coding",
        "model": "claude-haiku-5-5",
        "task": "Add a signup form with client-side validation",
        "timeout": 900.0,
    },
]


def sample_events() -> list[Event]:
    """The run at T0+200 s: running, waiting for approval, done, retried, queued agents."""
    out: list[Event] = []
    t = T0

    def add(cls: type[Event], dt: float = 0.5, **fields: Any) -> None:
        nonlocal t
        t += dt
        out.append(cls(run_id=RUN_ID, ts=t, **fields))

    add(
        RunStarted,
        task=TASK,
        workspace="~/coffee-subscription",
        ceo_model="claude-opus-5-5",
        simulated=True,
        max_concurrent=4,
        budget_usd=DEFAULT_RUN_BUDGET_USD,
    )
    add(
        AgentSpawned,
        agent_id="ceo",
        role="ceo",
        model="claude-opus-5-5",
        task=TASK,
        context_window=1_000_000,
    )
    add(AgentStateChanged, agent_id="ceo", state="running")
    add(OperatorMessage, agent_id="ceo", text=TASK)
    add(TurnStarted, agent_id="ceo", turn=1, model="claude-opus-5-5")
    plan = (
        "Here is the plan. The work splits cleanly into **four parallel tracks**:\n\n"
        "1. research on competitors\n2. the page itself\n3. the copy\n4. a pricing table\n\n"
        "I'll check the deliverables myself before answering."
    )
    for i in range(0, len(plan), 40):
        add(TextDelta, 0.05, agent_id="ceo", turn=1, text=plan[i : i + 40])
    for n, spec in enumerate(AGENTS):
        tool_id = f"toolu_{n}"
        args = {"role": spec["role"], "task": spec["task"]}
        add(
            ToolCallStarted,
            agent_id="ceo",
            tool_use_id=tool_id,
            name="spawn_agent",
            input=args,
            summary=f"spawn {spec['role']}: {spec['task'][:60]}",
        )
        add(
            AgentSpawned,
            agent_id=spec["id"],
            role=spec["role"],
            model=spec["model"],
            task=spec["task"],
            timeout_s=spec["timeout"],
            context_window=1_000_000,
        )
        queued = n >= 4
        if queued:
            add(AgentStateChanged, agent_id=spec["id"], state="queued")
            add(AgentQueued, agent_id=spec["id"], position=1)
        else:
            add(AgentStateChanged, agent_id=spec["id"], state="running")
            add(
                MessageAppended,
                agent_id=spec["id"],
                attempt=1,
                role="user",
                content=[{"type": "text", "text": spec["task"]}],
            )
        receipt: dict[str, Any] = {
            "agent_id": spec["id"],
            "state": "queued" if queued else "running",
        }
        if queued:
            receipt["queue_position"] = 1
        add(
            ToolCallFinished,
            agent_id="ceo",
            tool_use_id=tool_id,
            name="spawn_agent",
            output=json.dumps(receipt),
            data=receipt,
        )
    add(TurnEnded, agent_id="ceo", turn=1, stop_reason="tool_use")
    add(
        UsageUpdated,
        agent_id="ceo",
        attempt=1,
        input_tokens=4210,
        output_tokens=812,
        cache_read_tokens=0,
        cache_write_tokens=3900,
        cost_usd=0.0367,
        context_tokens=8110,
    )
    _worker(add, "research-1", turns=3, tokens=(18_400, 2_950), cost=0.0033, ctx=21_000)
    _worker(add, "coding-1", turns=2, tokens=(9_800, 3_400), cost=0.0027, ctx=13_000)
    add(
        ApprovalRequested,
        agent_id="coding-1",
        request_id="apr-0001",
        tool="run_command",
        command="npx html-validate deliverables/site/index.html",
        cwd="~/coffee-subscription",
    )
    add(AgentStateChanged, agent_id="coding-1", state="waiting_approval")
    _worker(add, "writer-1", turns=2, tokens=(6_100, 1_450), cost=0.0267, ctx=7_500)
    add(
        SteerQueued,
        agent_id="writer-1",
        steer_id="st-1",
        message="Keep the tone plain: no superlatives",
        source="ceo",
    )
    add(SteerDelivered, agent_id="writer-1", steer_id="st-1", turn=3)
    add(AgentStateChanged, agent_id="writer-1", state="done")
    add(
        AgentFinished,
        agent_id="writer-1",
        state="done",
        result="Wrote deliverables/site/copy.md: headline, three benefits and a call to action.",
        elapsed_s=64.0,
    )
    _worker(add, "data-1", turns=1, tokens=(3_000, 400), cost=0.0005, ctx=3_400)
    add(AgentStateChanged, agent_id="data-1", state="failed", reason="pricing.csv had 0 rows")
    add(
        AgentFinished,
        agent_id="data-1",
        state="failed",
        result="pricing.csv had 0 rows",
        elapsed_s=41.0,
    )
    add(
        SteerQueued,
        agent_id="research-1",
        steer_id="st-2",
        message="Include the cheapest plan of each competitor",
    )
    return out


def _worker(
    add: Any, agent_id: str, *, turns: int, tokens: tuple[int, int], cost: float, ctx: int
) -> None:
    lines = [
        "Reading the workspace to see what exists already.",
        "Found deliverables/ with an empty site/ directory.",
        "Drafting the first section now; plans are ordered by price.",
        "Checking the result against the acceptance criteria.",
    ]
    for turn in range(1, turns + 1):
        add(TurnStarted, 2.0, agent_id=agent_id, turn=turn, model="claude-haiku-5-5")
        for line in lines[turn - 1 : turn + 1]:
            add(TextDelta, 0.3, agent_id=agent_id, turn=turn, text=line + "\n")
        add(
            MessageAppended,
            agent_id=agent_id,
            attempt=1,
            role="assistant",
            content=[
                {"type": "text", "text": lines[turn - 1]},
                {
                    "type": "tool_use",
                    "id": f"tu-{agent_id}-{turn}",
                    "name": "list_files",
                    "input": {"path": "deliverables"},
                },
            ],
        )
        add(
            ToolCallStarted,
            agent_id=agent_id,
            tool_use_id=f"tu-{agent_id}-{turn}",
            name="list_files",
            input={"path": "deliverables"},
            summary="list_files deliverables",
        )
        add(
            ToolCallFinished,
            agent_id=agent_id,
            tool_use_id=f"tu-{agent_id}-{turn}",
            name="list_files",
            output="site/\nsite/index.html",
        )
        add(
            MessageAppended,
            agent_id=agent_id,
            attempt=1,
            role="user",
            content=[
                {
                    "type": "tool_result",
                    "tool_use_id": f"tu-{agent_id}-{turn}",
                    "content": "site/\nsite/index.html",
                }
            ],
        )
        add(TurnEnded, agent_id=agent_id, turn=turn, stop_reason="tool_use")
        share = turn / turns
        add(
            UsageUpdated,
            agent_id=agent_id,
            attempt=1,
            input_tokens=int(tokens[0] * share),
            output_tokens=int(tokens[1] * share),
            cache_read_tokens=int(tokens[0] * share * 0.4),
            cache_write_tokens=0,
            cost_usd=round(cost * share, 6),
            context_tokens=int(ctx * share),
        )
