"""Whole runs against the simulator through the real SDK, driven by a tiny stand-in app.

The stand-in runs the CEO's and the sub-agents' turn loops and executes the tools for real
in a temporary workspace, so the default scenario's check truly fails, then passes.
"""

from __future__ import annotations

import asyncio
import json
import re
import shlex
from pathlib import Path
from typing import Any

import anthropic
import httpx2

from core.config import DEFAULT_ALLOW, DEFAULT_ROLES
from core.simulator import Simulator, SimulatorTransport

CEO_TOOLS = ["spawn_agent", "wait_for_agents", "steer_agent", "kill_agent", "retry_agent",
             "run_check", "read_file"]  # fmt: skip
SIMPLE_PREFIXES = ("ls", "cat", "head", "tail", "wc", "grep", "find", "pwd", "echo",
                   "python -m py_compile", "python3 -m py_compile")  # fmt: skip


def spec(name: str) -> dict[str, Any]:
    return {"name": name, "description": name, "input_schema": {"type": "object"}}


def client_for(sim: Simulator) -> anthropic.AsyncAnthropic:
    transport = SimulatorTransport(sim)
    return anthropic.AsyncAnthropic(
        api_key="simulator",
        base_url="http://simulator.invalid",
        http_client=httpx2.AsyncClient(transport=transport),
        max_retries=0,
    )


