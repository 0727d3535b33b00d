"""The timeout scenario: two agents on short timeouts. The research agent keeps calling
tools and ignores the wrap-up notice (so it is hard-stopped, timed_out); the writer obeys
the notice and reports what it has. The CEO reports both outcomes without retrying.
"""

from __future__ import annotations

from core.simulator.reply import Reply
from core.simulator.scenarios.base import Conversation, Scenario
from core.simulator.scenarios.ceo import ceo_reply
from core.simulator.scenarios.planner import ceo_topic
from core.simulator.scenarios.script import AgentSpec, FileSpec, Script
from core.simulator.scenarios.workers import WorkerFlow

SLOW_LATENCY_S = 0.8  # per sub-agent turn, so a few turns outlast the timeouts below
MAX_STUBBORN_TURNS = 60  # a bound, should the app never stop the agent


def timeout_script(task: str) -> Script:
    topic = ceo_topic(task)
    summary = "deliverables/summary.md"
    return Script(
        agents=[
            AgentSpec(
                role="research",
                task=f"Survey every file in the workspace for {topic} and list anything relevant.",
                timeout_s=5.0,
                search=topic.split()[0] if topic.split() else "TODO",
            ),
            AgentSpec(
                role="writer",
                task=f"Draft a one-page summary for {topic} into {summary}.",
                timeout_s=6.0,
                files=[FileSpec(summary, f"# {topic}\n\nDraft summary: work in progress.\n")],
            ),
        ],
        plan=(
            f"Two quick jobs for {topic}, each with a tight time limit so we get an answer "
            "fast: a survey of the workspace and a short written summary."
        ),
        retry_failed=False,
        final_partial=(
            "Time ran out on part of this. An agent that ignores the wrap-up notice is "
            "stopped at its limit and keeps its partial transcript; give it a longer "
            "timeout_s if the survey matters."
        ),
    )


class TimeoutScenario(Scenario):
    name = "timeout"

    def ceo(self, conv: Conversation) -> Reply:
        return ceo_reply(conv, timeout_script(conv.task))

    def worker(self, conv: Conversation) -> Reply:
        if conv.role == "research":
            return self._stubborn(conv)
        spec = AgentSpec(role=conv.role, task=conv.task, search="summary")
        for path in [p for p in conv.task.split() if p.startswith("deliverables/")]:
            path = path.rstrip(".")
            spec.files.append(FileSpec(path, "# Summary\n\nDraft: work in progress.\n"))
        flow = WorkerFlow(conv, spec)
        # Pad the plan with slow reads so the wrap-up notice arrives before the end.
        reply = flow.reply(obey_wrap_up=True)
        if not reply.calls and len(conv.turns) < 12 and not conv.notes_with("[system]"):
            reply = Reply().text("Reading a little more before I write the final version.")
            reply.call("list_files", path=".")
        reply.latency_s = SLOW_LATENCY_S
        return reply

    def _stubborn(self, conv: Conversation) -> Reply:
        n = len(conv.turns)
        if n >= MAX_STUBBORN_TURNS:
            return Reply().text(f"Surveyed {n} batches; nothing conclusive yet.")
        reply = Reply(latency_s=SLOW_LATENCY_S).text(
            f"Batch {n + 1}: still surveying. Every file could matter, so I am going through "
            "them one at a time before writing anything down."
        )
        cycle = n % 3
        if cycle == 0 and conv.offers("list_files"):
            reply.call("list_files", path=".")
        elif cycle == 1 and conv.offers("search_files"):
            reply.call("search_files", pattern=f"TODO|{n}", path=".")
        elif conv.offers("read_file"):
            reply.call("read_file", path="README.md")
        elif conv.tools:
            reply.call(conv.tools[0], path=".")
        return reply
