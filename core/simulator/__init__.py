"""A Messages-API-compatible model simulator: in-process (httpx2 transport) or on loopback."""

from __future__ import annotations

from core.simulator.engine import Simulator
from core.simulator.scenarios import SCENARIO_NAMES, ScenarioError, load_scenario
from core.simulator.server import serve
from core.simulator.transport import SimulatorTransport

__all__ = [
    "SCENARIO_NAMES",
    "ScenarioError",
    "Simulator",
    "SimulatorTransport",
    "load_scenario",
    "serve",
]
