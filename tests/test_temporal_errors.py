"""A Temporal server that does not answer is one line naming the cause, not the SDK's
(Rust) debug dump of it."""

from __future__ import annotations

import pytest

from core.temporal.errors import unreachable  # needs no SDK: the line is said without it

REFUSED = (
    "Failed client connect: Server connection error: tonic::transport::Error(Transport, "
    'ConnectError(ConnectError("tcp connect error", 127.0.0.1:1, Os { code: 111, kind: '
    'ConnectionRefused, message: "Connection refused" })))'
)
NO_NAME = (
    "Failed client connect: Server connection error: tonic::transport::Error(Transport, "
    'ConnectError(ConnectError("dns error", Custom { kind: Uncategorized, error: "failed to '
    'lookup address information: Name or service not known" })))'
)
NOT_TEMPORAL = (
    "Failed client connect: `get_system_info` call error after connection: Status { code: "
    'Unimplemented, message: "grpc-status header missing, mapped from HTTP status code 404", '
    'metadata: MetadataMap { headers: {"server": "x"} }, source: None }'
)


@pytest.mark.parametrize(
    ("error", "line"),
    [
        (RuntimeError(REFUSED), "cannot reach Temporal at h:1: Connection refused"),
        (
            RuntimeError(NO_NAME),
            "cannot reach Temporal at h:1: failed to lookup address information: "
            "Name or service not known",
        ),
        (
            RuntimeError(NOT_TEMPORAL),
            "cannot reach Temporal at h:1: something answered there, but not a Temporal "
            "frontend (grpc-status header missing, mapped from HTTP status code 404)",
        ),
        (TimeoutError(), "cannot reach Temporal at h:1: no answer within 10 s"),
        (RuntimeError("odd\n  failure"), "cannot reach Temporal at h:1: odd failure"),
    ],
)
def test_the_line_names_the_cause(error: BaseException, line: str) -> None:
    assert str(unreachable("h:1", error, 10)) == line
