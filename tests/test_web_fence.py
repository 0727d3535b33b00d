"""web_fetch's address fence and its HTML conversion, attacked: loopback, private and
metadata addresses (as literals, names, IPv6 forms), redirects into them, DNS rebinding,
and a page that made the stdlib HTML parser spin for minutes on the event loop.

Only loopback ever receives traffic: every test's network backend refuses to connect
anywhere else, and the tests that need a "public" address check where the connection
was headed instead of making it.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any, ClassVar

import httpcore2
import pytest

from core.config import ConfigError, parse_config
from core.simulator.http import HttpServer, Request, Response
from core.tools import web
from core.tools.base import ToolContext, ToolResult, execute
from core.tools.netfence import Fence, address_problem, parse_allow_entry
from core.tools.registry import build_tools
from tests.scripted import allow_all
from tests.test_trust_tools import run_turn

TOOLS = build_tools(["web_fetch"])
PUBLIC = "93.184.216.34"  # never contacted: the guard below refuses it


class GuardedBackend(web._PinnedBackend):
    """The real backend, except that it never connects beyond loopback (a test that
    would reach the internet records the attempt and fails to connect instead)."""

    instances: ClassVar[list[GuardedBackend]] = []

    def __init__(self) -> None:
        super().__init__()
        GuardedBackend.instances.append(self)

    async def connect_tcp(self, host: str, port: int, *args: Any, **kwargs: Any) -> Any:
        addresses = self.pinned.get((host.lower(), port), [])
        if any(not a.startswith(("127.", "::1")) for a in addresses):
            self.connected.append((host, addresses[0], port))
            raise httpcore2.ConnectError(f"test guard: no traffic to {addresses}")
        return await super().connect_tcp(host, port, *args, **kwargs)


@pytest.fixture(autouse=True)
def guarded(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[GuardedBackend]]:
    GuardedBackend.instances = []
    monkeypatch.setattr(web, "_backend_factory", GuardedBackend)
    yield GuardedBackend.instances


class Server:
    """A loopback server that remembers every request it got."""

    def __init__(self) -> None:
        self.seen: list[str] = []
        self.redirect_to = ""
        self.http = HttpServer(self.handle)

    async def handle(self, request: Request) -> Response:
        self.seen.append(request.path)
        if request.path.startswith("/redirect"):
            return Response(status=302, headers={"location": self.redirect_to})
        if request.path == "/bomb":
            return Response(headers={"content-type": "text/html"}, body=b"<a" * 150_000)
        return Response(headers={"content-type": "text/plain"}, body=b"hello from loopback")

    @property
    def port(self) -> int:
        return int(self.http.base_url.rsplit(":", 1)[1])


@pytest.fixture
async def servers() -> AsyncIterator[tuple[Server, Server]]:
    a, b = Server(), Server()
    async with a.http, b.http:
        yield a, b


def _ctx(tmp_path: Path, **fence: Any) -> ToolContext:
    return ToolContext(workspace=tmp_path, agent_id="research-1", authorize=allow_all, **fence)


async def fetch(ctx: ToolContext, url: str) -> ToolResult:
    return await asyncio.wait_for(execute(TOOLS, "web_fetch", {"url": url}, ctx), 10)


def _connections(backends: list[GuardedBackend]) -> list[tuple[str, str, int]]:
    return [c for b in backends for c in b.connected]


# --- refused by default -----------------------------------------------------------

LOOPBACK_FORMS = [
    "http://127.0.0.1:{port}/collect?d=secret",
    "http://127.1.2.3:{port}/collect",
    "http://localhost:{port}/collect",
    "http://LocalHost:{port}/collect",
    "http://[::1]:{port}/collect",
    "http://[::ffff:127.0.0.1]:{port}/collect",
    "http://[::ffff:7f00:1]:{port}/collect",
    "http://[64:ff9b::7f00:1]:{port}/collect",
    "http://0.0.0.0:{port}/collect",
    "http://[::]:{port}/collect",
    "http://2130706433:{port}/collect",  # 127.0.0.1 as one number
    "http://0x7f.0.0.1:{port}/collect",
]
OTHER_FENCED = [
    ("http://10.0.0.1/", "a private address"),
    ("http://10.255.255.254:8080/", "a private address"),
    ("http://172.16.5.4/", "a private address"),
    ("http://192.168.1.1/admin", "a private address"),
    ("http://169.254.169.254/latest/meta-data/iam/", "a cloud metadata address"),
    ("http://[fd00:ec2::254]/latest/meta-data/", "a cloud metadata address"),
    ("http://[::ffff:169.254.169.254]/latest/", "a cloud metadata address"),
    ("http://[::ffff:10.0.0.1]/", "a private address"),
    ("http://100.100.100.200/", "a cloud metadata address"),
    ("http://169.254.1.1/", "a link-local address"),
    ("http://[fe80::1]/", "a link-local address"),
    ("http://[fd12:3456::1]/", "a private address"),
    ("http://224.0.0.1/", "a multicast address"),
    ("http://[ff02::1]/", "a multicast address"),
    ("http://100.64.0.1/", "not a public address"),
    ("http://240.0.0.1/", "a private address"),
    ("http://[2002:a00:1::]/", "a private address"),  # 6to4 around 10.0.0.1
]


@pytest.mark.parametrize("form", LOOPBACK_FORMS)
async def test_loopback_in_every_form_is_refused(
    form: str, servers: tuple[Server, Server], guarded: list[GuardedBackend], tmp_path: Path
) -> None:
    server, _ = servers
    url = form.format(port=server.port)
    res = await fetch(_ctx(tmp_path), url)
    assert res.is_error and res.text.lower().startswith(f"refused {url.split('?')[0].lower()}")
    assert "web_fetch reaches public addresses only" in res.text
    assert server.seen == [] and _connections(guarded) == []


@pytest.mark.parametrize(("url", "why"), OTHER_FENCED)
async def test_private_and_metadata_literals_are_refused(
    url: str, why: str, guarded: list[GuardedBackend], tmp_path: Path
) -> None:
    res = await fetch(_ctx(tmp_path), url)
    assert res.is_error and res.text.startswith("refused "), res.text
    assert why in res.text
    assert _connections(guarded) == []


async def test_refusals_through_a_real_agent_turn(
    servers: tuple[Server, Server], tmp_path: Path
) -> None:
    server, _ = servers
    urls = [
        f"http://127.0.0.1:{server.port}/collect?d=API_KEY",
        f"http://localhost:{server.port}/collect",
        "http://169.254.169.254/latest/meta-data/",
        "http://192.168.0.1/",
    ]
    results, final, _ = await run_turn(tmp_path, *(("web_fetch", {"url": u}) for u in urls))
    for res in results:
        assert res.get("is_error") is True and res["content"].startswith("refused "), res
    assert final == "finished"
    assert server.seen == []


async def test_a_name_that_resolves_to_loopback_is_refused(
    servers: tuple[Server, Server], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    server, _ = servers

    async def resolve(host: str, port: int) -> list[str]:
        return [PUBLIC, "127.0.0.1"] if host == "mixed.example" else ["127.0.0.1"]

    monkeypatch.setattr(web, "resolve_host", resolve)
    for host in ("internal.example", "mixed.example"):  # one bad address is enough
        res = await fetch(_ctx(tmp_path), f"http://{host}:{server.port}/collect")
        assert res.is_error and f"{host} (127.0.0.1) is a loopback address" in res.text
    assert server.seen == []


# --- redirects --------------------------------------------------------------------


async def test_a_redirect_into_loopback_is_refused(
    servers: tuple[Server, Server], tmp_path: Path
) -> None:
    allowed, other = servers
    ctx = _ctx(tmp_path, fetch_allow_hosts=(f"127.0.0.1:{allowed.port}",))
    res = await fetch(ctx, f"http://127.0.0.1:{allowed.port}/plain")
    assert not res.is_error and res.text.endswith("hello from loopback")  # allowed works
    for target in (
        f"http://127.0.0.1:{other.port}/collect?d=secret",
        f"http://localhost:{other.port}/collect",
        "http://169.254.169.254/latest/meta-data/",
        f"http://[::ffff:127.0.0.1]:{other.port}/",
    ):
        allowed.redirect_to = target
        res = await fetch(ctx, f"http://127.0.0.1:{allowed.port}/redirect")
        assert res.is_error and res.text.startswith("refused "), res.text
    assert other.seen == []
    assert allowed.seen.count("/redirect") == 4


async def test_redirects_are_bounded_and_schemes_checked(
    servers: tuple[Server, Server], tmp_path: Path
) -> None:
    a, _ = servers
    ctx = _ctx(tmp_path, fetch_allow_private=True)
    a.redirect_to = "/redirect-again"
    res = await fetch(ctx, f"http://127.0.0.1:{a.port}/redirect")
    assert res.is_error and "more than 5 redirects" in res.text
    assert len(a.seen) == 6
    a.redirect_to = "file:///etc/passwd"
    res = await fetch(ctx, f"http://127.0.0.1:{a.port}/redirect")
    assert res.is_error and "refused a redirect to 'file:" in res.text


# --- DNS rebinding ------------------------------------------------------------------


async def test_dns_rebinding_gets_nothing(
    servers: tuple[Server, Server],
    guarded: list[GuardedBackend],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    """The name answers a public address when checked, loopback on any later lookup. The
    connection goes to the address that was checked (here: refused by the test guard,
    so no traffic leaves), never to a second lookup's answer."""
    server, _ = servers
    answers: list[str] = []

    async def resolve(host: str, port: int) -> list[str]:
        answer = PUBLIC if not answers else "127.0.0.1"
        answers.append(answer)
        return [answer]

    monkeypatch.setattr(web, "resolve_host", resolve)
    res = await fetch(_ctx(tmp_path), f"http://rebind.example:{server.port}/collect?d=secret")
    assert res.is_error and "ConnectError" in res.text
    assert answers == [PUBLIC]  # resolved once, by the fence; httpx resolved nothing
    assert _connections(guarded) == [("rebind.example", PUBLIC, server.port)]
    assert server.seen == []


