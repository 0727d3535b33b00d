"""Reopen a recorded run: the CEO's conversation comes back, ended agents can be retried."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from core.bus import EventBus
from core.catalog import Usage
from core.config import Settings
from core.events import CEO_ID
from core.model_access import ModelAccess
from core.session import Session, SessionError
from core.store import Store

INTERRUPTED_RESULT = "interrupted: the app stopped before this tool call finished"


def repair_history(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Make a conversation cut by a crash valid for the API again.

    Every tool_use must be answered by a tool_result in the next user message; calls
    that never got one are answered with an 'interrupted' tool error.
    """
    out: list[dict[str, Any]] = []
    for i, message in enumerate(messages):
        out.append(message)
        if message["role"] != "assistant" or not isinstance(message["content"], list):
            continue
        ids = [b["id"] for b in message["content"] if b.get("type") == "tool_use"]
        if not ids:
            continue
        nxt = messages[i + 1] if i + 1 < len(messages) else None
        answered: set[str] = set()
        if nxt is not None and nxt["role"] == "user" and isinstance(nxt["content"], list):
            answered = {
                b.get("tool_use_id") for b in nxt["content"] if b.get("type") == "tool_result"
            }
        missing = [
            {
                "type": "tool_result",
                "tool_use_id": t,
                "content": INTERRUPTED_RESULT,
                "is_error": True,
            }
            for t in ids
            if t not in answered
        ]
        if not missing:
            continue
        if nxt is not None and nxt["role"] == "user":
            content = (
                nxt["content"]
                if isinstance(nxt["content"], list)
                else [{"type": "text", "text": nxt["content"]}]
            )
            messages[i + 1] = {"role": "user", "content": [*missing, *content]}
        else:
            out.append({"role": "user", "content": missing})
    return out


def _minus(total: Usage, part: Usage) -> Usage:
    return Usage(
        max(0, total.input_tokens - part.input_tokens),
        max(0, total.output_tokens - part.output_tokens),
        max(0, total.cache_read_tokens - part.cache_read_tokens),
        max(0, total.cache_write_tokens - part.cache_write_tokens),
    )


async def open_resumed(
    settings: Settings,
    store: Store,
    ref: str,
    *,
    bus: EventBus | None = None,
    access: ModelAccess | None = None,
) -> Session:
    """A live, interactive Session continuing the recorded run `ref`.

    It starts at once: subscribe to `bus` before calling to see its first events. The
    run's dollar budget counts what this session spends (a resumed run starts afresh).
    """
    row = await store.find_run(ref)
    if row is None:
        raise SessionError(f"no run matches {ref!r} (see `delegate history`)")
    if row.status == "running":
        raise SessionError(f"run {row.run_id} is still running in another process")
    workspace = Path(row.workspace)
    if await asyncio.to_thread(workspace.is_dir):
        settings = settings.with_overrides(workspace=workspace)
    session = Session(settings, interactive=True, run_id=row.run_id, bus=bus, access=access)
    ceo_attempt = 1
    # A durable runner (Temporal) may still run attempts this run's app did not see end.
    still_running = getattr(session.agent_runner, "still_running", None)
    attach = getattr(session.agent_runner, "attach", None)
    for a in await store.agents(row.run_id):
        if a.agent_id == CEO_ID:
            ceo_attempt = a.attempt + 1
            continue
        state = a.state if a.finished else "interrupted"
        spec = settings.roles.get(a.role)
        record = session.supervisor.restore(
            a,
            state=state,
            budget_usd=spec.budget_usd if spec else None,
            token_budget=spec.token_budget if spec else None,
        )
        alive = None
        if state == "interrupted" and still_running is not None and attach is not None:
            alive = await still_running(row.run_id, a.agent_id, a.attempt)
        if alive is not None and attach is not None:
            # It ran on: follow it again. Its own usage so far comes back live from it.
            usage, cost = alive
            record.result = ""
            record.reported = False
            record.prior_usage = _minus(record.prior_usage, usage)
            if record.prior_cost is not None and cost is not None:
                record.prior_cost = max(0.0, record.prior_cost - cost)
            session.supervisor.adopt(record, attach)
    for event in await store.evidence_events(row.run_id):
        # What was written and checked before: the resumed run's verdict starts from it.
        session.evidence.observe(event)
        session.verification.observe(event)
    history = repair_history(await store.conversation(row.run_id, CEO_ID))
    session.start(row.task, history=history, resumed_from=row.run_id, ceo_attempt=ceo_attempt)
    return session
