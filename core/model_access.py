"""Which model endpoint a run talks to: the real API (or ANTHROPIC_BASE_URL) or the simulator.

Both are reached through the same `anthropic.AsyncAnthropic` client; the simulator
is plugged in underneath as an httpx2 transport, so the SDK path is always real.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import anthropic

from core.config import Settings
from core.errors import DelegateError
from core.http_client import allow_open_sockets
from core.llm import make_client


class ModelAccessError(DelegateError):
    """The endpoint cannot be used as configured (one line for the user)."""


@dataclass
class ModelAccess:
    client: anthropic.AsyncAnthropic
    simulated: bool
    describe: str

    async def aclose(self) -> None:
        await self.client.close()


def concurrent_turns(settings: Settings) -> int:
    """The most model turns a run streams at once: every sub-agent it may run at once, and
    the CEO."""
    return settings.max_concurrent + 1


def api_key_from_env(env: dict[str, str] | None = None) -> str | None:
    env = dict(os.environ) if env is None else env
    return env.get("ANTHROPIC_API_KEY") or None


def open_model_access(settings: Settings, env: dict[str, str] | None = None) -> ModelAccess:
    """The real API when a key is set (unless --simulate), else the built-in simulator."""
    key = api_key_from_env(env)
    simulate = settings.simulate if settings.simulate is not None else key is None
    if not simulate:
        if key is None:
            raise ModelAccessError(
                "no ANTHROPIC_API_KEY is set "
                "(set one, or use --simulate for the built-in simulator)"
            )
        streams = concurrent_turns(settings)
        allow_open_sockets(streams)
        client = make_client(key, settings.api_base_url, streams=streams)
        where = settings.api_base_url or "the Anthropic API"
        return ModelAccess(client, simulated=False, describe=where)
    from core.simulator import Simulator, SimulatorTransport

    scenario: str | Path = settings.scenario
    try:
        sim = Simulator(
            scenario=scenario,
            tokens_per_s=settings.sim_tokens_per_s,
            latency_s=settings.sim_latency_s,
            min_cache_tokens=settings.catalog.min_cache_tokens,
        )
    except (ValueError, OSError) as exc:
        raise ModelAccessError(f"simulator scenario {settings.scenario!r}: {exc}") from None
    client = make_client("simulator", "http://simulator.invalid", transport=SimulatorTransport(sim))
    return ModelAccess(client, simulated=True, describe=f"scenario {settings.scenario}")
