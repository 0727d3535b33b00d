"""Runaway cases against a scripted loopback Messages API, with the whole app (Session,
Supervisor, agents, the real SDK, the SQLite store): what each costs in events,
requests and time.

    python -m bench.limits fanout [N]   one CEO reply with N spawn_agent calls (default 1000)
    python -m bench.limits wait         a CEO that calls wait_for_agents forever (15 s cap)
    python -m bench.limits pause        a CEO that answers pause_turn forever (15 s cap)

Works on older checkouts too (settings they lack are left out), to measure before/after.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from core.catalog import Catalog, Usage
from core.config import Settings
from core.events import CEO_ID
from core.llm import make_client
from core.model_access import ModelAccess
from core.session import Session
from core.store import Store
from tests.fakeapi import DEFAULT_KEY, FakeAPI, Message, RecordedRequest, Text, text_reply
from tests.fakeapi import tool_use_reply as calls_reply

CAP_S = 15.0


def _settings(workspace: Path, **extra: Any) -> Settings:
    known = {f.name for f in dataclasses.fields(Settings)}
    return Settings(workspace=workspace, **{k: v for k, v in extra.items() if k in known})


def _is_ceo(request: RecordedRequest) -> bool:
    return any(t.get("name") == "spawn_agent" for t in request.tools)


async def _run(plan: Any, settings: Settings, cap_s: float) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="bench-limits-") as tmp:
        db = Path(tmp) / "runs.db"
        async with FakeAPI(default=plan) as api:
            client = make_client(DEFAULT_KEY, api.base_url, max_retries=0)
            session = Session(settings, access=ModelAccess(client, False, "bench"))
            store = await Store.open(db)
            session.bus.subscribe(store.append)
            kinds: dict[str, int] = {}
            session.bus.subscribe(lambda e: kinds.__setitem__(e.kind, kinds.get(e.kind, 0) + 1))
            started = time.monotonic()
            session.start("bench")
            try:
                outcome = await asyncio.wait_for(session.wait_finished(), cap_s)
                status = outcome.status
            except TimeoutError:
                status = f"still running after {cap_s:g}s"
            elapsed = time.monotonic() - started
            await session.close()
            await store.flush()
            await store.close()
            ceo = [r for r in api.requests if _is_ceo(r)]
        size = db.stat().st_size + sum(
            p.stat().st_size for p in Path(tmp).glob("runs.db-*") if p.exists()
        )
    price = Catalog()
    per_request = price.cost(settings.ceo_model, Usage(25, 12)) or 0.0  # FakeAPI's usage
    return {
        "status": status,
        "seconds": round(elapsed, 2),
        "events": sum(kinds.values()),
        "agent_queued": kinds.get("agent_queued", 0),
        "ceo_requests": len(ceo),
        "ceo_cost_usd": round(len(ceo) * per_request, 4),
        "db_bytes": size,
        "error": getattr(session, "error", ""),
    }


def fanout(n: int) -> dict[str, Any]:
    turns = {"ceo": 0}

    def plan(request: RecordedRequest) -> Any:
        if not _is_ceo(request):
            return text_reply("report", pieces=1)
        turns["ceo"] += 1
        if turns["ceo"] == 1:
            spawns = [("spawn_agent", {"role": "research", "task": f"t{i}"}) for i in range(n)]
            return calls_reply(spawns, pieces=1)
        if turns["ceo"] == 2:
            return calls_reply([("wait_for_agents", {})])
        return text_reply("All done.")

    with tempfile.TemporaryDirectory() as ws:
        settings = _settings(Path(ws), max_agents=n, budget_usd=None)
        return asyncio.run(_run(plan, settings, 600.0))


def endless(kind: str) -> dict[str, Any]:
    def plan(request: RecordedRequest) -> Any:
        if kind == "wait":
            return calls_reply([("wait_for_agents", {})])
        return Message([Text("thinking")], stop_reason="pause_turn")

    with tempfile.TemporaryDirectory() as ws:
        return asyncio.run(_run(plan, _settings(Path(ws)), CAP_S))


def main(argv: list[str]) -> int:
    what = argv[0] if argv else "fanout"
    if what == "fanout":
        result = fanout(int(argv[1]) if len(argv) > 1 else 1000)
    elif what in ("wait", "pause"):
        result = endless(what)
    else:
        print(__doc__, file=sys.stderr)
        return 2
    print(json.dumps({"case": what, **result, "ceo": CEO_ID}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
