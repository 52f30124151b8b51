"""Server-side request forgery: which callback URLs the service may call.

A URL is admitted when it is ``https`` and every address its host resolves to
is public. Plain ``http`` and loopback addresses are admitted only when the
development setting allows them. The addresses checked are the ones the
connection then goes to (see ``transport``), and the check is made again at
every attempt: a name that later resolves elsewhere is caught then.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import SplitResult, urlsplit

from sceau.webhooks.errors import CallbackUrlRefused

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
# (host, port) -> the addresses the host resolves to; raises OSError when it
# does not resolve. Injected by tests to make a name resolve where they want.
Resolver = Callable[[str, int], list[str]]

MAX_URL_LENGTH = 2048
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")


def system_resolver(host: str, port: int) -> list[str]:
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


@dataclass(frozen=True)
class Destination:
    """A URL that passed the check, with the addresses that may be dialled."""

    url: str
    scheme: str
    host: str  # as in the URL, lower case, IDNA-encoded, without brackets
    port: int
    path: str  # path and query, as sent in the request line
    addresses: tuple[IPAddress, ...]

    @property
    def host_header(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        default = 443 if self.scheme == "https" else 80
        return host if self.port == default else f"{host}:{self.port}"

    @property
    def is_ip_literal(self) -> bool:
        return _parse_ip(self.host) is not None


def is_public(address: IPAddress) -> bool:
    """True for an address on the public Internet, IPv6 equivalents included."""
    if isinstance(address, ipaddress.IPv6Address):
        # Addresses that embed an IPv4 address are as public as that address.
        if address.ipv4_mapped is not None:
            return is_public(address.ipv4_mapped)
        if address.sixtofour is not None:
            return is_public(address.sixtofour)
        if address.teredo is not None:
            return False
        if address in _NAT64:
            return is_public(ipaddress.IPv4Address(int(address) & 0xFFFFFFFF))
    return address.is_global and not (
        address.is_multicast
        or address.is_reserved
        or address.is_unspecified
        or address.is_loopback
        or address.is_link_local
        or address.is_private
    )


def parse_callback_url(url: str, *, allow_http_loopback: bool) -> SplitResult:
    """The checks that need no resolution: form, scheme, credentials."""
    refused = _refused
    if len(url) > MAX_URL_LENGTH:
        raise refused(f"l'adresse dépasse {MAX_URL_LENGTH} caractères")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise refused("l'adresse est mal formée") from None
    scheme = parts.scheme.lower()
    if scheme not in ("https", "http"):
        raise refused("seules les adresses https:// sont admises")
    if scheme == "http" and not allow_http_loopback:
        raise refused("seules les adresses https:// sont admises")
    if parts.username is not None or parts.password is not None:
        raise refused("l'adresse ne doit pas contenir d'identifiants")
    if not parts.hostname:
        raise refused("l'adresse n'a pas de nom d'hôte")
    if port == 0:
        raise refused("le port 0 n'est pas admis")
    return parts


def check_url(
    url: str,
    *,
    allow_http_loopback: bool,
    resolver: Resolver = system_resolver,
    require_resolution: bool = True,
) -> Destination:
    """The destination ``url`` may be called at, or ``CallbackUrlRefused``.

    At request time (``require_resolution=False``) a name that does not resolve
    is admitted: it cannot be shown hostile, and each attempt checks it again.
    """
    refused = _refused
    parts = parse_callback_url(url, allow_http_loopback=allow_http_loopback)
    scheme = parts.scheme.lower()
    port = parts.port or (443 if scheme == "https" else 80)
    host = _ascii_host(parts.hostname or "", refused)

    literal = _parse_ip(host)
    if literal is not None:
        addresses: list[IPAddress] = [literal]
    else:
        try:
            addresses = [ipaddress.ip_address(a) for a in resolver(host, port)]
        except (OSError, UnicodeError, ValueError):
            addresses = []
        if not addresses and require_resolution:
            raise refused(f"le nom {host} ne se résout pas")

    for address in addresses:
        if is_public(address):
            continue
        if allow_http_loopback and _is_loopback(address):
            continue
        raise refused(
            f"{host} mène à une adresse non publique ({address}) : boucle locale, "
            "réseau privé, lien local, CGNAT, multidiffusion ou métadonnées"
        )
    if scheme == "http" and not all(_is_loopback(a) for a in addresses):
        raise refused("seules les adresses https:// sont admises")

    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    return Destination(url, scheme, host, port, path, tuple(addresses))


def _is_loopback(address: IPAddress) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        return address.ipv4_mapped.is_loopback
    return address.is_loopback


def _parse_ip(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


def _ascii_host(hostname: str, refused: Callable[[str], CallbackUrlRefused]) -> str:
    host = hostname.lower().rstrip(".")
    if _parse_ip(host) is not None:
        return host
    try:
        encoded = host.encode("idna").decode("ascii")
    except UnicodeError:
        raise refused("le nom d'hôte est invalide") from None
    # Forms such as 2130706433 or 0x7f.1 are addresses to some resolvers.
    if encoded.replace(".", "").isdigit() or encoded.startswith("0x"):
        raise refused("le nom d'hôte ressemble à une adresse IP non standard")
    return encoded


def _refused(reason: str) -> CallbackUrlRefused:
    return CallbackUrlRefused(f"callback_url refusée : {reason}.")
