"""The web_fetch tool: one HTTP GET with a size limit and a deadline, HTML reduced to text.

The address fence (`core.tools.netfence`): before each hop (the first request and every
redirect, followed here, at most MAX_REDIRECTS) the host is resolved once, every address
is checked, and the connection goes to a checked address: the network backend under
httpx is handed the addresses and never resolves a name itself, so a DNS answer that
changes between the check and the connect (rebinding) reaches nothing new. TLS still
verifies the certificate for the host name (SNI and Host are the name, not the address).
Proxies from the environment are not used (a proxy would resolve names itself).

HTML is converted by a linear-time scanner in a worker thread, with a deadline: a page
that is not converted in time comes back as raw text, capped, and the tool says so.
"""

from __future__ import annotations

import asyncio
import html
import ipaddress
import re
import socket
from collections.abc import Iterable
from typing import Any

import httpcore2
import httpx2

from core.tools.base import ToolContext, ToolError, ToolResult
from core.tools.netfence import Fence, IPAddress, normalize_host

MAX_REDIRECTS = 5
HTML_TO_TEXT_DEADLINE_S = 5.0
_DEFAULT_PORTS = {"http": 80, "https": 443}
_TEXT_TYPES = ("text/", "application/json", "application/xml", "application/javascript")
_TEXT_SUFFIXES = ("+json", "+xml")
_SKIP_TAGS = frozenset({"script", "style", "noscript", "template", "svg", "head"})
_RAW_TAGS = frozenset({"script", "style", "title", "textarea"})  # no markup inside
_BLOCK_TAGS = frozenset(
    {
        "p", "div", "br", "li", "ul", "ol", "tr", "table", "section", "article", "header",
        "footer", "nav", "main", "aside", "h1", "h2", "h3", "h4", "h5", "h6", "pre",
        "blockquote", "hr", "dt", "dd", "form", "title",
    }
)  # fmt: skip
_TAG = re.compile(r"(/?)([A-Za-z][^\s/>]*)")
_SPACES = re.compile(r"\s+")