async def test_connections_go_to_the_checked_address(
    servers: tuple[Server, Server],
    guarded: list[GuardedBackend],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    """An allowed name: the request reaches the address the fence was given, with the
    name (not the address) in the Host header."""
    server, _ = servers
    hosts: list[str] = []

    async def handle(request: Request) -> Response:
        hosts.append(request.headers.get("host", ""))
        return Response(headers={"content-type": "text/plain"}, body=b"ok")

    server.http.handler = handle

    async def resolve(host: str, port: int) -> list[str]:
        return ["127.0.0.1"]

    monkeypatch.setattr(web, "resolve_host", resolve)
    ctx = _ctx(tmp_path, fetch_allow_hosts=("*.corp.example",))
    res = await fetch(ctx, f"http://wiki.corp.example:{server.port}/page")
    assert not res.is_error and res.text.endswith("ok"), res.text
    assert hosts == [f"wiki.corp.example:{server.port}"]
    assert _connections(guarded) == [("wiki.corp.example", "127.0.0.1", server.port)]


# --- what the config allows -------------------------------------------------------


async def test_allow_private_and_allow_hosts(
    servers: tuple[Server, Server], tmp_path: Path
) -> None:
    a, b = servers
    res = await fetch(_ctx(tmp_path, fetch_allow_private=True), f"http://localhost:{a.port}/x")
    assert not res.is_error and res.text.endswith("hello from loopback")
    only_a = _ctx(tmp_path, fetch_allow_hosts=(f"127.0.0.1:{a.port}",))
    assert not (await fetch(only_a, f"http://127.0.0.1:{a.port}/x")).is_error
    res = await fetch(only_a, f"http://127.0.0.1:{b.port}/x")
    assert res.is_error and "loopback" in res.text
    net = _ctx(tmp_path, fetch_allow_hosts=("127.0.0.0/8",))
    assert not (await fetch(net, f"http://127.0.0.1:{b.port}/x")).is_error
    assert b.seen == ["/x"]


def test_config_section(tmp_path: Path) -> None:
    s = parse_config(
        {"tools": {"web_fetch": {"allow_private": True, "allow_hosts": ["wiki.corp:8080"]}}}
    )
    assert s.fetch_allow_private is True and s.fetch_allow_hosts == ("wiki.corp:8080",)
    assert parse_config({}).fetch_allow_private is False
    for bad, message in [
        ({"allow_private": "yes"}, "true or false"),
        ({"allow_hosts": "localhost"}, "a list of strings"),
        ({"allow_hosts": ["bad host!"]}, "not a host name"),
        ({"allow_hosts": ["h:99999"]}, "port"),
        ({"allow_hosts": ["10.0.0.0/99"]}, "not a network"),
        ({"allow_all": True}, "unknown key"),
    ]:
        with pytest.raises(ConfigError, match=message):
            parse_config({"tools": {"web_fetch": bad}})


def test_allow_entries_parse() -> None:
    fence = Fence.from_config(False, ("Wiki.Corp:8080", "[::1]:9000", "*.lan", "10.0.0.0/8"))
    assert fence.host_allowed("wiki.corp", 8080) and not fence.host_allowed("wiki.corp", 80)
    assert fence.host_allowed("[::1]", 9000) and fence.host_allowed("nas.lan", 80)
    assert not fence.host_allowed("lan", 80)
    import ipaddress

    assert fence.refusal(ipaddress.ip_address("10.1.2.3")) is None
    assert fence.refusal(ipaddress.ip_address("192.168.1.1")) == "a private address"
    assert parse_allow_entry("::1").name == "::1"  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("address", "fenced"),
    [
        ("8.8.8.8", False),
        ("2606:4700:4700::1111", False),
        ("::ffff:8.8.8.8", False),
        ("127.0.0.1", True),
        ("::ffff:127.0.0.1", True),
        ("::127.0.0.1", True),
        ("2002:7f00:1::", True),
        ("2001:0:4136:e378:8000:63bf:80ff:fffe", True),  # Teredo around 127.0.0.1
        ("fec0::1", True),
        ("192.0.2.1", True),
        ("255.255.255.255", True),
    ],
)
def test_address_classes(address: str, fenced: bool) -> None:
    import ipaddress

    assert (address_problem(ipaddress.ip_address(address)) is not None) is fenced