class StandInApp:
    """Just enough of the app to drive multi-agent runs: agents are asyncio tasks."""

    def __init__(self, client: anthropic.AsyncAnthropic, workspace: Path) -> None:
        self.client = client
        self.ws = workspace
        self.agents: dict[str, dict[str, Any]] = {}
        self.counts: dict[str, int] = {}
        self.commands: list[str] = []
        self.tool_ids: set[str] = set()
        self.ceo_calls: list[str] = []
        # Agents start work when the CEO first waits, so its steer lands deterministically.
        self.gate = asyncio.Event()

    async def turn(self, model: str, system: str, tools: list[str], messages: list[Any]) -> Any:
        async with self.client.messages.stream(
            model=model, max_tokens=8192, system=system, tools=[spec(t) for t in tools],
            messages=messages,
        ) as stream:  # fmt: skip
            message = await stream.get_final_message()
        for block in message.content:
            if block.type == "tool_use":
                assert block.id.startswith("toolu_") and block.id not in self.tool_ids
                self.tool_ids.add(block.id)
        expected = "tool_use" if any(b.type == "tool_use" for b in message.content) else "end_turn"
        assert message.stop_reason == expected
        return message

    async def command(self, command: str) -> tuple[int, str, str]:
        assert command.startswith(SIMPLE_PREFIXES), command
        assert any(command.startswith(p) for p in DEFAULT_ALLOW)
        self.commands.append(command)
        proc = await asyncio.create_subprocess_exec(
            *shlex.split(command), cwd=self.ws, stdout=-1, stderr=-1
        )
        out, err = await asyncio.wait_for(proc.communicate(), 10)
        return proc.returncode or 0, out.decode(), err.decode()

    def path(self, rel: str) -> Path:
        return self.ws / rel

    async def worker_tool(self, name: str, args: dict[str, Any]) -> tuple[str, bool]:
        if name == "list_files":
            base = self.path(args.get("path") or ".")
            if not base.is_dir():
                return f"not a directory: {args.get('path')}", True
            return "\n".join(str(p.relative_to(self.ws)) for p in sorted(base.rglob("*"))), False
        if name == "search_files":
            hits = []
            for p in sorted(self.ws.rglob("*")):
                if p.is_file():
                    for i, line in enumerate(p.read_text(errors="replace").splitlines(), 1):
                        if re.search(args["pattern"], line):
                            hits.append(f"{p.relative_to(self.ws)}:{i}: {line}")
            return "\n".join(hits) or "no matches", False
        if name == "read_file":
            p = self.path(args["path"])
            if not p.is_file():
                return f"no such file: {args['path']}", True
            return p.read_text(), False
        if name == "write_file":
            p = self.path(args["path"])
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_text(args["content"])
            return f"wrote {len(args['content'])} bytes to {args['path']}", False
        if name == "edit_file":
            p = self.path(args["path"])
            text = p.read_text()
            if args["old_text"] not in text:
                return "old_text not found", True
            p.write_text(text.replace(args["old_text"], args["new_text"], 1))
            return f"edited {args['path']}", False
        if name == "run_command":
            code, out, err = await self.command(args["command"])
            return f"exit code {code}\n{out}{err}", False
        return f"unknown tool {name}", True

    async def run_agent(self, aid: str) -> None:
        await self.gate.wait()
        agent = self.agents[aid]
        role = DEFAULT_ROLES[agent["role"]]
        task = agent["task"]
        if agent["feedback"]:
            task += f"\n\nFeedback on your previous attempt: {agent['feedback']}"
        messages: list[Any] = [{"role": "user", "content": task}]
        for _ in range(30):
            msg = await self.turn(role.model, role.system_prompt, list(role.tools), messages)
            messages.append({"role": "assistant", "content": [b.model_dump() for b in msg.content]})
            calls = [b for b in msg.content if b.type == "tool_use"]
            if not calls:
                agent["state"], agent["result"] = "done", msg.content[-1].text
                return
            results: list[Any] = []
            for c in calls:
                text, err = await self.worker_tool(c.name, dict(c.input))
                results.append({"type": "tool_result", "tool_use_id": c.id, "content": text,
                                "is_error": err})  # fmt: skip
            while agent["steers"]:
                results.append({"type": "text", "text": "[message from the lead] "
                                + agent["steers"].pop(0)})  # fmt: skip
            messages.append({"role": "user", "content": results})
        agent["state"] = "failed"

    def start(self, aid: str) -> None:
        self.agents[aid]["state"] = "running"
        self.agents[aid]["task_obj"] = asyncio.create_task(self.run_agent(aid))

    async def ceo_tool(self, name: str, args: dict[str, Any]) -> Any:
        if name == "spawn_agent":
            n = self.counts[args["role"]] = self.counts.get(args["role"], 0) + 1
            aid = f"{args['role']}-{n}"
            self.agents[aid] = {"role": args["role"], "task": args["task"], "attempt": 1,
                                "feedback": None, "steers": [], "result": ""}  # fmt: skip
            self.start(aid)
            return {"agent_id": aid, "state": "running"}
        if name == "wait_for_agents":
            self.gate.set()
            ids = args.get("agent_ids") or list(self.agents)
            await asyncio.gather(*(self.agents[i]["task_obj"] for i in ids))
            return {"agents": [{"agent_id": i, "role": self.agents[i]["role"],
                                "state": self.agents[i]["state"],
                                "result": self.agents[i]["result"],
                                "attempt": self.agents[i]["attempt"], "input_tokens": 10,
                                "output_tokens": 5, "cost_usd": 0.001, "elapsed_s": 0.1}
                               for i in ids], "still_running": []}  # fmt: skip
        if name == "steer_agent":
            self.agents[args["agent_id"]]["steers"].append(args["message"])
            return {"steer_id": "steer-1", "status": "queued"}
        if name == "retry_agent":
            agent = self.agents[args["agent_id"]]
            agent["attempt"] += 1
            agent["feedback"] = args.get("feedback")
            self.start(args["agent_id"])
            return {"agent_id": args["agent_id"], "attempt": agent["attempt"], "state": "running"}
        if name == "run_check":
            code, out, err = await self.command(args["command"])
            return {"exit_code": code, "stdout_tail": out[-2000:], "stderr_tail": err[-2000:]}
        if name == "read_file":
            return self.path(args["path"]).read_text()
        raise AssertionError(name)

    async def run(self, task: str, notes: list[str] | None = None) -> tuple[str, list[Any]]:
        messages: list[Any] = [{"role": "user", "content": task}]
        for _ in range(40):
            msg = await self.turn("claude-opus-5-5", "You are the CEO.", CEO_TOOLS, messages)
            messages.append({"role": "assistant", "content": [b.model_dump() for b in msg.content]})
            calls = [b for b in msg.content if b.type == "tool_use"]
            if not calls:
                return msg.content[-1].text, messages
            results: list[Any] = []
            for c in calls:
                self.ceo_calls.append(c.name)
                out = await self.ceo_tool(c.name, dict(c.input))
                content = out if isinstance(out, str) else json.dumps(out)
                results.append({"type": "tool_result", "tool_use_id": c.id, "content": content})
            if notes:
                results.append({"type": "text", "text": notes.pop(0)})
            messages.append({"role": "user", "content": results})
        raise AssertionError("the CEO never finished")