class _TextExtractor:
    """A crude HTML-to-text pass: drops scripts and styles, breaks lines at blocks.

    Linear in the page: each `<` is looked at once, and the scan jumps past the `>` it
    finds (the stdlib HTMLParser rescans an unclosed tag on every `<`: a 300 KB page of
    `<a<a<a...` took it minutes). An unclosed tag at the end is text, as there."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.title = ""
        self._skip = 0
        self._pre = 0

    def feed(self, markup: str) -> None:
        i, n = 0, len(markup)
        lower: str | None = None
        while i < n:
            lt = markup.find("<", i)
            if lt < 0:
                self._data(markup[i:])
                return
            if lt > i:
                self._data(markup[i:lt])
            if markup.startswith("<!--", lt):
                end = markup.find("-->", lt + 4)
                i = n if end < 0 else end + 3
                continue
            if markup.startswith(("<!", "<?"), lt):  # doctype, CDATA, processing instruction
                gt = markup.find(">", lt)
                i = n if gt < 0 else gt + 1
                continue
            m = _TAG.match(markup, lt + 1)
            if m is None:  # a lone "<" is text
                self._data("<")
                i = lt + 1
                continue
            gt = markup.find(">", m.end())
            if gt < 0:  # an unclosed tag: the rest is text
                self._data(markup[lt:])
                return
            name = m.group(2).lower()
            i = gt + 1
            if m.group(1):
                self._end(name)
                continue
            self._start(name, self_closing=markup[gt - 1] == "/")
            if name in _RAW_TAGS:
                if lower is None:
                    lower = markup.lower()
                end = lower.find("</" + name, i)
                end = n if end < 0 else end
                self._raw(name, markup[i:end])
                i = end

    def _start(self, tag: str, *, self_closing: bool) -> None:
        if tag in _SKIP_TAGS and tag not in _RAW_TAGS and not self_closing:
            self._skip += 1
        elif tag == "pre" and not self_closing:
            self._pre += 1
        if tag in _BLOCK_TAGS:
            self.parts.append("\n")

    def _end(self, tag: str) -> None:
        if tag in _SKIP_TAGS and tag not in _RAW_TAGS and self._skip:
            self._skip -= 1
        elif tag == "pre" and self._pre:
            self._pre -= 1
        if tag in _BLOCK_TAGS:
            self.parts.append("\n")

    def _raw(self, tag: str, content: str) -> None:
        if tag == "title":
            self.title += html.unescape(content)
        elif tag == "textarea":
            self._data(content)

    def _data(self, data: str) -> None:
        if self._skip:
            return
        data = html.unescape(data)
        # Source line breaks are just spaces in HTML, except inside <pre>.
        # (\x01 marks a <pre> line break, kept through the line clean-up below.)
        self.parts.append(data.replace("\n", "\x01") if self._pre else _SPACES.sub(" ", data))


def html_to_text(markup: str) -> str:
    """Readable text of an HTML page: its title, then one line per block, blanks dropped."""
    parser = _TextExtractor()
    parser.feed(markup)
    lines = (line.strip() for line in "".join(parser.parts).split("\n"))
    body = "\n".join(line for line in lines if line).replace("\x01", "\n")
    title = " ".join(parser.title.split())
    return f"# {title}\n\n{body}" if title else body


async def _html_to_text_bounded(markup: str) -> str | None:
    """html_to_text in a worker thread; None if it does not finish within the deadline."""
    try:
        return await asyncio.wait_for(
            asyncio.to_thread(html_to_text, markup), HTML_TO_TEXT_DEADLINE_S
        )
    except TimeoutError:
        return None


def _is_text(content_type: str) -> bool:
    mime = content_type.split(";", 1)[0].strip().lower()
    return not mime or mime.startswith(_TEXT_TYPES) or mime.endswith(_TEXT_SUFFIXES)


def _cap_text(text: str, cap: int) -> tuple[str, bool]:
    data = text.encode()
    if len(data) <= cap:
        return text, False
    return data[:cap].decode("utf-8", "ignore"), True


class WebFetch:
    name = "web_fetch"
    description = (
        "Fetch a web page or file with HTTP GET (http/https only). Returns the status, "
        "content type and text; HTML is reduced to readable text. Large bodies are cut."
    )

    def __init__(self) -> None:
        self.input_schema: dict[str, Any] = {
            "type": "object",
            "properties": {"url": {"type": "string", "description": "http:// or https:// URL."}},
            "required": ["url"],
            "additionalProperties": False,
        }

    def summary(self, args: dict[str, Any]) -> str:
        url = str(args.get("url", ""))
        return f"web_fetch {url if len(url) <= 80 else url[:79] + '…'}"

    async def run(self, args: dict[str, Any], ctx: ToolContext) -> ToolResult:
        url: str = args["url"].strip()
        _check_scheme(url, url)
        fence = Fence.from_config(ctx.fetch_allow_private, ctx.fetch_allow_hosts)
        try:
            async with asyncio.timeout(ctx.fetch_timeout_s):
                page = await _get(url, ctx, fence)
        except TimeoutError:
            raise ToolError(f"fetching {url} timed out after {ctx.fetch_timeout_s:g} s") from None
        except httpx2.HTTPError as exc:
            detail = str(exc) or type(exc).__name__
            raise ToolError(f"fetching {url} failed: {type(exc).__name__}: {detail}") from None
        head = [f"status: {page.status}", f"content-type: {page.content_type or 'unknown'}"]
        if page.url != url:
            head.append(f"url: {page.url}")
        if page.cut:
            head.append(f"[body cut at {ctx.fetch_max_bytes} bytes]")
        if not _is_text(page.content_type):
            text = f"(binary content, {len(page.body)} bytes, not shown)"
        else:
            text = page.body
            if "html" in page.content_type.lower():
                converted = await _html_to_text_bounded(text)
                if converted is None:
                    head.append(
                        f"[HTML not converted to text within {HTML_TO_TEXT_DEADLINE_S:g} s; "
                        "the raw page follows]"
                    )
                else:
                    text = converted
            text, capped = _cap_text(text, ctx.output_cap_bytes)
            if capped:
                head.append(f"[text cut at {ctx.output_cap_bytes} bytes]")
        return ToolResult(
            "\n".join(head) + "\n\n" + text,
            is_error=page.status >= 400,
            data={"status": page.status, "url": page.url},
        )


def _check_scheme(url: str, asked: str) -> httpx2.URL:
    try:
        parsed = httpx2.URL(url)
    except httpx2.InvalidURL:
        parsed = None
    if parsed is None or parsed.scheme not in ("http", "https") or not parsed.host:
        if url == asked:
            raise ToolError(f"refused {url!r}: only http:// and https:// URLs can be fetched")
        raise ToolError(f"refused a redirect to {url!r}: only http:// and https:// URLs")
    return parsed


async def resolve_host(host: str, port: int) -> list[str]:
    """The addresses `host` resolves to (the system resolver, off the loop)."""
    loop = asyncio.get_running_loop()
    infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


async def _checked_addresses(url: httpx2.URL, fence: Fence, asked: str) -> list[str]:
    """The addresses to connect to for `url`; ToolError when any is fenced off."""
    host = normalize_host(url.host)
    port = url.port or _DEFAULT_PORTS[url.scheme]
    try:
        literal: IPAddress | None = ipaddress.ip_address(host)
    except ValueError:
        literal = None
    if literal is not None:
        found = [str(literal)]
    else:
        try:
            found = await resolve_host(url.raw_host.decode("ascii"), port)
        except OSError as exc:
            raise ToolError(f"fetching {asked} failed: cannot resolve {host}: {exc}") from None
        if not found:
            raise ToolError(f"fetching {asked} failed: {host} has no address")
    if fence.host_allowed(host, port):
        return found
    for address in found:
        problem = fence.refusal(ipaddress.ip_address(address.split("%", 1)[0]))
        if problem:
            shown = host if literal is not None else f"{host} ({address})"
            raise ToolError(
                f"refused {url}: {shown} is {problem}; web_fetch reaches public addresses "
                "only (allow more with [tools.web_fetch] allow_hosts or allow_private)"
            )
    return found


class _PinnedBackend(httpcore2.AsyncNetworkBackend):
    """Connects a host only to the addresses checked for it; resolves nothing itself."""

    def __init__(self) -> None:
        self._inner = httpcore2.AnyIOBackend()
        self.pinned: dict[tuple[str, int], list[str]] = {}
        self.connected: list[tuple[str, str, int]] = []  # (host, address, port), for tests

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109 (httpcore's interface)
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore2.AsyncNetworkStream:
        addresses = self.pinned.get((host.lower(), port))
        if not addresses:
            raise httpcore2.ConnectError(f"{host}:{port} was not checked; not connecting")
        error: Exception | None = None
        for address in addresses:
            self.connected.append((host, address, port))
            try:
                return await self._inner.connect_tcp(
                    address,
                    port,
                    timeout=timeout,
                    local_address=local_address,
                    socket_options=socket_options,
                )
            except httpcore2.ConnectError as exc:
                error = exc
        assert error is not None
        raise error

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,  # noqa: ASYNC109 (httpcore's interface)
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore2.AsyncNetworkStream:
        raise httpcore2.ConnectError("web_fetch does not use unix sockets")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


class _PinnedTransport(httpx2.AsyncHTTPTransport):
    """httpx2's transport over a connection pool that uses `_PinnedBackend`. (The
    transport takes no network backend argument, so its pool is rebuilt with one.)"""

    def __init__(self, backend: _PinnedBackend) -> None:
        super().__init__(trust_env=False)
        self._pool = httpcore2.AsyncConnectionPool(
            ssl_context=httpx2.create_ssl_context(trust_env=False),
            max_connections=4,
            network_backend=backend,
        )


_backend_factory = _PinnedBackend  # tests wrap it to see where connections go


class _Page:
    def __init__(self, status: int, content_type: str, body: str, cut: bool, url: str) -> None:
        self.status, self.content_type, self.body, self.cut, self.url = (
            status,
            content_type,
            body,
            cut,
            url,
        )


async def _get(url: str, ctx: ToolContext, fence: Fence) -> _Page:
    """GET `url`, following redirects here (each hop checked), reading at most
    `fetch_max_bytes` of the (decoded) body."""
    timeout = httpx2.Timeout(ctx.fetch_timeout_s)
    headers = {"user-agent": "delegate-web-fetch/0.1", "accept": "text/html,text/*;q=0.9,*/*;q=0.5"}
    backend = _backend_factory()
    async with httpx2.AsyncClient(
        transport=_PinnedTransport(backend),
        timeout=timeout,
        follow_redirects=False,
        headers=headers,
        trust_env=False,
    ) as client:
        current = url
        for hop in range(MAX_REDIRECTS + 1):
            target = _check_scheme(current, url)
            port = target.port or _DEFAULT_PORTS[target.scheme]
            addresses = await _checked_addresses(target, fence, url)
            backend.pinned[(target.raw_host.decode("ascii").lower(), port)] = addresses
            async with client.stream("GET", target) as response:
                if response.has_redirect_location:
                    if hop == MAX_REDIRECTS:
                        raise ToolError(
                            f"fetching {url} failed: more than {MAX_REDIRECTS} redirects"
                        )
                    current = str(response.url.join(response.headers["location"]))
                    continue
                return await _read(response, ctx.fetch_max_bytes)
    raise AssertionError("unreachable")


async def _read(response: httpx2.Response, max_bytes: int) -> _Page:
    chunks: list[bytes] = []
    size = 0
    cut = False
    async for chunk in response.aiter_bytes():
        room = max_bytes - size
        if len(chunk) > room:
            chunks.append(chunk[:room])
            size += room
            cut = True
            break
        chunks.append(chunk)
        size += len(chunk)
    body = b"".join(chunks)
    encoding = response.charset_encoding or "utf-8"
    try:
        text = body.decode(encoding, "replace")
    except LookupError:
        text = body.decode("utf-8", "replace")
    content_type = response.headers.get("content-type", "")
    return _Page(response.status_code, content_type, text, cut, str(response.url))
