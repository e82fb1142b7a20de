"""Which addresses articleqa may fetch on a user's behalf: the guard against SSRF.

Every URL, feed and feed entry is fetched through `GuardedTransport`. For each request
(the first and every redirect) it

1. refuses any scheme but http(s), and cloud-metadata host names;
2. resolves the host once (numeric forms such as ``0x7f000001``, ``2130706433`` and
   ``[::ffff:127.0.0.1]`` are read as the address they mean, not looked up);
3. refuses the request if *any* address is loopback, private (RFC 1918, fc00::/7),
   link-local, unspecified, multicast, a cloud-metadata address or otherwise not public,
   unless `FetchPolicy.allow` names the host or a network holding the address;
4. connects to the address it checked — the URL's host is swapped for that address, the
   ``Host`` header and TLS server name keep the original — so no second DNS lookup can
   send the connection elsewhere (DNS rebinding).

Hand-rolled on httpx's public transport API because no maintained library does this for a
synchronous httpx client (gradio's ``safehttpx`` is async only, pins one address for
every redirect and asks a public DNS-over-HTTPS service when the local lookup fails).
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable
from dataclasses import dataclass, field

import httpx

IP = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], list[str]]

# Cloud instance-metadata services: AWS, GCP, Azure, Oracle (169.254.169.254 and AWS's
# IPv6 fd00:ec2::254), AWS ECS task metadata (169.254.170.2), Alibaba (100.100.100.200).
METADATA_ADDRESSES = frozenset(
    ipaddress.ip_address(a) for a in ("169.254.169.254", "169.254.170.2", "fd00:ec2::254", "100.100.100.200")
)
METADATA_HOSTS = frozenset(
    {"metadata.google.internal", "metadata.goog", "metadata", "instance-data", "instance-data.ec2.internal"}
)
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
ALLOW_HINT = "allow it with --allow-fetch {what} (setting fetch_allow, env ARTICLEQA_FETCH_ALLOW)"


class FetchRefused(Exception):
    """A URL the fetch policy will not connect to; the message says why and how to allow it."""

    def __init__(self, url: str, reason: str):
        super().__init__(f"refused: {reason}")
        self.url, self.reason = url, reason


def system_resolver(host: str, port: int) -> list[str]:
    """Every address the system resolver gives for ``host`` (IPv4 and IPv6, in its order)."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def numeric_host(host: str) -> IP | None:
    """The address a host written as a number means, in every form a C resolver accepts:
    dotted, IPv6 (with or without brackets), and the legacy IPv4 forms ``0x7f000001``,
    ``2130706433``, ``0177.0.0.1`` and ``127.1``; None for a name."""
    h = host.strip("[]")
    try:
        return ipaddress.ip_address(h.split("%", 1)[0])  # fe80::1%eth0: the zone is not part of it
    except ValueError:
        pass
    if h and all(c in "0123456789abcdefxABCDEFX." for c in h):
        try:
            return ipaddress.IPv4Address(socket.inet_aton(h))
        except OSError:
            return None
    return None


