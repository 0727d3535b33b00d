"""The scripted CEO: spawn, steer, wait, check, retry once, verify, answer.

Its state is rebuilt on every request from the tool calls and results so far, so the
same code follows any interleaving of results, finish notices and operator messages.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from core.simulator.reply import Reply, Text, ToolCall
from core.simulator.scenarios.base import FINISHED_RE, OPERATOR_PREFIX, Conversation, Outcome
from core.simulator.scenarios.script import CheckSpec, Script
from core.simulator.scenarios.workers import first_line

# Plans new work from a follow-up after the answer, given the files earlier work named.
FollowUp = Callable[[str, list[str]], Script]
REQUEST_RE = re.compile(
    r"\b(?:add|also|write|make|build|create|fix|research|change|update|include|extend|"
    r"expand|remove|rename|convert|implement|draft|can you|could you|please)\b",
    re.I,
)
EVIDENCE_MARK = "[evidence recorded by delegate"
REPORTED_TEST = re.compile(r"Test command: `([^`]+)`")
NAMED_FILE = re.compile(r"`([\w./-]+\.\w+)`|(deliverables/[\w./-]*\w)")

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
    seq: int = 0  # order of the CEO's calls, to tell what ran after what
    last_change: int = -1  # the last spawn or retry
    last_check: int = -1

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
            state.seq += 1
            if call.name in ("spawn_agent", "retry_agent") and not out.is_error:
                state.last_change = state.seq
            if call.name == "run_check":
                state.last_check = state.seq
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


def verified(state: CeoState) -> bool:
    """A check passed, and it ran after the last spawn or retry (the agents' last change)."""
    return (
        bool(state.checks)
        and check_passed(state.checks[-1])
        and state.last_check > state.last_change
    )


def _round_start(conv: Conversation) -> int | None:
    """The index of the last answer (a reply without calls) that a request followed."""
    for i in range(len(conv.turns) - 1, -1, -1):
        turn = conv.turns[i]
        if turn.calls:
            continue
        asks = [
            n[len(OPERATOR_PREFIX) :].strip() for n in turn.notes if n.startswith(OPERATOR_PREFIX)
        ]
        if any(REQUEST_RE.search(a) for a in asks):
            return i
    return None


def _named_files(conv: Conversation) -> list[str]:
    paths: list[str] = []
    for call in conv.calls_named("spawn_agent"):
        for a, b in NAMED_FILE.findall(str(call.input.get("task", ""))):
            paths.append((a or b).rstrip("."))
    return list(dict.fromkeys(paths))


def _since(conv: Conversation, index: int) -> Conversation:
    """The conversation after turn `index`, as a new round with the operator's request as task."""
    part = copy.copy(conv)
    asks = [
        n[len(OPERATOR_PREFIX) :].strip()
        for n in conv.turns[index].notes
        if n.startswith(OPERATOR_PREFIX)
    ]
    part.task = "\n\n".join(asks)
    part.turns = conv.turns[index + 1 :]
    return part


def ceo_reply(conv: Conversation, script: Script, followup: FollowUp | None = None) -> Reply:
    start = _round_start(conv) if followup is not None else None
    if start is not None and followup is not None:
        earlier = _named_files(conv)
        part = _since(conv, start)
        script = followup(part.task, earlier)
        if not part.turns:
            script.plan = f"New work: “{first_line(part.task, 120)}”. " + script.plan
        conv = part
    state = ceo_state(conv)
    ops = conv.notes_with(OPERATOR_PREFIX)
    finished_before = bool(conv.turns) and not conv.turns[-1].calls
    if ops and finished_before:
        return Reply().text(
            f"Noted: “{first_line(ops[-1], 120)}”. The run is already finished: "
            + _status_line(state)
            + " Tell me what else to do and I'll plan it as new work."
        )
    reply = _next(conv, script, state)
    if not ops:
        return reply
    # Mid-run: pass the operator's words to an agent still working (its steer changes the
    # work or it says it cannot), else say plainly that nothing picks them up now.
    target = next((a for a in state.active if a.state == "running"), None) or next(
        iter(state.active), None
    )
    said = first_line(ops[-1], 120)
    if target is not None:
        lead = f"Noted: “{said}”. Passing it to {target.id}, who is working on it now.\n\n"
        at = next((i for i, b in enumerate(reply.blocks) if not isinstance(b, Text)), None)
        steer = ToolCall("steer_agent", {"agent_id": target.id, "message": ops[-1]})
        reply.blocks.insert(len(reply.blocks) if at is None else at, steer)
        if not any(b.name == "wait_for_agents" for b in reply.calls):
            reply.call("wait_for_agents")
    elif not conv.calls_named("spawn_agent"):
        lead = (
            f"Noted: “{said}”. I'll start with the plan below; tell me again once the agents "
            "are running if it should change their work.\n\n"
        )
    else:
        lead = (
            f"Noted: “{said}”. No agent is working right now, so this round goes on as "
            "planned; send it again after my answer and I'll plan it as new work.\n\n"
        )
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
    check = _check(script, state)
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
                .call("retry_agent", agent_id=gate.id, feedback=_feedback(check, last))
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
    if script.read and not state.read_done and not failed:
        return (
            Reply()
            .text(f"Reading `{script.read}` myself before I answer.")
            .call("read_file", path=script.read)
        )
    return Reply().text(final_answer(script, state, check))


def _gist(result: str, limit: int = 320) -> str:
    """An agent's report in one line: its paragraphs joined, cut at `limit`."""
    result = result.split(EVIDENCE_MARK, 1)[0]  # the engine's block: the CEO keeps it apart
    text = " ".join(p.strip() for p in result.split("\n\n") if p.strip())
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _check(script: Script, state: CeoState) -> CheckSpec | None:
    """The script's check; with no command, the test command the checked agent reported;
    with no check, the test command any agent reported (the project's own tests)."""
    check = script.check
    if check is not None and check.command:
        return check
    if check is None and script.placeholder:
        return None  # the project's tests passing would not test placeholder work
    for agent in sorted(state.agents.values(), key=lambda a: a.index):
        if check is not None and agent.index != check.agent:
            continue
        found = REPORTED_TEST.findall(agent.result)
        if found and agent.state == "done":
            base = check or CheckSpec("", agent.index, False, "")
            return CheckSpec(found[-1], agent.index, False, base.feedback, base.read)
    return None


def _feedback(check: CheckSpec, out: Outcome) -> str:
    data = out.json()
    tail = "\n".join(str(data.get(k) or "").strip() for k in ("stdout_tail", "stderr_tail")).strip()
    lines = tail.splitlines()[-12:]
    text = f"The check `{check.command}` failed (exit {data.get('exit_code')})."
    if lines:
        text += " Its output ends:\n" + "\n".join(lines) + "\n"
    if check.feedback:
        text += " " + check.feedback.replace("{cmd}", check.command)
    return text


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


def final_answer(script: Script, state: CeoState, check: CheckSpec | None = None) -> str:
    all_done = all(a.state == "done" for a in state.agents.values()) and not state.spawn_errors
    command = check.command if check else (script.check.command if script.check else "")
    good = verified(state)
    if not all_done:
        opening = script.final_partial or "The work did not fully succeed."
    elif good:
        opening = script.final or f"Done and verified: `{command}` passed after the last change."
    elif state.checks and not state.checks[-1].is_error:
        code = state.checks[-1].json().get("exit_code")
        opening = f"Not verified: `{command}` still fails (exit {code})" + (
            " after one retry." if state.retry_done else "."
        )
    elif state.checks:
        opening = "Not verified: the check could not run."
    else:
        opening = "Not verified: no check tested this work."
        reported = [c for a in state.agents.values() for c in REPORTED_TEST.findall(a.result)]
        if reported:
            opening += (
                f" The project's own tests (`{reported[-1]}`) were run by the agent, but they "
                "do not test the new work, so I do not count them."
            )
    lines = [opening]
    if script.placeholder and not (good and script.check is not None and not script.check.command):
        what = script.placeholder[:1].upper() + script.placeholder[1:]
        lines.append(f"Simulated models: this is placeholder work. {what}.")
    lines.append("")
    for a in state.agents.values():
        attempt = f", attempt {a.attempt}" if a.attempt > 1 else ""
        lines.append(f"- **{a.id}** ({a.role}{attempt}): {a.state}. {_gist(a.result)}")
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
                f"\nCheck `{command}` {verdict}"
                + (" after one retry." if state.retry_done else ".")
            )
    cost = sum(a.cost_usd for a in state.agents.values())
    if cost:
        lines.append(f"Sub-agent cost: ${cost:.4f}.")
    return "\n".join(lines)
