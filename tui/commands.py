"""Command palette entries for each agent on the board ("kill coding-2", ...)."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING

from textual.command import DiscoveryHit, Hit, Hits, Provider

if TYPE_CHECKING:
    from tui.screens.run import RunScreen

VERBS: tuple[tuple[str, str, str], ...] = (
    ("focus", "Focus {id}", "select the pane"),
    ("steer", "Steer {id}", "message delivered at its next turn"),
    ("interrupt", "Interrupt and steer {id}", "cancel its reply and deliver now"),
    ("kill", "Kill {id}", "stop it and its processes"),
    ("retry", "Retry {id}", "a new attempt, optional note and model"),
    ("extend", "Add 5 minutes to {id}", "extend its timeout"),
    ("transcript", "Transcript of {id}", "its whole conversation"),
)


class AgentCommands(Provider):
    """Per-agent commands of the run screen that apply to each agent's state."""

    def _commands(self) -> list[tuple[str, str, Callable[[], None]]]:
        from tui.screens.run import RunScreen

        screen = self.screen
        if not isinstance(screen, RunScreen):
            return []
        out: list[tuple[str, str, Callable[[], None]]] = []
        for agent in screen.view.board():
            for verb, title, help_text in VERBS:
                if verb != "focus":
                    if screen.read_only and verb != "transcript":
                        continue
                    if verb != "transcript" and not RunScreen._applies(verb, agent):
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


def _run(screen: RunScreen, agent_id: str, verb: str) -> None:
    screen.select(agent_id)
    if verb != "focus":
        getattr(screen, f"action_{verb}")()
