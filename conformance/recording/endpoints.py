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

from ..errors import ConformanceError

__all__ = [
    "ENDPOINT_CLASSES",
    "LOOPBACK_HOSTS",
    "AmbiguousURL",
    "classify",
    "endpoint_class",
    "is_loopback",
    "least_trusted",
    "private_host",
    "route",
    "sent_to",
    "session_class",
    "unambiguous",
]

# Endpoint classes, most trustworthy first: where a recording's answers came from.
ENDPOINT_CLASSES = ("vendor", "emulator", "loopback", "other")
# Hosts a replay may still reach (pytest-recording's socket guard lets them through): this machine only.
LOOPBACK_HOSTS = [r"127\.\d+\.\d+\.\d+$", r"localhost$", r"::1$"]


class AmbiguousURL(ConformanceError):
    """An endpoint or proxy URL whose host the kit cannot be sure of: it names the variable that set it."""


def sent_to(url: str) -> tuple[str, str, int | None]:
    """``(scheme, host, port)`` of ``url`` as urllib3 reads it: where botocore's requests really go.

    botocore connects with urllib3, whose parser ends the authority at the first ``/``, ``?``, ``#`` or
    ``\\``; Python's ``urlsplit`` takes the host after the last ``@``. They disagree on URLs such as
    ``http://192.0.2.2:18790\\@127.0.0.1:1`` (red team 17c): classifying by urlsplit called a remote host
    loopback. The host comes lower-cased, without IPv6 brackets; ``("", "", None)`` when it does not parse.
    """
    from urllib3.exceptions import LocationParseError
    from urllib3.util import parse_url

    try:
        parts = parse_url(url)
    except (LocationParseError, ValueError):
        return "", "", None
    return (parts.scheme or "").lower(), (parts.host or "").lower().removeprefix("[").removesuffix("]"), parts.port


def _split(url: str) -> tuple[str, str, int | None, bool]:
    """``(scheme, host, port, has userinfo)`` as Python's urlsplit reads ``url`` (ValueError if it cannot)."""
    parts = urlsplit(url)
    return parts.scheme.lower(), (parts.hostname or "").lower(), parts.port, "@" in parts.netloc


def unambiguous(url: str, *, variable: str, credentials: bool = False) -> str:
    """``url`` if every reader of it names the same host; else :class:`AmbiguousURL` naming ``variable``.

    Refused: whitespace, control characters or a backslash anywhere; a user or password before the
    host (``credentials=True`` allows one ``user:password@``, a proxy's own login, when nothing else is
    wrong); and any URL that urllib3 (what sends) and urlsplit (what older code and readers use) read
    as different schemes, hosts or ports. Returns ``url`` unchanged.
    """
    scheme, host, port = sent_to(url)
    shown = f"{scheme or 'http'}://{url_host(host)}{'' if port is None else f':{port}'}" if host else "no host"
    why = ""
    if any(ch.isspace() or ord(ch) < 0x20 or ord(ch) == 0x7F for ch in url):
        why = "it holds whitespace or a control character"
    elif "\\" in url:
        why = "it holds a backslash"
    elif url.count("@") > (1 if credentials else 0):
        why = (
            "it holds an '@' (a user or password before the host, or one hidden in a path, query or fragment)"
            if not credentials
            else "it holds more than one '@'"
        )
    else:
        try:
            theirs = _split(url)
        except ValueError:
            theirs = ("", "", None, False)
        if not host or (theirs[0], theirs[1], theirs[2]) != (scheme, host, port):
            read = f"{theirs[0]}://{url_host(theirs[1])}{'' if theirs[2] is None else f':{theirs[2]}'}"
            why = f"Python's urlsplit reads its host as {read} but urllib3, which sends the requests, as {shown}"
    if why:
        raise AmbiguousURL(
            f"{variable} is not a plain URL: {why}. The kit cannot be sure which host the photos would go to "
            f"(urllib3, which sends them, reads {shown}), so it refuses to run: set {variable} to a plain "
            f"scheme://host:port URL{' (a proxy login as user:password@ is allowed)' if credentials else ''}, or "
            "unset it"
        )
    return url


def url_host(host: str) -> str:
    """``host`` as a URL writes it: an IPv6 address in brackets (``[::1]``), once; any other host as it is."""
    return f"[{host}]" if ":" in host and not host.startswith("[") else host


def is_loopback(url: str) -> bool:
    """Whether ``url``'s host, as urllib3 reads it (what sends), is this machine: ``localhost``, ``127.x.y.z``, ``::1``.

    Only those literal names count: ``127.1``, ``localhost.``, ``127.0.0.1.nip.io`` or an IPv4-mapped
    ``::ffff:127.0.0.1`` may well reach this machine too, but the kit does not resolve names to decide,
    so they are treated as leaving it (the live gate applies).
    """
    host = sent_to(url)[1]
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
    scheme, host, _ = sent_to(url)  # what urllib3 connects to, never what urlsplit reads (red team 17c)
    if not host:
        return "other"
    local = is_loopback(url) or private_host(host)
    via = None if not proxy else ("loopback" if is_loopback(proxy) or private_host(sent_to(proxy)[1]) else "other")
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
