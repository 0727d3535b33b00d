"""The model scorecard: how each role and model did across recorded runs.

One record per agent attempt (the CEO's included), read from the store
(`Store.attempt_records`); `scorecard` folds them into one row per role and model.

An attempt's outcome:
- `passed`: it ended `done`, it is its agent's latest attempt (no retry replaced it)
  and the run ended `done`, i.e. verified: a check passed after the last file change
  (core/outcome.py);
- `unverified`: it ended `done` but the run was not verified, or a retry replaced it;
- `failed`: it ended `failed`, `timed_out` or `killed` (by the CEO or the operator's
  kill key);
- `stopped`: the operator ended the session (`stopped`, or killed when the run was
  cancelled), the app died (`interrupted`), or it has not ended: no verdict either way.

The pass rate is passed / (passed + unverified + failed); stopped attempts count as
attempts but not in the rate. Costs and times are per attempt; median over the
attempts whose figure is known.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal

from core.events import CEO_ID, AgentState, RunStatus

Outcome = Literal["passed", "unverified", "failed", "stopped"]
FAILED_STATES = frozenset({"failed", "timed_out", "killed"})


@dataclass(frozen=True)
class AttemptRecord:
    """One attempt of one agent in one run, as recorded."""

    run_id: str
    agent_id: str
    attempt: int
    role: str
    model: str
    cost_usd: float | None
    state: AgentState | None  # how the attempt ended (None: no end recorded)
    elapsed_s: float | None
    latest: bool  # the agent's latest attempt
    run_status: RunStatus

    @property
    def outcome(self) -> Outcome:
        if self.state == "done":
            passed = self.latest and self.run_status == "done"
            return "passed" if passed else "unverified"
        if self.state == "killed" and self.run_status == "cancelled":
            return "stopped"  # the operator quit with it running
        if self.state in FAILED_STATES:
            return "failed"
        return "stopped"


@dataclass(frozen=True)
class ScoreRow:
    """One role and model over the records."""

    role: str
    model: str
    attempts: int
    passed: int
    unverified: int
    failed: int
    stopped: int
    runs: int
    median_cost_usd: float | None
    median_time_s: float | None

    @property
    def judged(self) -> int:
        return self.passed + self.unverified + self.failed

    @property
    def pass_rate(self) -> float | None:
        """Passed over passed, unverified and failed; None when none of those."""
        return self.passed / self.judged if self.judged else None

    def to_dict(self) -> dict[str, Any]:
        return {
            "role": self.role,
            "model": self.model,
            "attempts": self.attempts,
            "passed": self.passed,
            "unverified": self.unverified,
            "failed": self.failed,
            "stopped": self.stopped,
            "pass_rate": self.pass_rate,
            "median_cost_usd": self.median_cost_usd,
            "median_time_s": self.median_time_s,
            "runs": self.runs,
        }


def _median(values: list[float]) -> float | None:
    import statistics  # here: only the stats screen and `delegate stats` use it

    return float(statistics.median(values)) if values else None


def scorecard(records: Iterable[AttemptRecord]) -> list[ScoreRow]:
    """One row per (role, model): the CEO first, then roles and models by name."""
    groups: dict[tuple[str, str], list[AttemptRecord]] = {}
    for rec in records:
        groups.setdefault((rec.role, rec.model), []).append(rec)
    rows = []
    for (role, model), recs in groups.items():
        outcomes = [r.outcome for r in recs]
        rows.append(
            ScoreRow(
                role=role,
                model=model,
                attempts=len(recs),
                passed=outcomes.count("passed"),
                unverified=outcomes.count("unverified"),
                failed=outcomes.count("failed"),
                stopped=outcomes.count("stopped"),
                runs=len({r.run_id for r in recs}),
                median_cost_usd=_median([r.cost_usd for r in recs if r.cost_usd is not None]),
                median_time_s=_median([r.elapsed_s for r in recs if r.elapsed_s is not None]),
            )
        )
    rows.sort(key=lambda r: (r.role != CEO_ID, r.role, r.model))
    return rows
