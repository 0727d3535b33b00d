"""Which addresses web_fetch may connect to: public ones, unless the config allows more.

Refused by default: loopback, private (RFC 1918, unique-local), link-local, multicast,
unspecified, reserved, shared (carrier-grade NAT), site-local, and the cloud metadata
addresses (169.254.169.254, fd00:ec2::254, ...), also when written as IPv6 that carries
an IPv4 address (IPv4-mapped `::ffff:127.0.0.1`, NAT64, 6to4, Teredo).

`[tools.web_fetch]` in the config can open this up: `allow_private = true` allows every
address; `allow_hosts = [...]` allows the listed hosts (`name`, `name:port`, `*.suffix`,
an IP address, `[v6]:port`) whatever they resolve to, and listed networks (`10.0.0.0/8`).
No I/O here: resolving and connecting are in core.tools.web.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

METADATA_ADDRESSES = frozenset(
    ipaddress.ip_address(a)
    for a in (
        "169.254.169.254",  # AWS, GCP, Azure, OpenStack, DigitalOcean, ...
        "169.254.170.2",  # AWS ECS task credentials
        "fd00:ec2::254",  # AWS over IPv6
        "100.100.100.200",  # Alibaba Cloud
    )
)
_NAT64 = (ipaddress.ip_network("64:ff9b::/96"), ipaddress.ip_network("64:ff9b:1::/48"))
_NAME = re.compile(
    r"^(\*\.)?[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?(\.[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?)*$"
)


def address_problem(ip: IPAddress) -> str | None:
    """Why web_fetch must not connect to `ip` by default ('a loopback address', ...), or None
    for a public address."""
    if ip in METADATA_ADDRESSES:
        return "a cloud metadata address"
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.scope_id:
            ip = ipaddress.IPv6Address(ip.compressed.split("%", 1)[0])
        inner = _embedded_ipv4(ip)
        if inner is not None:
            problem = address_problem(inner)
            if problem:
                return f"{problem} ({inner}) written as IPv6"
            if ip.ipv4_mapped is not None:
                return None  # the connection goes to the (public) IPv4 address
    checks = (
        (ip.is_loopback, "a loopback address"),
        (ip.is_unspecified, "the unspecified address"),
        (ip.is_link_local, "a link-local address"),
        (ip.is_multicast, "a multicast address"),
        (ip.is_private, "a private address"),
        (ip.is_reserved, "a reserved address"),
        (isinstance(ip, ipaddress.IPv6Address) and ip.is_site_local, "a site-local address"),
        (not ip.is_global, "not a public address"),
    )
    for hit, why in checks:
        if hit:
            return why
    return None


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip.teredo is not None:
        return ip.teredo[1]
    if any(ip in net for net in _NAT64):
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


@dataclass(frozen=True)
class HostRule:
    name: str  # lowercased host name or IP literal; "*.example.com" for subdomains
    port: int | None  # None: any port

    def matches(self, host: str, port: int) -> bool:
        if self.port is not None and self.port != port:
            return False
        if self.name.startswith("*."):
            return host.endswith(self.name[1:])
        return host == self.name


@dataclass(frozen=True)
class Fence:
    """The rule for one fetch: which hosts and addresses it may reach."""

    allow_private: bool = False
    hosts: tuple[HostRule, ...] = ()
    networks: tuple[IPNetwork, ...] = ()

    @classmethod
    def from_config(cls, allow_private: bool, entries: tuple[str, ...]) -> Fence:
        hosts: list[HostRule] = []
        networks: list[IPNetwork] = []
        for entry in entries:
            rule = parse_allow_entry(entry)
            if isinstance(rule, HostRule):
                hosts.append(rule)
            else:
                networks.append(rule)
        return cls(allow_private, tuple(hosts), tuple(networks))

    def host_allowed(self, host: str, port: int) -> bool:
        """The host itself is listed: whatever it resolves to may be reached."""
        host = normalize_host(host)
        return self.allow_private or any(rule.matches(host, port) for rule in self.hosts)

    def refusal(self, ip: IPAddress) -> str | None:
        """Why `ip` may not be reached (for a host that is not listed), or None."""
        if self.allow_private:
            return None
        problem = address_problem(ip)
        if problem is None or any(ip in net for net in self.networks):
            return None
        return problem


def normalize_host(host: str) -> str:
    return host.strip().strip("[]").rstrip(".").lower()


def parse_allow_entry(entry: str) -> HostRule | IPNetwork:
    """One `allow_hosts` entry; ValueError with a one-line reason if it is not one."""
    text = entry.strip().lower()
    if not text:
        raise ValueError("an empty entry")
    if "/" in text:
        try:
            return ipaddress.ip_network(text, strict=False)
        except ValueError:
            raise ValueError(f"{entry!r} is not a network (like 10.0.0.0/8)") from None
    host, port = text, None
    if text.startswith("["):  # [v6] or [v6]:port
        close = text.find("]")
        if close < 0:
            raise ValueError(f"{entry!r}: missing ']'")
        host, rest = text[1:close], text[close + 1 :]
        if rest:
            if not rest.startswith(":"):
                raise ValueError(f"{entry!r}: expected [address]:port")
            port = _port(entry, rest[1:])
        _address(entry, host)
    elif text.count(":") == 1:
        host, raw_port = text.split(":")
        port = _port(entry, raw_port)
    if ":" in host:  # a bare IPv6 address
        _address(entry, host)
    elif not _is_ipv4(host) and not _NAME.match(host.rstrip(".")):
        raise ValueError(f"{entry!r} is not a host name, address or network")
    return HostRule(normalize_host(host), port)


def allow_entry_problem(entry: str) -> str | None:
    try:
        parse_allow_entry(entry)
    except ValueError as exc:
        return str(exc)
    return None


def _port(entry: str, raw: str) -> int:
    if not raw.isdigit() or not 0 < int(raw) < 65536:
        raise ValueError(f"{entry!r}: the port must be a number from 1 to 65535")
    return int(raw)


def _address(entry: str, host: str) -> None:
    try:
        ipaddress.IPv6Address(host)
    except ValueError:
        raise ValueError(f"{entry!r}: {host!r} is not an IPv6 address") from None


def _is_ipv4(host: str) -> bool:
    try:
        ipaddress.IPv4Address(host)
    except ValueError:
        return False
    return True