def fast_sim(scenario: str = "default") -> Simulator:
    return Simulator(scenario, tokens_per_s=50000, latency_s=0, seed=7)


async def test_default_run_checks_retries_and_finishes(tmp_path: Path) -> None:
    (tmp_path / "README.md").write_text("# Acme Notes\nA note-taking app. Competitor: Jotly.\n")
    app = StandInApp(client_for(fast_sim()), tmp_path)
    task = "Research competitors and build a landing page for Acme Notes"
    final, _ = await asyncio.wait_for(app.run(task), 20)
    calls = app.ceo_calls
    assert calls[:3] == ["spawn_agent"] * 3
    assert {a["role"] for a in app.agents.values()} == {"research", "writer", "coding"}
    assert calls.index("steer_agent") < calls.index("run_check") < calls.index("retry_agent")
    assert calls[-2:] == ["read_file", "run_check"]
    page = (tmp_path / "deliverables/site/index.html").read_text()
    assert 'id="contact"' in page and app.agents["coding-1"]["attempt"] == 2
    assert "FAQ" in (tmp_path / "deliverables/site/copy.md").read_text()  # the steer applied
    assert "passes after one retry" in final
    assert "README.md" in app.agents["research-1"]["result"]


async def test_operator_note_is_acknowledged(tmp_path: Path) -> None:
    app = StandInApp(client_for(fast_sim()), tmp_path)
    final, messages = await asyncio.wait_for(
        app.run("Write a report on onboarding", notes=["[operator] keep it brief"]), 20
    )
    texts = [b["text"] for m in messages if m["role"] == "assistant" for b in m["content"]
             if b["type"] == "text"]  # fmt: skip
    assert any("keep it brief" in t for t in texts)
    assert app.ceo_calls.count("steer_agent") == 2  # the CEO's own note, and the operator's
    doc = (tmp_path / "deliverables/onboarding.md").read_text()
    assert doc.startswith("# Onboarding") and "Placeholder written by simulated models" in doc
    assert doc.count("## FAQ") == 1  # the CEO's steer, applied once
    assert final.startswith("Not verified") and "placeholder work" in final


async def test_failure_scenario_retries_once_then_reports_failure(tmp_path: Path) -> None:
    sim = fast_sim("failure")
    app = StandInApp(client_for(sim), tmp_path)

    async def failing_agent(aid: str) -> None:
        try:
            await StandInApp.run_agent(app, aid)
        except anthropic.BadRequestError as exc:
            app.agents[aid]["state"], app.agents[aid]["result"] = "failed", str(exc)

    app.run_agent = failing_agent  # type: ignore[method-assign]
    final, _ = await asyncio.wait_for(app.run("Export the customer data for Acme"), 20)
    assert app.ceo_calls.count("retry_agent") == 1
    assert app.agents["data-1"]["state"] == "failed" and app.agents["data-1"]["attempt"] == 2
    assert app.agents["research-1"]["state"] == "done"
    assert "failed on both attempts" in final
