"""The failure scenario: the data agent's second request always gets a 400 (non-retryable),
so the agent fails; the CEO retries it once, it fails again, and the final answer says so.
"""

from __future__ import annotations

from core.simulator.reply import Reply
from core.simulator.scenarios.base import Conversation
from core.simulator.scenarios.default import DefaultScenario
from core.simulator.scenarios.planner import agent_spec_for, ceo_topic, task_for
from core.simulator.scenarios.script import Script
from core.simulator.validate import ApiError


def failure_script(task: str) -> Script:
    topic = ceo_topic(task)
    roles = ["research", "data"]
    agents = [agent_spec_for(r, task_for(r, task, topic)) for r in roles]
    return Script(
        agents=agents,
        plan=f"Two parts for {topic}: background research and a data export. Starting both.",
        final_partial=(
            "The data export failed on both attempts with the same non-retryable API error, "
            "so I stopped instead of retrying again. The research part is usable on its own."
        ),
    )


class FailureScenario(DefaultScenario):
    name = "failure"

    def script(self, conv: Conversation) -> Script:
        return failure_script(conv.task)

    def worker(self, conv: Conversation) -> Reply:
        if conv.role == "data" and conv.turns:
            raise ApiError(
                400,
                "invalid_request_error",
                "messages.2.content.0: simulated non-retryable failure (scenario 'failure' "
                "rejects every data-agent request after the first)",
            )
        return super().worker(conv)