def _embedded_v4(ip: IP) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 one carries (mapped, 6to4, NAT64), which is where it goes."""
    if not isinstance(ip, ipaddress.IPv6Address):
        return None
    if ip.ipv4_mapped:
        return ip.ipv4_mapped
    if ip.sixtofour:
        return ip.sixtofour
    if ip in _NAT64:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def blocked_kind(ip: IP) -> str | None:
    """What makes ``ip`` internal ("a loopback address", ...), or None for a public address."""
    inner = _embedded_v4(ip)
    if inner is not None:
        return blocked_kind(inner)
    if ip in METADATA_ADDRESSES:
        return "a cloud metadata address"
    for kind, test in (
        ("an unspecified address", ip.is_unspecified),
        ("a loopback address", ip.is_loopback),
        ("a link-local address", ip.is_link_local),
        ("a multicast address", ip.is_multicast),
        ("a private address", ip.is_private),
    ):
        if test:
            return kind
    if ip.is_reserved or not ip.is_global:  # 100.64/10 (carrier NAT), documentation ranges, ...
        return "not a public address"
    return None


@dataclass(frozen=True)
class FetchPolicy:
    """Where fetching may go: public addresses, plus the hosts and networks in ``allow``.

    An ``allow`` entry is a host name (``intranet.example``; ``*.corp.example`` for every
    host under it), or an address or network (``10.0.0.5``, ``10.1.0.0/16``,
    ``127.0.0.1``). A host allowed by name may resolve anywhere but a cloud-metadata
    address; an address is allowed when a listed network holds it.
    """

    allow: tuple[str, ...] = ()
    resolver: Resolver = field(default=system_resolver, compare=False)

    @classmethod
    def from_config(cls, cfg, resolver: Resolver | None = None) -> FetchPolicy:
        return cls(tuple(cfg.fetch_allow), resolver or system_resolver)

    @property
    def _networks(self) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
        nets = []
        for entry in self.allow:
            try:
                nets.append(ipaddress.ip_network(entry.strip("[]"), strict=False))
            except ValueError:
                continue
        return nets

    def _name_allowed(self, host: str) -> bool:
        host = host.lower().rstrip(".")
        for entry in (e.lower().rstrip(".") for e in self.allow):
            if entry.startswith("*.") and (host == entry[2:] or host.endswith(entry[1:])):
                return True
            if host == entry:
                return True
        return False

    def _net_allowed(self, ip: IP) -> bool:
        inner = _embedded_v4(ip)
        return any(ip in n or (inner is not None and inner in n) for n in self._networks)

    def addresses(self, url: httpx.URL | str) -> list[str]:
        """The checked addresses to connect to for ``url``; raises `FetchRefused`."""
        shown = str(url)
        try:
            url = httpx.URL(shown) if not isinstance(url, httpx.URL) else url
        except httpx.InvalidURL as e:  # e.g. "0177.0.0.1": httpx takes four parts as decimal
            raise FetchRefused(shown, f"not a valid URL ({e})") from e
        if url.scheme not in ("http", "https"):
            raise FetchRefused(shown, f"'{url.scheme}:' URLs are not fetched, only http(s)")
        host = url.host
        if not host:
            raise FetchRefused(shown, "the URL has no host")
        by_name = self._name_allowed(host)
        ip = numeric_host(host)
        if ip is None and host.lower().rstrip(".") in METADATA_HOSTS and not by_name:
            raise FetchRefused(shown, f"{host} is a cloud metadata host; {ALLOW_HINT.format(what=host)}")
        name = host.lower().rstrip(".")
        if ip is not None:
            found: list[IP] = [ip]
        elif name == "localhost" or name.endswith(".localhost"):  # RFC 6761: loopback, never looked up
            found = [ipaddress.ip_address("127.0.0.1")]
        else:
            try:
                found = [
                    ipaddress.ip_address(a.split("%", 1)[0]) for a in self.resolver(host, url.port or 443)
                ]
            except (OSError, UnicodeError) as e:
                raise httpx.ConnectError(f"cannot resolve host {host}: {e}") from e
            if not found:
                raise httpx.ConnectError(f"cannot resolve host {host}: no addresses")
        for a in found:
            kind = blocked_kind(a)
            if kind is None or self._net_allowed(a):
                continue
            if by_name and a not in METADATA_ADDRESSES:
                continue
            where = _embedded_v4(a) or a  # ::ffff:127.0.0.1 is said as the 127.0.0.1 it reaches
            if ip is None:
                named, what = f"{host} ({where})", host
            else:
                named = str(where) if host.strip("[]") == str(where) else f"{host} (= {where})"
                what = str(where)
            if where in METADATA_ADDRESSES:
                what = str(where)
            raise FetchRefused(shown, f"{named} is {kind}; {ALLOW_HINT.format(what=what)}")
        return [str(a) for a in found]


def _with_host(url: httpx.URL, address: str) -> httpx.URL:
    return url.copy_with(host=address)


class GuardedTransport(httpx.BaseTransport):
    """An httpx transport that checks each request against a `FetchPolicy` and connects to
    the address it checked (see the module docstring). Redirects come back through it."""

    def __init__(self, policy: FetchPolicy, inner: httpx.BaseTransport | None = None):
        self.policy = policy
        self.inner = inner or httpx.HTTPTransport()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        addresses = self.policy.addresses(request.url)
        last: Exception | None = None
        for address in addresses:  # in the resolver's order, as a browser would
            pinned = httpx.Request(
                request.method, _with_host(request.url, address), headers=request.headers,
                stream=request.stream, extensions={**request.extensions, "sni_hostname": request.url.host},
            )  # fmt: skip
            try:
                return self.inner.handle_request(pinned)
            except httpx.ConnectError as e:  # the next address, as getaddrinfo's callers do
                last = e
        assert last is not None
        raise last

    def close(self) -> None:
        self.inner.close()
