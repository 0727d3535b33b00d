"""The scripted CEO: spawn, steer, wait, check, retry once, verify, answer.

Its state is rebuilt on every request from the tool calls and results so far, so the
same code follows any interleaving of results, finish notices and operator messages.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from core.simulator.reply import Reply, Text
from core.simulator.scenarios.base import FINISHED_RE, OPERATOR_PREFIX, Conversation, Outcome
from core.simulator.scenarios.script import Script
from core.simulator.scenarios.workers import first_line

ACTIVE = ("running", "queued", "waiting_approval")


@dataclass
class AgentView:
    id: str
    role: str
    index: int
    state: str = "queued"
    result: str = ""
    attempt: int = 1
    cost_usd: float = 0.0
    retried: bool = False


@dataclass
class CeoState:
    agents: dict[str, AgentView] = field(default_factory=dict)
    spawn_errors: list[str] = field(default_factory=list)
    steered: bool = False
    checks: list[Outcome] = field(default_factory=list)  # run_check outcomes, in order
    checks_after_retry: int = 0
    reads_after_retry: int = 0
    read_done: bool = False
    retry_done: bool = False

    @property
    def active(self) -> list[AgentView]:
        return [a for a in self.agents.values() if a.state in ACTIVE]

    def by_index(self, index: int) -> AgentView | None:
        return next((a for a in self.agents.values() if a.index == index), None)


def _update(state: CeoState, info: dict[str, Any]) -> None:
    agent = state.agents.get(str(info.get("agent_id")))
    if agent is None:
        return
    agent.state = str(info.get("state", agent.state))
    if "result" in info and info["result"] is not None:
        agent.result = str(info["result"])
    if isinstance(info.get("attempt"), int):
        agent.attempt = info["attempt"]
    if isinstance(info.get("cost_usd"), int | float):
        agent.cost_usd = float(info["cost_usd"])


def ceo_state(conv: Conversation) -> CeoState:
    state = CeoState()
    spawned = 0
    for turn in conv.turns:
        for call in turn.calls:
            out = call.outcome or Outcome("", True)
            data = out.json()
            if call.name == "spawn_agent":
                if out.is_error or "agent_id" not in data:
                    state.spawn_errors.append(first_line(out.text))
                else:
                    aid = str(data["agent_id"])
                    state.agents[aid] = AgentView(aid, str(call.input.get("role")), spawned)
                    _update(state, data)
                spawned += 1
            elif call.name == "wait_for_agents":
                for info in data.get("agents") or []:
                    if isinstance(info, dict):
                        _update(state, info)
            elif call.name in ("retry_agent", "kill_agent"):
                _update(state, dict(data, agent_id=call.input.get("agent_id")))
                if call.name == "retry_agent":
                    state.retry_done = True
                    if str(call.input.get("agent_id")) in state.agents:
                        state.agents[str(call.input.get("agent_id"))].retried = True
            elif call.name == "steer_agent":
                state.steered = True
            elif call.name == "run_check":
                state.checks.append(out)
                state.checks_after_retry += state.retry_done
            elif call.name == "read_file":
                state.read_done = True
                state.reads_after_retry += state.retry_done
        for note in turn.notes:
            match = FINISHED_RE.match(note)
            if match and match.group(1) in state.agents:
                _update(
                    state,
                    {"agent_id": match.group(1), "state": match.group(2), "result": match.group(3)},
                )
    return state


def check_passed(out: Outcome) -> bool:
    return not out.is_error and out.json().get("exit_code") == 0


def ceo_reply(conv: Conversation, script: Script) -> Reply:
    state = ceo_state(conv)
    ops = conv.notes_with(OPERATOR_PREFIX)
    finished_before = bool(conv.turns) and not conv.turns[-1].calls
    if ops and finished_before:
        return Reply().text(
            f"Noted: “{first_line(ops[-1], 120)}”. The run is already finished: "
            + _status_line(state)
            + " Start a new task if you want more work done."
        )
    lead = f"Noted: “{first_line(ops[-1], 120)}”. I'll take it into account.\n\n" if ops else ""
    reply = _next(conv, script, state)
    if lead:
        first = reply.blocks[0] if reply.blocks else None
        if isinstance(first, Text):
            first.text = lead + first.text
        else:
            reply.blocks.insert(0, Text(lead))
    return reply


def _next(conv: Conversation, script: Script, state: CeoState) -> Reply:
    if not conv.calls_named("spawn_agent"):
        reply = Reply().text(script.plan or "I'll split this into parallel tasks.")
        for agent in script.agents:
            args: dict[str, Any] = {"role": agent.role, "task": agent.task}
            if agent.timeout_s is not None:
                args["timeout_s"] = agent.timeout_s
            if agent.model:
                args["model"] = agent.model
            reply.call("spawn_agent", **args)
        return reply
    steer = script.steer
    target = state.by_index(steer.agent) if steer else None
    if steer and target and not state.steered and target.state in ACTIVE:
        return (
            Reply()
            .text(f"While they work, a note for {target.id} on scope and tone.")
            .call("steer_agent", agent_id=target.id, message=steer.message)
            .call("wait_for_agents")
        )
    if state.active:
        names = ", ".join(a.id for a in state.active)
        return Reply().text(f"Waiting for {names} to finish.").call("wait_for_agents")
    check = script.check
    gate = state.by_index(check.agent) if check else None
    failed = [a for a in state.agents.values() if a.state != "done"]
    if script.retry_failed and failed and not any(a.retried for a in failed):
        bad = failed[0]
        why = first_line(bad.result or bad.state, 160)
        feedback = (
            f"Your previous attempt ended as {bad.state}: {why}. Try again, keep it small, "
            "and report clearly what you could not do."
        )
        return (
            Reply()
            .text(f"{bad.id} ended as {bad.state}. I'll retry it once with feedback.")
            .call("retry_agent", agent_id=bad.id, feedback=feedback)
        )
    if check and gate is not None and gate.state == "done":
        if not state.checks:
            return (
                Reply()
                .text("All agents are done. Let me verify the work myself.")
                .call("run_check", command=check.command)
            )
        last = state.checks[-1]
        if (
            not check_passed(last)
            and not last.is_error
            and not state.retry_done
            and script.retry_failed
        ):
            return (
                Reply()
                .text(
                    f"The check failed (exit {last.json().get('exit_code')}). "
                    f"Sending {gate.id} back with specific feedback."
                )
                .call("retry_agent", agent_id=gate.id, feedback=check.feedback)
            )
        if gate.retried:
            if check.read and not state.reads_after_retry:
                return (
                    Reply()
                    .text(f"{gate.id} reports a fix. Reading the file to confirm.")
                    .call("read_file", path=check.read)
                )
            if not state.checks_after_retry:
                return (
                    Reply().text("Re-running the check.").call("run_check", command=check.command)
                )
        elif check.read and not state.read_done and check_passed(last):
            return (
                Reply()
                .text("The check passes. A last look at the deliverable.")
                .call("read_file", path=check.read)
            )
    return Reply().text(final_answer(script, state))


def _status_line(state: CeoState) -> str:
    done = sum(a.state == "done" for a in state.agents.values())
    line = f"{done} of {len(state.agents)} agents finished successfully"
    if state.checks:
        line += ", and the last check " + (
            "passed." if check_passed(state.checks[-1]) else "failed."
        )
    else:
        line += "."
    return line


def final_answer(script: Script, state: CeoState) -> str:
    ok = all(a.state == "done" for a in state.agents.values()) and not state.spawn_errors
    if state.checks:
        ok = ok and check_passed(state.checks[-1])
    if ok:
        opening = script.final or "Everything is done and verified."
    else:
        opening = script.final_partial or "The work did not fully succeed."
    lines = [opening, ""]
    for a in state.agents.values():
        attempt = f", attempt {a.attempt}" if a.attempt > 1 else ""
        lines.append(f"- **{a.id}** ({a.role}{attempt}): {a.state}. {first_line(a.result, 160)}")
    for err in state.spawn_errors:
        lines.append(f"- could not start an agent: {err}")
    if state.checks:
        last = state.checks[-1]
        if last.is_error:
            lines.append(f"\nThe check could not run: {first_line(last.text, 160)}")
        else:
            data = last.json()
            verdict = "passes" if check_passed(last) else f"fails (exit {data.get('exit_code')})"
            lines.append(
                f"\nCheck `{script.check.command if script.check else ''}` {verdict}"
                + (" after one retry." if state.retry_done else ".")
            )
    cost = sum(a.cost_usd for a in state.agents.values())
    if cost:
        lines.append(f"Sub-agent cost: ${cost:.4f}.")
    return "\n".join(lines)
