"""web_fetch against a loopback HttpServer: text, HTML reduction, limits and failures."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from core.simulator.http import HttpServer, Request, Response
from core.tools.base import ToolContext, ToolResult, execute
from core.tools.registry import build_tools
from core.tools.web import html_to_text

TOOLS = build_tools(["web_fetch"])
PAGE = b"""<html><head><title>Hello  Page</title><style>p{color:red}</style></head>
<body><h1>Welcome</h1><script>var x = 1;</script><p>First &amp; only
paragraph.</p><ul><li>one</li><li>two</li></ul></body></html>"""


async def _chunks(n: int, size: int) -> AsyncIterator[bytes]:
    for _ in range(n):
        yield b"z" * size


async def handler(request: Request) -> Response:
    if request.path == "/page":
        return Response(headers={"content-type": "text/html; charset=utf-8"}, body=PAGE)
    if request.path == "/plain":
        return Response(headers={"content-type": "text/plain"}, body=b"just text")
    if request.path == "/big":
        return Response(headers={"content-type": "text/plain"}, stream=_chunks(100, 100_000))
    if request.path == "/exact":
        return Response(headers={"content-type": "text/plain"}, body=b"y" * 1000)
    if request.path == "/bin":
        return Response(headers={"content-type": "image/png"}, body=b"\x89PNG\x00\x00")
    if request.path == "/moved":
        return Response(status=302, headers={"location": "/plain"})
    if request.path == "/slow":
        await asyncio.Event().wait()
    return Response(status=404, headers={"content-type": "text/plain"}, body=b"no such page")


@pytest.fixture
async def server() -> AsyncIterator[HttpServer]:
    async with HttpServer(handler) as srv:
        yield srv


@pytest.fixture
def ctx(tmp_path: Path) -> ToolContext:
    async def allow(agent_id: str, tool: str, command: str, cwd: str) -> tuple[bool, str]:
        return True, ""

    # The test servers are on loopback, which web_fetch refuses unless allowed.
    return ToolContext(
        workspace=tmp_path, agent_id="research-1", authorize=allow, fetch_allow_hosts=("127.0.0.1",)
    )


async def fetch(ctx: ToolContext, url: str) -> ToolResult:
    return await asyncio.wait_for(execute(TOOLS, "web_fetch", {"url": url}, ctx), 10)


async def test_plain_text(server: HttpServer, ctx: ToolContext) -> None:
    res = await fetch(ctx, f"{server.base_url}/plain")
    assert not res.is_error
    assert res.text == "status: 200\ncontent-type: text/plain\n\njust text"


async def test_html_is_reduced_to_text(server: HttpServer, ctx: ToolContext) -> None:
    res = await fetch(ctx, f"{server.base_url}/page")
    body = res.text.split("\n\n", 1)[1]
    assert body.startswith("# Hello Page")
    assert "Welcome" in body and "First & only paragraph." in body and "one\ntwo" in body
    assert "var x" not in body and "color" not in body


async def test_size_limit(server: HttpServer, ctx: ToolContext) -> None:
    ctx.fetch_max_bytes = 50_000
    ctx.output_cap_bytes = 20_000
    res = await fetch(ctx, f"{server.base_url}/big")
    assert not res.is_error
    assert "[body cut at 50000 bytes]" in res.text
    assert "[text cut at 20000 bytes]" in res.text
    assert res.text.split("\n\n", 1)[1] == "z" * 20_000
    ctx.fetch_max_bytes = 1000
    res = await fetch(ctx, f"{server.base_url}/exact")
    assert "cut" not in res.text and res.text.endswith("\n\n" + "y" * 1000)


async def test_redirect_binary_and_errors(server: HttpServer, ctx: ToolContext) -> None:
    res = await fetch(ctx, f"{server.base_url}/moved")
    assert "url: " in res.text and res.text.endswith("just text")
    res = await fetch(ctx, f"{server.base_url}/bin")
    assert "binary content, 6 bytes" in res.text
    res = await fetch(ctx, f"{server.base_url}/missing")
    assert res.is_error and res.text.startswith("status: 404") and "no such page" in res.text


async def test_timeout(server: HttpServer, ctx: ToolContext) -> None:
    ctx.fetch_timeout_s = 0.2
    res = await fetch(ctx, f"{server.base_url}/slow")
    assert res.is_error and "timed out after 0.2 s" in res.text


async def test_connection_refused(ctx: ToolContext) -> None:
    srv = HttpServer(handler)
    await srv.start()
    url = f"{srv.base_url}/plain"
    await srv.close()
    res = await fetch(ctx, url)
    assert res.is_error and res.text.startswith(f"fetching {url} failed:")


@pytest.mark.parametrize(
    "url", ["file:///etc/passwd", "ftp://example.com/x", "javascript:alert(1)", "http://", "x"]
)
async def test_non_http_is_refused(ctx: ToolContext, url: str) -> None:
    res = await fetch(ctx, url)
    assert res.is_error and "only http:// and https://" in res.text


def test_html_to_text_without_title() -> None:
    assert html_to_text("<div>a</div><div>b</div>") == "a\nb"
