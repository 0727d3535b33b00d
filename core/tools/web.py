"""The web_fetch tool: one HTTP GET with a size limit and a deadline, HTML reduced to text."""

from __future__ import annotations

import asyncio
import html.parser
import re
from typing import Any
from urllib.parse import urlsplit

import httpx2

from core.tools.base import ToolContext, ToolError, ToolResult

MAX_REDIRECTS = 5
_TEXT_TYPES = ("text/", "application/json", "application/xml", "application/javascript")
_TEXT_SUFFIXES = ("+json", "+xml")
_SKIP_TAGS = frozenset({"script", "style", "noscript", "template", "svg", "head"})
_BLOCK_TAGS = frozenset(
    {
        "p", "div", "br", "li", "ul", "ol", "tr", "table", "section", "article", "header",
        "footer", "nav", "main", "aside", "h1", "h2", "h3", "h4", "h5", "h6", "pre",
        "blockquote", "hr", "dt", "dd", "form", "title",
    }
)  # fmt: skip


class _TextExtractor(html.parser.HTMLParser):
    """A crude HTML-to-text pass: drops scripts and styles, breaks lines at blocks."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.title = ""
        self._skip = 0
        self._pre = 0
        self._in_title = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "title":
            self._in_title = True
        elif tag in _SKIP_TAGS:
            self._skip += 1
        elif tag == "pre":
            self._pre += 1
        if tag in _BLOCK_TAGS:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag == "title":
            self._in_title = False
        elif tag in _SKIP_TAGS and self._skip:
            self._skip -= 1
        elif tag == "pre" and self._pre:
            self._pre -= 1
        if tag in _BLOCK_TAGS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self.title += data
        elif not self._skip:
            # Source line breaks are just spaces in HTML, except inside <pre>.
            # (\x01 marks a <pre> line break, kept through the line clean-up below.)
            self.parts.append(
                data.replace("\n", "\x01") if self._pre else re.sub(r"\s+", " ", data)
            )


def html_to_text(markup: str) -> str:
    """Readable text of an HTML page: its title, then one line per block, blanks dropped."""
    parser = _TextExtractor()
    parser.feed(markup)
    parser.close()
    lines = (line.strip() for line in "".join(parser.parts).split("\n"))
    body = "\n".join(line for line in lines if line).replace("\x01", "\n")
    title = " ".join(parser.title.split())
    return f"# {title}\n\n{body}" if title else body


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
        parts = urlsplit(url)
        if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
            raise ToolError(f"refused {url!r}: only http:// and https:// URLs can be fetched")
        try:
            async with asyncio.timeout(ctx.fetch_timeout_s):
                status, content_type, body, cut, final_url = await _get(url, ctx)
        except TimeoutError:
            raise ToolError(f"fetching {url} timed out after {ctx.fetch_timeout_s:g} s") from None
        except httpx2.TooManyRedirects:
            raise ToolError(f"fetching {url} failed: more than {MAX_REDIRECTS} redirects") from None
        except httpx2.HTTPError as exc:
            detail = str(exc) or type(exc).__name__
            raise ToolError(f"fetching {url} failed: {type(exc).__name__}: {detail}") from None
        head = [f"status: {status}", f"content-type: {content_type or 'unknown'}"]
        if final_url != url:
            head.append(f"url: {final_url}")
        if cut:
            head.append(f"[body cut at {ctx.fetch_max_bytes} bytes]")
        if not _is_text(content_type):
            text = f"(binary content, {len(body)} bytes, not shown)"
        else:
            text = body
            if "html" in content_type.lower():
                text = html_to_text(text)
            text, capped = _cap_text(text, ctx.output_cap_bytes)
            if capped:
                head.append(f"[text cut at {ctx.output_cap_bytes} bytes]")
        return ToolResult(
            "\n".join(head) + "\n\n" + text,
            is_error=status >= 400,
            data={"status": status, "url": final_url},
        )


async def _get(url: str, ctx: ToolContext) -> tuple[int, str, str, bool, str]:
    """GET `url`, reading at most `fetch_max_bytes` of the (decoded) body."""
    timeout = httpx2.Timeout(ctx.fetch_timeout_s)
    headers = {"user-agent": "delegate-web-fetch/0.1", "accept": "text/html,text/*;q=0.9,*/*;q=0.5"}
    async with (
        httpx2.AsyncClient(
            timeout=timeout, follow_redirects=True, max_redirects=MAX_REDIRECTS, headers=headers
        ) as client,
        client.stream("GET", url) as response,
    ):
        chunks: list[bytes] = []
        size = 0
        cut = False
        async for chunk in response.aiter_bytes():
            room = ctx.fetch_max_bytes - size
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
        return response.status_code, content_type, text, cut, str(response.url)
