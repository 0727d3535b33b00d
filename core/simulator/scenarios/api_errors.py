"""The api-errors scenario: the default flow, with one fault of each kind by request count."""

from __future__ import annotations

from core.simulator.scenarios.default import DefaultScenario

# Request number (1-based, POST /v1/messages only) -> fault kind (see core.simulator.faults).
FAULT_SCHEDULE: dict[int, str] = {
    2: "rate_limit",
    4: "overloaded",
    6: "server_error",
    8: "stream_error",
    10: "drop",
    12: "truncate",
}


class ApiErrorsScenario(DefaultScenario):
    name = "api-errors"

    def __init__(self, schedule: dict[int, str] | None = None) -> None:
        self.schedule = dict(FAULT_SCHEDULE if schedule is None else schedule)

    def fault(self, request_number: int) -> str | None:
        return self.schedule.get(request_number)
