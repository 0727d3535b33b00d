"""What an agent attempt and a whole run have cost so far, live, and the caps on it.

The API reports a reply's usage twice: the input side (input, cache read, cache write)
in `message_start`, and the output tokens at the end in `message_delta`. A budget that
only looked at those would let a long reply run to its end before it counted. So while
a reply streams, its output is estimated from the characters streamed (text, thinking
and tool-input JSON) since the API last reported a count; the reported figures replace
the estimate as they arrive. Prices come from the catalog (cache reads and writes at
their own prices), so prompt caching lowers the figure as it lowers the bill.

`CostMeter` is one attempt (the Agent owns it); `RunLedger` is the run's total, fed by
every meter's changes; `Limit` is one cap with its 80% warning, each said once. The UI
can use `estimate_tokens` for live figures from streamed text the same way.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from core.catalog import Catalog, Usage

CHARS_PER_TOKEN = 4.0  # streamed characters per output token, for the live estimate
WARN_AT = 0.8  # a cap warns once at this fraction of its limit

Crossing = Literal["warn", "spent"]


def estimate_tokens(chars: int) -> int:
    """Output tokens for `chars` streamed characters (rounded up)."""
    return math.ceil(chars / CHARS_PER_TOKEN) if chars > 0 else 0


def fmt_usd(value: float) -> str:
    return f"${value:.2f}" if value >= 0.1 else f"${value:.4f}"


@dataclass
class Limit:
    """A cap on dollars or tokens; `check` reports each crossing once."""

    limit: float
    unit: Literal["usd", "tokens"]
    warned: bool = False
    spent: bool = False

    def check(self, value: float) -> Crossing | None:
        if not self.spent and value >= self.limit:
            self.spent = self.warned = True
            return "spent"
        if not self.warned and value >= self.limit * WARN_AT:
            self.warned = True
            return "warn"
        return None

    def describe(self, value: float | None = None) -> str:
        """`$5.00`, or `40,000 tokens`; with a value: `$4.01 of $5.00`."""
        if self.unit == "usd":
            text = fmt_usd(self.limit)
            return text if value is None else f"{fmt_usd(value)} of {text}"
        text = f"{int(self.limit):,} tokens"
        return text if value is None else f"{int(value):,} of {text}"


class RunLedger:
    """The run's spend: every agent's meter adds its changes here, so it is always current.

    Costs of models without a price are not counted (`unpriced` names them): a dollar
    budget cannot see them, and the UI says so.
    """

    def __init__(
        self,
        budget_usd: float | None,
        on_crossing: Callable[[Crossing, RunLedger], None] | None = None,
    ) -> None:
        self.limit = Limit(budget_usd, "usd") if budget_usd is not None else None
        self.on_crossing = on_crossing
        self.spent_usd = 0.0
        self.unpriced: set[str] = set()

    def add(self, delta_usd: float) -> None:
        self.spent_usd += delta_usd
        crossing = self.limit.check(self.spent_usd) if self.limit is not None else None
        if crossing is not None and self.on_crossing is not None:
            self.on_crossing(crossing, self)

    @property
    def exhausted(self) -> bool:
        return self.limit is not None and self.limit.spent


class CostMeter:
    """One attempt: finished tries plus an estimate of the try streaming now.

    `committed` holds the tries that ended (a cut try is billed at its estimate: the
    API bills what it generated even when we stop reading). `reported` is what the API
    said of the current try so far; characters streamed after that report are estimated.

    A reply streams a delta every few tokens, and each moves the estimate: what does not
    change while it streams (the prices of the try's tier, the reported input side's
    terms, the committed tokens) is worked out when a report or a commit changes it, so
    a delta costs a few additions. The dollar figure is the catalog's own sum, term by
    term in its order (`Catalog.cost`), so it is the same float.
    """

    def __init__(
        self,
        catalog: Catalog,
        model: str,
        *,
        ledger: RunLedger | None = None,
        on_change: Callable[[], None] | None = None,
    ) -> None:
        self.catalog = catalog
        self.model = model
        self.ledger = ledger
        self.on_change = on_change
        self.committed = Usage()
        self.committed_cost: float | None = 0.0
        self.reported = Usage()
        self._chars_unreported = 0
        self._estimate = 0  # estimate_tokens(_chars_unreported)
        self._committed_estimated = False  # a try ended cut, billed at its estimate
        self.context_tokens = 0
        self._counted = 0.0  # what the ledger has been told of this meter
        self._reprice()

    def _reprice(self) -> None:
        """`reported`, `committed` or `committed_cost` changed: the fixed part of the sums."""
        r, c = self.reported, self.committed
        self._tokens_fixed = c.prompt_tokens + c.output_tokens + r.prompt_tokens + r.output_tokens
        price = self.catalog.price(self.model, r) if self.committed_cost is not None else None
        # (input term, output price, cache-write term, cache-read term), or None: no price.
        self._terms = (
            None
            if price is None
            else (
                r.input_tokens * price.input,
                price.output,
                r.cache_write_tokens * price.cache_write_5m,
                r.cache_read_tokens * price.cache_read,
            )
        )

    # --- what it has cost ----------------------------------------------------

    @property
    def current(self) -> Usage:
        """The streaming try: reported input, reported output plus the estimate since."""
        r = self.reported
        extra = self._estimate
        if not extra:
            return r
        return Usage(r.input_tokens, r.output_tokens + extra, r.cache_read_tokens,
                     r.cache_write_tokens)  # fmt: skip

    @property
    def estimating(self) -> bool:
        """Characters streamed since the API's last report are counted by estimate now."""
        return self._chars_unreported > 0

    @property
    def estimated(self) -> bool:
        """Part of the total is an estimate: the streaming try's, or a cut try's (the API
        never reported what a reply stopped mid-stream generated)."""
        return self._committed_estimated or self._chars_unreported > 0

    @property
    def total(self) -> Usage:
        return self.committed + self.current

    @property
    def tokens(self) -> int:
        """Prompt plus output tokens over the attempt (a token budget counts these)."""
        return self._tokens_fixed + self._estimate

    @property
    def cost(self) -> float | None:
        """Dollars over the attempt; None when the model has no price."""
        terms = self._terms
        if terms is None or self.committed_cost is None:
            return None
        inp, out_price, cache_write, cache_read = terms
        out = self.reported.output_tokens + self._estimate
        # Catalog.cost of `current`, the same terms in the same order.
        current = (inp + out * out_price + cache_write + cache_read) / 1_000_000
        return self.committed_cost + current

    def carry_over(self, usage: Usage, cost_usd: float | None) -> None:
        """Start from earlier tries counted elsewhere (their ledger share counted too)."""
        self.committed = usage
        self.committed_cost = cost_usd
        self._counted = cost_usd or 0.0
        self._reprice()

    # --- what the stream says ------------------------------------------------

    def on_usage(self, usage: Usage) -> None:
        """The API reported the try's usage so far (running totals): it replaces the
        estimate of everything streamed before it."""
        self.reported = usage
        self._chars_unreported = self._estimate = 0
        self.context_tokens = usage.prompt_tokens + usage.output_tokens
        self._reprice()
        self._changed()

    def on_stream(self, chars: int) -> None:
        """`chars` more characters of output streamed (text, thinking, tool input)."""
        if chars <= 0:
            return
        self._chars_unreported += chars
        estimate = estimate_tokens(self._chars_unreported)
        if estimate != self._estimate:
            self._estimate = estimate
            self._changed()

    def commit(self, final: Usage | None = None) -> None:
        """The try ended. `final`: the API's own usage of a finished reply (replaces the
        estimate); without it the estimate is what the try cost."""
        if final is not None:
            self.reported, self._chars_unreported, self._estimate = final, 0, 0
        elif self._chars_unreported > 0:
            self._committed_estimated = True
        current = self.current
        cost = self.catalog.cost(self.model, current)
        self.committed = self.committed + current
        self.committed_cost = (
            None if cost is None or self.committed_cost is None else self.committed_cost + cost
        )
        self.reported, self._chars_unreported, self._estimate = Usage(), 0, 0
        self._reprice()
        self._changed()

    def _changed(self) -> None:
        if self.ledger is not None:
            cost = self.cost
            if cost is None:
                self.ledger.unpriced.add(self.model)
            elif cost != self._counted:
                delta, self._counted = cost - self._counted, cost
                self.ledger.add(delta)
        if self.on_change is not None:
            self.on_change()
