"""Shared test fixtures."""

from __future__ import annotations

from collections.abc import AsyncIterator

import anthropic
import pytest

from core.llm import make_client
from tests.fakeapi import DEFAULT_KEY, FakeAPI


@pytest.fixture
async def fake_api() -> AsyncIterator[FakeAPI]:
    """A started scripted Messages-API server on loopback (see tests/fakeapi.py)."""
    async with FakeAPI() as api:
        yield api


@pytest.fixture
async def client(fake_api: FakeAPI) -> AsyncIterator[anthropic.AsyncAnthropic]:
    """An SDK client for `fake_api`, with the SDK's own retries off."""
    sdk = make_client(DEFAULT_KEY, fake_api.base_url, max_retries=0)
    yield sdk
    await sdk.close()


def pytest_unconfigure(config: pytest.Config) -> None:
    """With the Temporal SDK loaded, a collection before the interpreter's shutdown stops
    its native runtime from crashing the process there (exit 139/134 after all passed)."""
    import gc
    import sys

    if "temporalio" in sys.modules:
        gc.collect()