# --- HTML conversion off the loop -------------------------------------------------


async def test_a_pathological_page_does_not_freeze_the_loop(
    servers: tuple[Server, Server], tmp_path: Path
) -> None:
    """300 KB of `<a<a<a...`: the stdlib parser took over 100 s on it, on the loop."""
    server, _ = servers
    lags: list[float] = []
    stop = asyncio.Event()

    async def ticker() -> None:
        while not stop.is_set():
            start = time.perf_counter()
            await asyncio.sleep(0.01)
            lags.append(time.perf_counter() - start - 0.01)

    ctx = _ctx(tmp_path, fetch_allow_hosts=("127.0.0.1",))
    tick = asyncio.create_task(ticker())
    try:
        res = await fetch(ctx, f"http://127.0.0.1:{server.port}/bomb")
    finally:
        stop.set()
        await tick
    assert max(lags) < 1.0, f"the loop stalled for {max(lags):.2f} s"
    head, body = res.text.split("\n\n", 1)
    assert not res.is_error and f"[text cut at {ctx.output_cap_bytes} bytes]" in head
    assert body.startswith("<a<a<a") and len(body.encode()) <= ctx.output_cap_bytes


async def test_a_page_not_converted_in_time_comes_back_raw(
    servers: tuple[Server, Server], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    server, _ = servers
    release = threading.Event()

    def stuck(markup: str) -> str:
        release.wait(10)
        return "never shown"

    async def handle(request: Request) -> Response:
        return Response(headers={"content-type": "text/html"}, body=b"<p>raw &amp; page</p>")

    server.http.handler = handle
    monkeypatch.setattr(web, "html_to_text", stuck)
    monkeypatch.setattr(web, "HTML_TO_TEXT_DEADLINE_S", 0.2)
    ctx = _ctx(tmp_path, fetch_allow_hosts=("127.0.0.1",))
    try:
        res = await fetch(ctx, f"http://127.0.0.1:{server.port}/")
    finally:
        release.set()
    assert "[HTML not converted to text within 0.2 s; the raw page follows]" in res.text
    assert res.text.endswith("\n\n<p>raw &amp; page</p>")


@pytest.mark.parametrize(
    "page",
    ["<a" * 150_000, "<a " * 100_000, "<!--" * 75_000, "</" * 150_000, "&" * 300_000,
     "<a x='" * 50_000, "<script>" * 37_500, "<p>" * 100_000, "<" * 300_000],
)  # fmt: skip
def test_html_to_text_is_linear(page: str) -> None:
    # CPU time of this thread, not wall time: other processes on the machine do not count.
    start = time.thread_time()
    web.html_to_text(page)
    assert time.thread_time() - start < 2.0  # linear: ~0.05 s here; the old parser, minutes


def test_html_to_text_keeps_its_reading() -> None:
    page = (
        "<!doctype html><html><head><title>T &amp; t</title><style>x{}</style>"
        "<script>if (a < b) { document.write('<p>no</p>') }</script></head><body>"
        "<h1>Head</h1><p>one <b>bold</b>\n  two</p><pre>a\n  b</pre><svg><text>no</text></svg>"
        "<!-- hidden --><noscript>no</noscript><p>x &lt; y</p><br/>tail"
        "<div><textarea>t <b></textarea></div>"
        "</body></html>"
    )
    assert web.html_to_text(page) == ("# T & t\n\nHead\none bold two\na\n  b\nx < y\ntail\nt <b>")
