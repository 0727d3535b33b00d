"""FIFO queue positions derived from events, without re-announcing the whole queue.

The Supervisor announces an agent's position once, when it joins the queue
(`AgentQueued`); every agent that leaves (starts, or is killed while queued) moves
the ones behind it up by one. The store's projection and the TUI's view both fold
events through this, so 1000 queued agents cost one event each, not one per move.
"""

from __future__ import annotations


class QueuePositions:
    """Positions (1 = next to run) of the agents waiting in the queue."""

    def __init__(self) -> None:
        self.positions: dict[str, int] = {}

    def enter(self, agent_id: str, position: int) -> None:
        self.positions[agent_id] = position

    def leave(self, agent_id: str) -> list[str]:
        """Take `agent_id` out; returns the agents whose position moved up."""
        left = self.positions.pop(agent_id, None)
        if left is None:
            return []
        moved: list[str] = []
        for other, position in self.positions.items():
            if position > left:
                self.positions[other] = position - 1
                moved.append(other)
        return moved

    def get(self, agent_id: str) -> int | None:
        return self.positions.get(agent_id)

    def __len__(self) -> int:
        return len(self.positions)
