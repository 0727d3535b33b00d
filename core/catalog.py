"""Models: ids, context windows and prices; the cost of a usage record.

Prices are per million tokens. An unknown model costs None ("unknown"),
never a guess shown as fact.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any


@dataclass(frozen=True)
class Price:
    input: float
    output: float
    cache_write_5m: float
    cache_write_1h: float
    cache_read: float


DEFAULT_MIN_CACHE_TOKENS = 1024


@dataclass(frozen=True)
class ModelInfo:
    id: str
    context_window: int
    price: Price
    # Above this many prompt tokens the `long_price` applies (tiered models).
    tier_threshold: int | None = None
    long_price: Price | None = None
    # The shortest prefix the API caches for this model; below it a breakpoint is
    # silently ignored. The 5-5 models' figures are assumed from their predecessors
    # (Opus and Sonnet 4.x: 1024, Haiku 3.5: 2048); Haiku 4.5's 4096 is documented.
    min_cache_tokens: int = DEFAULT_MIN_CACHE_TOKENS

    @property
    def short_name(self) -> str:
        for word in ("opus", "sonnet", "haiku"):
            if word in self.id:
                return word
        return self.id


def _price(inp: float, out: float, read: float | None = None) -> Price:
    return Price(
        input=inp,
        output=out,
        cache_write_5m=inp * 1.25,
        cache_write_1h=inp * 2.0,
        cache_read=read if read is not None else inp * 0.1,
    )


DEFAULT_MODELS: dict[str, ModelInfo] = {
    "claude-opus-5-5": ModelInfo("claude-opus-5-5", 1_000_000, Price(4.0, 20.0, 5.0, 8.0, 0.20)),
    "claude-sonnet-5-5": ModelInfo(
        "claude-sonnet-5-5", 1_000_000, Price(2.0, 10.0, 2.5, 4.0, 0.20)
    ),
    "claude-haiku-5-5": ModelInfo(
        "claude-haiku-5-5",
        1_000_000,
        _price(0.10, 0.50),
        tier_threshold=100_000,
        long_price=_price(0.50, 2.50),
        min_cache_tokens=2048,
    ),
    "claude-haiku-4-5": ModelInfo(
        "claude-haiku-4-5", 200_000, _price(1.0, 5.0), min_cache_tokens=4096
    ),
}


@dataclass(frozen=True)
class Usage:
    """Token counts of one or more model replies."""

    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0

    @property
    def prompt_tokens(self) -> int:
        return self.input_tokens + self.cache_read_tokens + self.cache_write_tokens

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            self.input_tokens + other.input_tokens,
            self.output_tokens + other.output_tokens,
            self.cache_read_tokens + other.cache_read_tokens,
            self.cache_write_tokens + other.cache_write_tokens,
        )


class Catalog:
    """The model table, with overrides from the config."""

    def __init__(self, models: dict[str, ModelInfo] | None = None) -> None:
        self.models: dict[str, ModelInfo] = dict(models or DEFAULT_MODELS)

    def get(self, model: str) -> ModelInfo | None:
        return self.models.get(model)

    def min_cache_tokens(self, model: str) -> int:
        info = self.models.get(model)
        return info.min_cache_tokens if info else DEFAULT_MIN_CACHE_TOKENS

    def context_window(self, model: str) -> int | None:
        info = self.models.get(model)
        return info.context_window if info else None

    def price(self, model: str, usage: Usage) -> Price | None:
        """The per-million prices one reply's usage is billed at: the tier is chosen per
        reply from its prompt size, as the API bills it. None: the model has no price."""
        info = self.models.get(model)
        if info is None:
            return None
        if (
            info.tier_threshold is not None
            and info.long_price is not None
            and usage.prompt_tokens > info.tier_threshold
        ):
            return info.long_price
        return info.price

    def cost(self, model: str, usage: Usage) -> float | None:
        """Dollar cost of one reply's usage (see `price`); None when the model's price is
        unknown. `core.cost_meter` computes the same sum term by term, in this order."""
        price = self.price(model, usage)
        if price is None:
            return None
        return (
            usage.input_tokens * price.input
            + usage.output_tokens * price.output
            + usage.cache_write_tokens * price.cache_write_5m
            + usage.cache_read_tokens * price.cache_read
        ) / 1_000_000

    def with_overrides(self, table: dict[str, Any]) -> Catalog:
        """A catalog with `[models.ID]` entries from the config applied."""
        models = dict(self.models)
        for model_id, spec in table.items():
            base = models.get(model_id)
            price = base.price if base else None
            fields = {
                k: float(spec[k])
                for k in ("input", "output", "cache_write_5m", "cache_write_1h", "cache_read")
                if k in spec
            }
            for k, v in fields.items():
                if not v >= 0:  # also NaN
                    raise ValueError(f"{model_id}.{k} is a price in $ per million tokens: >= 0")
            for k in ("context_window", "min_cache_tokens"):
                if k in spec and not (isinstance(spec[k], int) and spec[k] >= 1):
                    raise ValueError(f"{model_id}.{k} must be a whole number >= 1")
            if price is None:
                if "input" not in fields or "output" not in fields:
                    raise ValueError("a new model needs at least `input` and `output` prices")
                price = _price(fields["input"], fields["output"], fields.get("cache_read"))
            price = replace(price, **fields)
            window = int(spec.get("context_window", base.context_window if base else 200_000))
            min_cache = int(
                spec.get(
                    "min_cache_tokens", base.min_cache_tokens if base else DEFAULT_MIN_CACHE_TOKENS
                )
            )
            models[model_id] = ModelInfo(
                model_id,
                window,
                price,
                tier_threshold=base.tier_threshold if base and "input" not in fields else None,
                long_price=base.long_price if base and "input" not in fields else None,
                min_cache_tokens=min_cache,
            )
        return Catalog(models)
