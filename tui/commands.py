"""Command palette entries for each agent on the board ("kill coding-2", ...)."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Protocol, runtime_checkable

from textual.command import DiscoveryHit, Hit, Hits, Provider

from tui.view_model import AgentView, RunView

VERBS: tuple[tuple[str, str, str], ...] = (
    ("focus", "Focus {id}", "select the pane"),
    ("steer", "Steer {id}", "message delivered at its next turn"),
    ("interrupt", "Interrupt and steer {id}", "cancel its reply and deliver now"),
    ("kill", "Kill {id}", "stop it and its processes"),
    ("retry", "Retry {id}", "a new attempt, optional note and model"),
    ("extend", "Add 5 minutes to {id}", "extend its timeout"),
    ("transcript", "Transcript of {id}", "its whole conversation"),
)


def applies(action: str, agent: AgentView) -> bool | None:
    """Whether an agent command applies to the agent as it is now (None: not now)."""
    if action in ("steer", "interrupt", "kill"):
        return None if agent.finished else True
    if action == "retry":
        return True if agent.finished else None
    if action == "extend":
        return True if agent.timeout_s and not agent.finished else None
    return True


@runtime_checkable
class AgentCommandScreen(Protocol):
    """A screen whose agents the palette lists (the run screen): its view, whether it
    only reads, how it selects a pane, and an `action_<verb>` per verb."""

    @property
    def view(self) -> RunView: ...

    @property
    def read_only(self) -> bool: ...

    def select(self, agent_id: str) -> None: ...


class AgentCommands(Provider):
    """Per-agent commands of the run screen that apply to each agent's state."""

    def _commands(self) -> list[tuple[str, str, Callable[[], None]]]:
        screen = self.screen
        if not isinstance(screen, AgentCommandScreen):
            return []
        out: list[tuple[str, str, Callable[[], None]]] = []
        for agent in screen.view.board():
            for verb, title, help_text in VERBS:
                if verb != "focus":
                    if screen.read_only and verb != "transcript":
                        continue
                    if verb != "transcript" and not applies(verb, agent):
                        continue
                out.append(
                    (
                        title.format(id=agent.agent_id),
                        f"{agent.role} · {agent.state} · {help_text}",
                        partial(_run, screen, agent.agent_id, verb),
                    )
                )
        return out

    async def discover(self) -> Hits:
        for title, help_text, callback in self._commands():
            yield DiscoveryHit(title, callback, help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for title, help_text, callback in self._commands():
            score = matcher.match(title)
            if score > 0:
                yield Hit(score, matcher.highlight(title), callback, help=help_text)


def _run(screen: AgentCommandScreen, agent_id: str, verb: str) -> None:
    screen.select(agent_id)
    if verb != "focus":
        getattr(screen, f"action_{verb}")()
