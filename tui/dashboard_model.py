"""The run dashboard's figures, from the live view model: per agent, per role and model,
and for the whole run. Plain data (no Textual): the screen draws it, tests compare it
with the run's sums.

Tokens per second, as the panes count it (`AgentView.tokens_per_s`, from the usage
events' timestamps): "now" is the reply streaming now (agents that run); "tok/s" is the
output over the time spent streaming replies: an agent's own, a role/model's over its
agents' summed streaming time (how fast that model streams here). The run's line also
gives its throughput: output tokens over the run's wall time.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from core.events import CEO_ID
from tui.view_model import RATE_MIN_SPAN_S, AgentView, RunView, Tokens


@dataclass
class Figures:
    """Tokens, cost and rate of one agent, one role/model or the run."""

    label: str
    role: str = ""
    model: str = ""
    state: str = ""
    agents: int = 1
    tokens: Tokens = field(default_factory=Tokens)
    elapsed_s: float = 0.0  # running time (the run: its wall time)
    streamed_tokens: int = 0  # output of replies, over...
    streamed_s: float = 0.0  # ...the time spent streaming them
    recent_tokens_per_s: float | None = None  # the reply streaming now (running ones)
    spend: list[float] = field(default_factory=list)  # dollars per time bucket

    @property
    def cost(self) -> float | None:
        return self.tokens.cost

    @property
    def tokens_per_s(self) -> float | None:
        """Output tokens per second of streaming."""
        if self.streamed_s < RATE_MIN_SPAN_S:
            return None
        return self.streamed_tokens / self.streamed_s

    @property
    def throughput(self) -> float | None:
        """Output tokens per second of running (wall) time."""
        return self.tokens.output / self.elapsed_s if self.elapsed_s > 0 else None


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


def _streamed(a: AgentView) -> tuple[int, float]:
    """(output tokens, seconds) of the agent's replies, the one streaming now included:
    the sums behind `AgentView.avg_tokens_per_s`."""
    tokens, span = a.streamed_tokens, a.streamed_s
    if a.rate_start is not None and a.rate_end is not None:
        tokens += a.rate_tokens
        span += a.rate_end - a.rate_start
    return tokens, span


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
        brief = a.summary(now)  # the figures `show` gives, live
        recent = a.tokens_per_s if a.active else None
        streamed, span = _streamed(a)
        fig = Figures(
            label=brief.agent_id,
            role=brief.role or (CEO_ID if brief.agent_id == CEO_ID else ""),
            model=brief.model,
            state=brief.state,
            tokens=a.tokens,  # with the estimate mark the panes show
            elapsed_s=brief.elapsed_s or 0.0,
            streamed_tokens=streamed,
            streamed_s=span,
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
                streamed_tokens=streamed,
                streamed_s=span,
                recent_tokens_per_s=recent,
                spend=list(fig.spend),
            )
        else:
            group.agents += 1
            group.tokens = group.tokens.plus(fig.tokens)
            group.elapsed_s += fig.elapsed_s
            group.streamed_tokens += streamed
            group.streamed_s += span
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
        streamed_tokens=sum(f.streamed_tokens for f in agents),
        streamed_s=sum(f.streamed_s for f in agents),
        recent_tokens_per_s=sum(recents) if recents else None,
        spend=timeline.series(start, end, buckets),
    )
    ordered = sorted(groups.values(), key=lambda g: (g.role != CEO_ID, g.role, g.model))
    return Dashboard(run=run, agents=agents, groups=ordered, start=start, end=end)
