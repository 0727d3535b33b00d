"""The default scenario: plan the task into parallel agents, steer one, check, retry, finish."""

from __future__ import annotations

from core.simulator.reply import Reply
from core.simulator.scenarios import notes
from core.simulator.scenarios.base import STEER_PREFIX, Conversation, Scenario
from core.simulator.scenarios.ceo import ceo_reply
from core.simulator.scenarios.fixer import FixFlow
from core.simulator.scenarios.planner import agent_spec_for, script_from_task
from core.simulator.scenarios.plans import (
    FIX_MARK,
    SUBJECT_RE,
    followup_script,
    is_new_style,
    new_script,
    spec_for,
)
from core.simulator.scenarios.script import Script
from core.simulator.scenarios.workers import WorkerFlow

CHECK_FEEDBACK = "The check `"  # how the CEO's feedback on a failed check starts


def requests_of(conv: Conversation) -> list[notes.Request]:
    """What the notes this attempt got ask for: steers, an operator's retry note, and for an
    update task the operator's request quoted in it."""
    texts = list(conv.all_notes_with(STEER_PREFIX))
    if conv.feedback and not conv.feedback.startswith(CHECK_FEEDBACK):
        texts.insert(0, conv.feedback)
    if conv.task.startswith("Update `"):
        quoted = SUBJECT_RE.search(conv.task)
        if quoted:
            texts.insert(0, quoted.group(1))
    return notes.parse_all(texts)


class DefaultScenario(Scenario):
    """`default:approval` (the demo's): a coding agent's first attempt also runs one
    command the default policy asks about, so the operator meets the approval inbox."""

    name = "default"

    def __init__(self, approval: bool = False) -> None:
        self.approval = approval

    def script(self, conv: Conversation) -> Script:
        return new_script(conv.task) or script_from_task(conv.task)

    def ceo(self, conv: Conversation) -> Reply:
        return ceo_reply(conv, self.script(conv), followup_script)

    def worker(self, conv: Conversation) -> Reply:
        if conv.task.startswith(FIX_MARK):
            return FixFlow(conv).reply()
        if is_new_style(conv.task):
            requests = requests_of(conv)
            spec = spec_for(conv.role, conv.task, requests)
            if not self.approval:
                spec.smoke = []
            return WorkerFlow(conv, spec, requests).reply()
        steered = bool(conv.all_notes_with(STEER_PREFIX))
        return WorkerFlow(conv, agent_spec_for(conv.role, conv.task, steered)).reply()


class ScriptScenario(DefaultScenario):
    """The default flow, driven by a Script read from a scenario file."""

    def __init__(self, script: Script, name: str = "file") -> None:
        super().__init__()
        self.fixed = script
        self.name = name
        if script.check and not script.check.first_fails:
            for f in script.agents[script.check.agent].files:
                f.first_content = None

    def script(self, conv: Conversation) -> Script:
        return self.fixed

    def reply(self, conv: Conversation) -> Reply:
        reply = super().reply(conv)
        reply.tokens_per_s = reply.tokens_per_s or self.fixed.tokens_per_s
        if reply.latency_s is None:
            reply.latency_s = self.fixed.latency_s
        return reply

    def worker(self, conv: Conversation) -> Reply:
        spec = self.fixed.agent_for_task(conv.task)
        if spec is None:
            return super().worker(conv)
        return WorkerFlow(conv, spec).reply()
