"""The run dashboard's figures, from the live view model: per agent, per role and model,
and for the whole run. Plain data (no Textual): the screen draws it, tests compare it
with the run's sums.

Tokens per second is output tokens over running time: an agent's own (start to end,
or to now while it runs), a role/model's over the summed running time of its agents
(how fast that model streams here), the run's over the run's wall time (throughput).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from core.events import CEO_ID
from tui.view_model import AgentView, RunView, Tokens

RECENT_S = 10.0  # the "now" rate: output tokens over the last this many seconds


@dataclass
class Figures:
    """Tokens, cost and rate of one agent, one role/model or the run."""

    label: str
    role: str = ""
    model: str = ""
    state: str = ""
    agents: int = 1
    tokens: Tokens = field(default_factory=Tokens)
    elapsed_s: float = 0.0
    recent_tokens_per_s: float | None = None  # over the last RECENT_S (active ones only)
    spend: list[float] = field(default_factory=list)  # dollars per time bucket

    @property
    def cost(self) -> float | None:
        return self.tokens.cost

    @property
    def tokens_per_s(self) -> float | None:
        if self.elapsed_s <= 0:
            return None
        return self.tokens.output / self.elapsed_s


@dataclass
class Dashboard:
    run: Figures
    agents: list[Figures]
    groups: list[Figures]  # per role and model
    start: float
    end: float

    @property
    def span_s(self) -> float:
        return max(0.0, self.end - self.start)


def _everyone(view: RunView) -> list[AgentView]:
    """The CEO first, then every sub-agent in spawn order (cleared panes included)."""
    subs = sorted(view.agents.values(), key=lambda a: a.order)
    return ([view.ceo] if view.ceo is not None else []) + subs


def dashboard(view: RunView, now: float, buckets: int = 24) -> Dashboard:
    """The figures as of `now` (the run screen's clock: a replay's own time)."""
    timeline = view.spend
    start = view.started_at if view.started_at is not None else timeline.first_ts()
    start = now if start is None else min(start, now)
    end = max(now, start)
    if view.status != "running":  # a finished run's curve ends with it
        end = max(start, min(end, view.last_ts or end))
    agents: list[Figures] = []
    groups: dict[tuple[str, str], Figures] = {}
    for a in _everyone(view):
        elapsed = a.elapsed(now)
        recent = None
        if a.active:
            window = min(RECENT_S, elapsed) if elapsed > 0 else 0.0
            if window > 0:
                recent = timeline.tokens_between(a.agent_id, now - window, now) / window
        fig = Figures(
            label=a.agent_id,
            role=a.role or (CEO_ID if a.agent_id == CEO_ID else ""),
            model=a.model,
            state=a.state,
            tokens=a.tokens,
            elapsed_s=elapsed,
            recent_tokens_per_s=recent,
            spend=timeline.series(start, end, buckets, [a.agent_id]),
        )
        agents.append(fig)
        key = (fig.role, fig.model)
        group = groups.get(key)
        if group is None:
            groups[key] = Figures(
                label=f"{fig.role} · {fig.model}",
                role=fig.role,
                model=fig.model,
                agents=1,
                tokens=fig.tokens,
                elapsed_s=fig.elapsed_s,
                recent_tokens_per_s=recent,
                spend=list(fig.spend),
            )
        else:
            group.agents += 1
            group.tokens = group.tokens.plus(fig.tokens)
            group.elapsed_s += fig.elapsed_s
            if recent is not None:
                group.recent_tokens_per_s = (group.recent_tokens_per_s or 0.0) + recent
            group.spend = [x + y for x, y in zip(group.spend, fig.spend, strict=True)]
    total = Tokens()
    for fig in agents:
        total = total.plus(fig.tokens)
    recents = [f.recent_tokens_per_s for f in agents if f.recent_tokens_per_s is not None]
    run = Figures(
        label="run",
        state=view.display_status,
        agents=len(agents),
        tokens=total,
        elapsed_s=end - start,
        recent_tokens_per_s=sum(recents) if recents else None,
        spend=timeline.series(start, end, buckets),
    )
    ordered = sorted(groups.values(), key=lambda g: (g.role != CEO_ID, g.role, g.model))
    return Dashboard(run=run, agents=agents, groups=ordered, start=start, end=end)
