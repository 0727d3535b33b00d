"""Shared test fixtures."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.fakeapi import FakeAPI


@pytest.fixture
async def fake_api() -> AsyncIterator[FakeAPI]:
    """A started scripted Messages-API server on loopback (see tests/fakeapi.py)."""
    async with FakeAPI() as api:
        yield api
