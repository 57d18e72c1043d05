"""Where a recorded vendor's calls go, and how far its answers can be trusted: endpoint classes.

Vendor-neutral: each adapter names its vendor's own hosts (a regular expression, ``vendor_host``);
everything else is the same for any service reached over HTTP. A recording's session lines say
where their answers came from, and a report says the least trustworthy of them
(:func:`least_trusted`): one emulated session makes a recording not the vendor's.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable, Mapping
from urllib.parse import urlsplit

__all__ = [
    "ENDPOINT_CLASSES",
    "LOOPBACK_HOSTS",
    "classify",
    "endpoint_class",
    "is_loopback",
    "least_trusted",
    "private_host",
    "route",
    "session_class",
]

# Endpoint classes, most trustworthy first: where a recording's answers came from.
ENDPOINT_CLASSES = ("vendor", "emulator", "loopback", "other")
# Hosts a replay may still reach (pytest-recording's socket guard lets them through): this machine only.
LOOPBACK_HOSTS = [r"127\.\d+\.\d+\.\d+$", r"localhost$", r"::1$"]


def is_loopback(url: str) -> bool:
    """Whether ``url``'s host is this machine (``localhost``, ``127.x.y.z``, ``::1``)."""
    host = urlsplit(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def private_host(host: str) -> bool:
    """Whether ``host`` is an address of a private, loopback or link-local network (a name is not)."""
    try:
        address = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return address.is_private or address.is_loopback or address.is_link_local


def route(endpoint: str, proxy: object) -> str:
    """How requests to ``endpoint`` leave: the endpoint itself, or it and the non-loopback proxy they go through.

    A loopback proxy keeps them on this machine (it reaches the endpoint from here); a loopback endpoint
    behind a relay that forwards elsewhere (an SSH tunnel, a signing proxy) cannot be seen from the client:
    the user's own set-up, said in the threat model, and the report labels such an endpoint "could be a relay".
    """
    if not proxy or is_loopback(str(proxy)):
        return endpoint
    return f"{endpoint} through the proxy {proxy}"


def endpoint_class(
    url: str, *, vendor_host: str, emulator: bool = False, proxy: str | None = None, own_trust: bool = False
) -> str:
    """Which kind of endpoint ``url`` is: ``vendor``, ``emulator``, ``loopback`` or ``other``.

    ``vendor``: the vendor's public endpoint (a host ``vendor_host`` matches whole) over HTTPS, its
    certificate checked against the public certificate authorities. ``emulator``: the kit's own
    emulator (its answers prove it, see :mod:`conformance.recording.proof`; it listens on loopback
    only). ``loopback``: any other endpoint on a loopback or private address (a mock, a proxy, a
    stand-in). ``other``: anything else.

    ``proxy`` is the proxy the calls went through (``HTTPS_PROXY``), ``own_trust`` whether TLS was
    checked against a certificate bundle of the user's (``AWS_CA_BUNDLE``, ``ca_bundle``) or not at
    all: a proxy that the client trusts to speak for the vendor's host can answer in its place, so such
    answers are not the vendor's but the proxy's class (loopback or other). An emulator reached
    through a proxy is the proxy's class too (plain HTTP: the proxy sees and can change every answer).
    """
    try:
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
        scheme = parts.scheme.lower()
    except ValueError:
        return "other"
    local = is_loopback(url) or private_host(host)
    via = (
        None
        if not proxy
        else ("loopback" if is_loopback(proxy) or private_host(urlsplit(proxy).hostname or "") else "other")
    )
    if emulator and is_loopback(url):
        return via or "emulator"
    if scheme == "https" and re.fullmatch(vendor_host, host):
        if own_trust:
            return via or "other"  # anyone holding that bundle's key can answer as the vendor's host
        return "vendor"  # a proxy relays TLS it cannot read: the answers are still the vendor's
    return "loopback" if local else "other"


def classify(session: Mapping[str, object], *, vendor_host: str) -> str:
    """The endpoint class of a session line: its endpoint, emulator proof, proxy and TLS trust."""
    proxy = session.get("proxy")
    return endpoint_class(
        str(session.get("endpoint", "")),
        vendor_host=vendor_host,
        emulator=bool(session.get("emulator")),
        proxy=str(proxy) if proxy else None,
        own_trust=bool(session.get("ca_bundle")) or session.get("tls_verified") is False,
    )


def session_class(session: Mapping[str, object], *, vendor_host: str) -> str:
    """A recorded session's endpoint class: as it says, or worked out from what older sessions said."""
    named = session.get("endpoint_class")
    if named in ENDPOINT_CLASSES:
        return str(named)
    return classify(session, vendor_host=vendor_host)


def least_trusted(classes: Iterable[str]) -> str | None:
    """The least trustworthy of ``classes`` (None when there is none of the known ones)."""
    found = set(classes)
    return next((kind for kind in reversed(ENDPOINT_CLASSES) if kind in found), None)
