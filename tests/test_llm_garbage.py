"""A streamed turn leaves nothing for the garbage collector.

Agents stream turns for as long as a run lasts. Whatever a turn leaves in a reference
cycle waits for a full collection, which is rare and slow, so it grows the process.
"""

from __future__ import annotations

import gc
from typing import Any

import anthropic
import httpx2
import pytest
from pydantic import main as pydantic_main

from core.llm import ModelClient
from core.llm_stream import ReplyAccumulator, SSEFrames
from tests.fakeapi import FakeAPI, text_reply
from tests.test_llm import RecordingSink, request


async def test_turns_after_a_collection_build_no_model_classes(
    fake_api: FakeAPI, client: anthropic.AsyncAnthropic, monkeypatch: pytest.MonkeyPatch
) -> None:
    models = ModelClient(client)
    fake_api.push(text_reply("warm up", pieces=2))
    await models.stream_turn(request(), RecordingSink())  # imports and caches settle

    built: list[str] = []
    create = pydantic_main._generics.create_generic_submodel

    def spy(name: str, *args: Any, **kwargs: Any) -> Any:
        built.append(name)
        return create(name, *args, **kwargs)

    monkeypatch.setattr(pydantic_main._generics, "create_generic_submodel", spy)
    for n in range(3):
        gc.collect()
        fake_api.push(text_reply(f"turn {n}", pieces=2))
        result = await models.stream_turn(request(), RecordingSink())
        assert result.content == [{"type": "text", "text": f"turn {n}"}]

    assert built == []


async def test_a_finished_turn_is_freed_without_the_collector(
    fake_api: FakeAPI, client: anthropic.AsyncAnthropic
) -> None:
    """The response holds the request and the reply; it must die by refcount, with the
    reader's state (the SDK's stream helper used to keep all of it in a cycle)."""
    models = ModelClient(client)
    fake_api.push(text_reply("warm up", pieces=2))
    await models.stream_turn(request(), RecordingSink())
    gc.collect()
    gc.disable()  # anything still alive after the turn is kept alive by a cycle
    try:
        fake_api.push(text_reply("a finished turn", pieces=3))
        result = await models.stream_turn(request(), RecordingSink())
        kept = (httpx2.Response, ReplyAccumulator, SSEFrames)
        left = [o for o in gc.get_objects() if isinstance(o, kept)]
    finally:
        gc.enable()
    assert result.content == [{"type": "text", "text": "a finished turn"}]
    assert left == []
