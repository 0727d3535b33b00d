"""The load scenario, `load:agents=N,tps=T,seconds=S[,jitter=J]`: the CEO spawns N agents
in one reply; each streams long text at T tokens/s for about S seconds over a few turns,
with a cheap tool call between turns, then reports.

With jitter 0 (the default) every turn has the same length, so agents that start
together end every turn together: the worst case for the app, which then has all their
next requests to make at once. `jitter=0.3` varies each turn's length by up to ±30%
(seeded per agent and turn), as real replies vary, and the turn ends spread out.
"""

from __future__ import annotations

import math
import random

from core.simulator.reply import Reply
from core.simulator.scenarios.base import Conversation, Scenario
from core.simulator.scenarios.ceo import ceo_reply
from core.simulator.scenarios.script import AgentSpec, Script

ROLES = ["coding", "research", "writer", "analysis", "data"]
TURNS = 3
# Tokens streamed per turn at most, well under a role's max_tokens (8192 by default),
# so long runs stream in more turns instead of being cut at max_tokens.
TOKENS_PER_TURN = 2000
SENTENCES = [
    "The measurements so far are consistent with the earlier runs.",
    "Nothing in this part of the workspace contradicts the plan.",
    "Each step is logged so the transcript can be replayed later.",
    "Throughput holds steady while the other agents stream in parallel.",
    "The next section lists what was checked and what is still open.",
    "Small differences between runs come from scheduling, not from the data.",
    "The summary at the end repeats the numbers that matter.",
]


class LoadScenario(Scenario):
    name = "load"

    def __init__(
        self, agents: int = 10, tps: float = 50.0, seconds: float = 20.0, jitter: float = 0.0
    ) -> None:
        if agents < 1 or tps <= 0 or seconds <= 0:
            raise ValueError("load: agents, tps and seconds must be positive")
        if not 0 <= jitter < 1:
            raise ValueError("load: jitter must be at least 0 and below 1")
        self.agents = agents
        self.tps = tps
        self.seconds = seconds
        self.jitter = jitter
        self.turns = max(TURNS, math.ceil(tps * seconds / TOKENS_PER_TURN))

    @classmethod
    def parse(cls, params: str) -> LoadScenario:
        values: dict[str, float] = {}
        for item in filter(None, (p.strip() for p in params.split(","))):
            key, sep, raw = item.partition("=")
            if not sep or key not in ("agents", "tps", "seconds", "jitter"):
                raise ValueError(f"load: unknown parameter {item!r} (agents, tps, seconds, jitter)")
            try:
                values[key] = float(raw)
            except ValueError:
                raise ValueError(f"load: {key} must be a number, got {raw!r}") from None
        return cls(
            int(values.get("agents", 10)),
            values.get("tps", 50.0),
            values.get("seconds", 20.0),
            values.get("jitter", 0.0),
        )

    def ceo(self, conv: Conversation) -> Reply:
        agents = [
            AgentSpec(
                role=ROLES[i % len(ROLES)],
                task=f"Load task {i + 1}: stream a long "
                f"status report on area {i + 1} and list the workspace between sections.",
                # Longer than the stream lasts, so the roles' own timeouts do not cut it,
                # even at 1000 agents on a machine busy with other work (they streamed at
                # a third of the pace there, and timed out at 2 x seconds + 60).
                timeout_s=self.seconds * 10 + 120,
            )
            for i in range(self.agents)
        ]
        script = Script(
            agents=agents,
            plan=f"Load run: spawning {self.agents} agents at {self.tps:g} tokens/s each.",
            retry_failed=False,
            final=f"Load run finished: all {self.agents} agents reported.",
        )
        reply = ceo_reply(conv, script)
        # Every CEO reply here grows with N: the spawn reply holds one call per agent
        # (about 60 tokens each), the waiting one names them all, the last one sums up
        # N reports (up to 80 tokens each). At the simulator's usual 400 tokens/s, 1000
        # agents' spawn reply would stream for 150 s and their summary for 200 s. Each
        # streams in about a second whatever N, so every N measures its agents.
        reply.tokens_per_s = max(400.0, 60.0 * self.agents)
        return reply

    def worker(self, conv: Conversation) -> Reply:
        n = len(conv.turns)
        if n >= self.turns or conv.notes_with("[system]"):
            return Reply(tokens_per_s=self.tps, latency_s=0.05).text(
                f"Report for {conv.task.split(':')[0]}: streamed {n} sections; nothing blocking."
            )
        rng = random.Random(f"{conv.task}/{n}")
        chars = int(self.tps * self.seconds / self.turns * 4)
        if self.jitter:
            chars = int(chars * rng.uniform(1 - self.jitter, 1 + self.jitter))
        words: list[str] = [f"Section {n + 1}."]
        size = len(words[0])
        while size < chars:
            sentence = rng.choice(SENTENCES)
            words.append(sentence)
            size += len(sentence) + 1
        reply = Reply(tokens_per_s=self.tps, latency_s=0.05).text(" ".join(words))
        tool = next(
            (t for t in ("list_files", "search_files", "read_file") if conv.offers(t)), None
        )
        if tool == "list_files":
            reply.call(tool, path=".")
        elif tool == "search_files":
            reply.call(tool, pattern="TODO", path=".")
        elif tool == "read_file":
            reply.call(tool, path="README.md")
        return reply
