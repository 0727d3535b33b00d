"""Secrets never stored: every text that enters a conversation, the bus, the store or an
export is scrubbed of the API key and of the values of the process's secret-looking
environment variables, each replaced by `[redacted]`.

What counts as a secret: the key(s) the session talks to the model with, plus the value
of every environment variable whose NAME looks secret (`*_KEY`, `*_TOKEN`, `*_SECRET`,
`*PASSWORD*`, `*_PASS`, `*CREDENTIAL*`, `AWS_*`, `SSH_AUTH_SOCK`, ...). Values shorter
than `MIN_SECRET_LEN` characters are ignored: redacting a `DEBUG_TOKEN=1` would blank
every "1" in every transcript. Each value is also matched in its JSON-escaped and
URL-encoded forms (cheap: one more alternative each); base64 and other encodings, and a
fragment of a secret cut at a truncation boundary, are out of scope.

One process-wide `Redactor` (`current()`), rebuilt by `configure()` when a session
starts: the store, the exports and the log records use the same one as the agents.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import re
import urllib.parse
from collections.abc import Iterable, Mapping
from typing import Any, TypeVar

T = TypeVar("T")
E = TypeVar("E")

PLACEHOLDER = "[redacted]"
MIN_SECRET_LEN = 8

# Names whose values are secrets. Upper-cased before matching.
_SECRET_NAME = re.compile(
    r"(?:_KEY|_KEYS|_TOKEN|_TOKENS|_SECRET|_SECRETS|_PASS|_PASSWD|_PWD|_PAT|_DSN|_AUTH)$"
    r"|PASSWORD|PASSWD|PASSPHRASE|CREDENTIAL|SECRET|PRIVATE_KEY|API_KEY|ACCESS_KEY|AUTH_TOKEN"
    r"|^AWS_|^AZURE_|^GOOGLE_APPLICATION|^GITHUB_TOKEN$|^GH_TOKEN$|^SSH_AUTH_SOCK$"
    r"|^DATABASE_URL$|^REDIS_URL$|^MONGO(?:DB)?_URI$|^SENTRY_DSN$|^NPM_CONFIG__AUTH"
)
# Names that hold settings or paths to files, not secrets (AWS_REGION, AWS_CA_BUNDLE...).
_NOT_SECRET_NAME = re.compile(
    r"_REGION$|_PROFILE$|_DEFAULT_OUTPUT$|_PAGER$|_CA_BUNDLE$|_FILE$|_PATH$|_DIR$"
)


def is_secret_name(name: str) -> bool:
    upper = name.upper()
    return bool(_SECRET_NAME.search(upper)) and not _NOT_SECRET_NAME.search(upper)


def secret_env_values(env: Mapping[str, str]) -> list[str]:
    """The values of the secret-looking variables of `env` (long enough to matter)."""
    return [value for name, value in env.items() if is_secret_name(name)]


def _variants(value: str) -> set[str]:
    """The value as it may appear: raw, JSON-escaped (both ASCII modes), URL-encoded."""
    forms = {value}
    forms.add(json.dumps(value, ensure_ascii=False)[1:-1])
    forms.add(json.dumps(value, ensure_ascii=True)[1:-1])
    forms.add(urllib.parse.quote(value, safe=""))
    forms.add(urllib.parse.quote_plus(value, safe=""))
    return forms


class Redactor:
    """Replaces known secret values in text; `redact` costs one regex search when clean."""

    def __init__(self, values: Iterable[str] = ()) -> None:
        raw = {
            v
            for v in (str(x).strip() for x in values if x)
            if len(v) >= MIN_SECRET_LEN and v not in PLACEHOLDER
        }
        self.values: tuple[str, ...] = tuple(sorted(raw, key=len, reverse=True))
        forms = {f for v in raw for f in _variants(v) if len(f) >= MIN_SECRET_LEN}
        ordered = sorted(forms, key=len, reverse=True)  # longest first: a key, not its prefix
        self._pattern = re.compile("|".join(map(re.escape, ordered))) if ordered else None
        # For streams: the first characters of each secret, and the longest one.
        self._by_first: dict[str, tuple[str, ...]] = {}
        for v in self.values:
            self._by_first[v[0]] = (*self._by_first.get(v[0], ()), v)
        self._longest = max((len(v) for v in self.values), default=0)

    def __bool__(self) -> bool:
        return self._pattern is not None

    def redact(self, text: str) -> str:
        pattern = self._pattern
        if pattern is None or not text or pattern.search(text) is None:
            return text
        return pattern.sub(PLACEHOLDER, text)

    def partial_tail(self, text: str) -> int:
        """Length of the longest end of `text` that is the start of a secret (0 if none):
        what a stream must hold back until the next chunk says whether it completes one."""
        if not self._by_first:
            return 0
        start = max(0, len(text) - self._longest + 1)
        for i in range(start, len(text)):
            candidates = self._by_first.get(text[i])
            if candidates:
                tail = text[i:]
                if any(v.startswith(tail) for v in candidates):
                    return len(text) - i
        return 0

    def cut(self, text: str, limit: int) -> str:
        """`text` redacted and cut to `limit` characters, without leaving the start of a
        secret dangling at the cut (a long enough start is replaced too)."""
        text = self.redact(text)
        if len(text) <= limit:
            return text
        head = text[:limit]
        partial = self.partial_tail(head)
        if partial >= MIN_SECRET_LEN:
            head = head[: limit - partial] + PLACEHOLDER
        return head

    def deep(self, value: T) -> T:
        """`value` with every string inside it (dicts, lists, tuples) redacted; the same
        object when nothing changed, so clean data costs no copies."""
        if self._pattern is None:
            return value
        return self._deep(value)  # type: ignore[no-any-return]

    def _deep(self, value: Any) -> Any:
        if isinstance(value, str):
            return self.redact(value)
        if isinstance(value, dict):
            changed = {}
            for k, v in value.items():
                new = self._deep(v)
                if new is not v:
                    changed[k] = new
            return {**value, **changed} if changed else value
        if isinstance(value, list | tuple):
            items = [self._deep(v) for v in value]
            if any(a is not b for a, b in zip(items, value, strict=True)):
                return type(value)(items) if isinstance(value, tuple) else items
            return value
        return value

    def event(self, event: E) -> E:
        """An event with its text fields redacted (the same event when clean)."""
        if self._pattern is None:
            return event
        try:
            fields = vars(event)
        except TypeError:
            return event
        changed = {}
        for name, value in fields.items():
            if isinstance(value, str | dict | list | tuple):
                new = self._deep(value)
                if new is not value:
                    changed[name] = new
        return dataclasses.replace(event, **changed) if changed else event  # type: ignore[type-var]


class StreamRedactor:
    """Redacts a text stream chunk by chunk: a chunk's end that could be the start of a
    secret is held back until the next chunk (or `flush`) decides, so a key split across
    two deltas is still caught. Clean text passes through at once."""

    def __init__(self, redactor: Redactor) -> None:
        self.redactor = redactor
        self.held = ""

    def feed(self, text: str) -> str:
        if not self.redactor:
            return text
        buf = self.redactor.redact(self.held + text)
        keep = self.redactor.partial_tail(buf)
        if keep:
            self.held = buf[-keep:]
            return buf[:-keep]
        self.held = ""
        return buf

    def flush(self) -> str:
        out, self.held = self.held, ""
        return out

    def reset(self) -> None:
        self.held = ""


_current = Redactor()
_configured = False


def current() -> Redactor:
    """The process's redactor (built from the environment on first use)."""
    global _current, _configured
    if not _configured:
        configure()
    return _current


def configure(extra: Iterable[str | None] = (), env: Mapping[str, str] | None = None) -> Redactor:
    """Rebuild the process's redactor from `env` (default: os.environ) and `extra` keys."""
    global _current, _configured
    env = os.environ if env is None else env
    values = [*secret_env_values(env), *(v for v in extra if v)]
    _current = Redactor(values)
    _configured = True
    _install_log_scrubbing()
    return _current


_log_factory_installed = False


def _install_log_scrubbing() -> None:
    """Every log record's message (and traceback text) goes through `current()`."""
    global _log_factory_installed
    if _log_factory_installed:
        return
    base = logging.getLogRecordFactory()

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = base(*args, **kwargs)
        redactor = _current
        if redactor:
            try:
                message = record.getMessage()
            except Exception:
                return record
            clean = redactor.redact(message)
            if clean is not message:
                record.msg, record.args = clean, None
            if record.exc_info and record.exc_info[0] is not None:
                text = logging.Formatter().formatException(record.exc_info)
                record.exc_text = redactor.redact(text)
        return record

    logging.setLogRecordFactory(factory)
    _log_factory_installed = True
