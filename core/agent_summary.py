"""One agent in brief: the fields every view of an agent shares, defined once.

The store's rows (`AgentRow` extends it with what only the store keeps), the `run
--json` summary and `show` (`contract`), the CEO's reports of an ended agent (the
Supervisor's record builds one) and the TUI's panes (`AgentView.summary`) all carry
these fields under these names; a field added here reaches each of them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from core.catalog import Usage
from core.events import TERMINAL_STATES, AgentState


@dataclass(frozen=True)
class AgentSummary:
    """One agent (its latest attempt); usage and cost summed over its attempts."""

    agent_id: str
    role: str
    model: str
    task: str
    state: AgentState
    attempt: int
    input_tokens: int
    output_tokens: int
    cache_read_tokens: int
    cache_write_tokens: int
    cost_usd: float | None  # None: some attempt's cost is unknown
    elapsed_s: float | None  # its own time (waits for approval not counted); None: unknown
    timeout_s: float | None
    result: str | None  # its own last words once it ended; None before
    estimated: bool = False  # output and cost partly counted from streamed text (cut mid-reply)

    @property
    def finished(self) -> bool:
        return self.state in TERMINAL_STATES

    @property
    def usage(self) -> Usage:
        return Usage(
            self.input_tokens, self.output_tokens, self.cache_read_tokens, self.cache_write_tokens
        )

    def contract(self) -> dict[str, Any]:
        """This agent as `run --json` and `show --json` print it (DESIGN.md's CLI
        contract), in the contract's order; the caller adds its `evidence`."""
        return {
            "id": self.agent_id,
            "role": self.role,
            "model": self.model,
            "status": self.state,
            "attempt": self.attempt,
            "task": self.task,
            "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens,
            "cache_read_tokens": self.cache_read_tokens,
            "cache_write_tokens": self.cache_write_tokens,
            "cost_usd": self.cost_usd,
            **({"estimated": True} if self.estimated else {}),  # output and cost partly
            "elapsed_s": self.elapsed_s,  # counted from streamed text (cut mid-reply)
            "timeout_s": self.timeout_s,
        }
