"""The default scenario: plan the task into parallel agents, steer one, check, retry, finish."""

from __future__ import annotations

from core.simulator.reply import Reply
from core.simulator.scenarios.base import STEER_PREFIX, Conversation, Scenario
from core.simulator.scenarios.ceo import ceo_reply
from core.simulator.scenarios.planner import agent_spec_for, script_from_task
from core.simulator.scenarios.script import Script
from core.simulator.scenarios.workers import WorkerFlow


class DefaultScenario(Scenario):
    name = "default"

    def script(self, conv: Conversation) -> Script:
        return script_from_task(conv.task)

    def ceo(self, conv: Conversation) -> Reply:
        return ceo_reply(conv, self.script(conv))

    def worker(self, conv: Conversation) -> Reply:
        steered = bool(conv.all_notes_with(STEER_PREFIX))
        return WorkerFlow(conv, agent_spec_for(conv.role, conv.task, steered)).reply()


class ScriptScenario(DefaultScenario):
    """The default flow, driven by a Script read from a scenario file."""

    def __init__(self, script: Script, name: str = "file") -> None:
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
