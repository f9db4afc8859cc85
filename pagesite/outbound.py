"""The one way out to an address a person typed: a webhook URL, a Mastodon instance, a Bluesky service,
a Nostr relay (``websocket``).

Such an address may name this machine or the network behind it (a database,
an admin page, a cloud's metadata service at 169.254.169.254), so pagesite
resolves the name itself, checks every address it got and connects only to
an address it checked, at the moment of connecting: a name that resolves to a
public address first and to 127.0.0.1 later (DNS rebinding) gains nothing, and
a redirect, followed or not, is a new connection checked the same way.
Addresses that are not public are refused unless
``PAGESITE_ALLOWED_PRIVATE_ADDRESSES`` lists their range.

Every answer is read whole, at most ``MAX_ANSWER_BYTES``, within one total
time for the whole exchange: a server that never stops sending, or sends a
byte a second, is cut off rather than holding a worker. ``json_of`` and
``fields`` turn an answer that is not the API asked for (a web page, cut-off
or wrongly typed JSON) into ``Unusable``, which providers put in words.
"""

import contextvars
import ipaddress
import json
import re
import socket
import time
from functools import lru_cache

import httpcore
import httpx

from .config import MB, allowed_private_addresses

SETTING = "PAGESITE_ALLOWED_PRIVATE_ADDRESSES"
MAX_ANSWER_BYTES = 1 * MB  # API answers are a few kB; more is a server that does not stop
SHORT_EXCERPT = 200  # characters of a foreign server's body quoted in a connect error

PRIVATE_NETWORKS = tuple(ipaddress.ip_network(n) for n in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16",
                                                           "fc00::/7"))
SHARED_NETWORK = ipaddress.ip_network("100.64.0.0/10")  # carrier-grade NAT (RFC 6598)
NAT64_NETWORK = ipaddress.ip_network("64:ff9b::/96")  # IPv4 addresses reached through NAT64 (RFC 6052)
METADATA_ADDRESSES = {ipaddress.ip_address("169.254.169.254"), ipaddress.ip_address("fd00:ec2::254")}


class Refused(Exception):
    """An address pagesite does not connect to; the message names it and the setting that allows it."""


class Unusable(Exception):
    """The peer answered, but not with what was asked for. ``what`` names what came instead, to follow
    "answered with": "a web page", "an empty body", "JSON where id is a number, not text"."""

    def __init__(self, what):
        super().__init__(what)
        self.what = what


class Overtime(httpx.TimeoutException):
    """The whole exchange took longer than its total time (``total`` seconds): a timeout, however
    quickly each byte came, as from a server that sends its answer a byte a second."""

    def __init__(self, total):
        super().__init__(f"The exchange took longer than {total:g} s in all.")
        self.total = total


# -- which addresses ---------------------------------------------------------------------------


def _plain(ip):
    """The IPv4 address inside an IPv6 one that only carries it (::ffff:a.b.c.d, NAT64, 6to4)."""
    if ip.version == 6:
        if ip.ipv4_mapped:
            return ip.ipv4_mapped
        if ip in NAT64_NETWORK:
            return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
        if ip.sixtofour:
            return ip.sixtofour
    return ip


def _kind(ip):
    """What a non-public address is, in words ("on this machine"); None for a public one."""
    if ip.is_unspecified:
        return "the unspecified address"
    if ip.is_loopback:
        return "on this machine"
    if ip in METADATA_ADDRESSES:
        return "the cloud metadata service"
    if ip.is_link_local:
        return "a link-local address"
    if ip.is_multicast:
        return "a multicast address"
    if ip in SHARED_NETWORK:
        return "on a carrier-grade NAT network"
    if any(ip in network for network in PRIVATE_NETWORKS):
        return "on a private network"
    if ip.is_reserved or not ip.is_global:
        return "reserved, not a public address"
    return None


def refusal(address, allowed=()):
    """Why pagesite does not connect to ``address`` (an IP address as text), or None when it may.

    Public addresses may; any other only when one of the ``allowed`` ranges holds it.
    Never connects: this is the whole rule, checked on each address before connecting."""
    ip = _plain(ipaddress.ip_address(address))
    if any(ip in network for network in allowed):
        return None
    kind = _kind(ip)
    return f"is {kind} ({ip})" if kind else None


def refused_message(host, reason):
    subject = "That address" if _is_literal(host) else host
    return (f"{subject} {reason}; pagesite connects only to public addresses unless an operator allows "
            f"this one with {SETTING}.")


def _is_literal(host):
    try:
        ipaddress.ip_address(host.split("%")[0])
    except ValueError:
        return False
    return True


def resolve(host, port):
    """Every address ``host`` names: [(family, address, port)]. The one place names are resolved
    (tests replace it to stage a name that changes its answer)."""
    return [(family, sockaddr[0], sockaddr[1])
            for family, _, _, _, sockaddr in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)]


# -- the exchange's total time ------------------------------------------------------------------

_deadline = contextvars.ContextVar("outbound_deadline", default=None)  # (monotonic end, total seconds)


def _time_left(timeout):
    """``timeout`` for one socket operation, shortened to what is left of the exchange's total time."""
    limit = _deadline.get()
    if limit is None:
        return timeout
    left = limit[0] - time.monotonic()
    if left <= 0:
        raise Overtime(limit[1])
    return left if timeout is None else min(timeout, left)


class _TimedStream(httpcore.NetworkStream):
    """A connection whose every read and write keeps to the exchange's total time."""

    def __init__(self, stream):
        self._stream = stream

    def read(self, max_bytes, timeout=None):
        try:
            return self._stream.read(max_bytes, _time_left(timeout))
        except httpcore.TimeoutException:
            _time_left(None)  # Overtime when it was the total time that ran out
            raise

    def write(self, buffer, timeout=None):
        try:
            return self._stream.write(buffer, _time_left(timeout))
        except httpcore.TimeoutException:
            _time_left(None)
            raise

    def close(self):
        self._stream.close()

    def start_tls(self, ssl_context, server_hostname=None, timeout=None):
        # The certificate is checked against the name (SNI), not the address connected to.
        return _TimedStream(self._stream.start_tls(ssl_context, server_hostname, _time_left(timeout)))

    def get_extra_info(self, info):
        return self._stream.get_extra_info(info)


class _CheckedBackend(httpcore.SyncBackend):
    """Opens a connection only to an address ``refusal`` passed, resolved here and nowhere else."""

    def connect_tcp(self, host, port, timeout=None, local_address=None, socket_options=None):
        try:
            addresses = resolve(host, port)
        except (socket.gaierror, UnicodeError) as e:
            raise httpcore.ConnectError(f"{host} was not found ({e})") from None
        stream = _first_checked(host, addresses, lambda address, address_port: super(_CheckedBackend, self)
                                .connect_tcp(address, address_port, _time_left(timeout), local_address, socket_options),
                                (httpcore.ConnectError, httpcore.ConnectTimeout))
        if stream is None:
            raise httpcore.ConnectError(f"{host} has no address")
        return _TimedStream(stream)


def _first_checked(host, addresses, connect, errors):
    """``connect(address, port)`` to the first of ``addresses`` that ``refusal`` passes and that answers;
    the last error when none answers, Refused when every one was refused, None when there were none."""
    allowed = allowed_private_addresses()
    refused, error = [], None
    for _family, address, address_port in addresses:
        reason = refusal(address, allowed)
        if reason:
            refused.append(reason)
            continue
        try:
            return connect(address, address_port)
        except errors as e:
            error = e  # the next address may answer
    if error is not None:
        raise error
    if refused:
        raise Refused(refused_message(host, refused[0]))
    return None


@lru_cache(maxsize=1)
def _ssl_context():
    """One context for every client (loading the CA certificates takes milliseconds); SSL_CERT_FILE is honoured."""
    return httpx.create_ssl_context()


class _CheckedTransport(httpx.HTTPTransport):
    """httpx's own transport, its connections opened by ``_CheckedBackend``, its answers capped."""

    def __init__(self, max_bytes):
        # No proxy: it would connect somewhere else than what was checked.
        super().__init__(verify=_ssl_context(), trust_env=False)
        self._pool = httpcore.ConnectionPool(ssl_context=_ssl_context(), network_backend=_CheckedBackend())
        self.max_bytes = max_bytes

    def handle_request(self, request):
        response = super().handle_request(request)
        encoding = response.headers.get("Content-Encoding", "identity").strip().lower()
        if encoding not in ("", "identity"):
            # Asked for none: compressed, a 1 MB answer could unpack to a thousand times that.
            response.close()
            raise Unusable(f"a compressed answer ({printable(encoding, 40)}) though none was asked for")
        response.stream = _CappedStream(response.stream, self.max_bytes)
        return response


class _CappedStream(httpx.SyncByteStream):
    def __init__(self, stream, max_bytes):
        self._stream, self.max_bytes = stream, max_bytes

    def __iter__(self):
        size = 0
        for chunk in self._stream:
            size += len(chunk)
            if size > self.max_bytes:
                raise Unusable(f"more than {_size(self.max_bytes)} without stopping")
            yield chunk

    def close(self):
        self._stream.close()


def _size(count):
    return f"{count / MB:g} MB" if count >= MB else f"{count:,} bytes"


class Client(httpx.Client):
    """An httpx client for addresses people typed: checked connections, no proxies, no redirects
    followed unless asked, and each answer read whole within ``max_bytes`` and ``total_seconds``
    (counted from the request's first byte to the answer's last, redirects included)."""

    def __init__(self, *, total_seconds, max_bytes=MAX_ANSWER_BYTES, headers=None, **kwargs):
        super().__init__(transport=_CheckedTransport(max_bytes), trust_env=False,
                         headers={"Accept-Encoding": "identity", **(headers or {})}, **kwargs)
        self.total_seconds = float(total_seconds)

    def send(self, request, *, stream=False, **kwargs):
        if stream:
            raise TypeError("answers to outbound requests are read whole, within their limits")
        limit = _deadline.set((time.monotonic() + self.total_seconds, self.total_seconds))
        try:
            return super().send(request, **kwargs)
        finally:
            _deadline.reset(limit)


def websocket(url, *, timeout, max_bytes=MAX_ANSWER_BYTES):
    """A WebSocket (``websockets``' sync client) to ``url``, ws:// or wss://, over a connection opened
    only to an address ``refusal`` passed, like every request here; no proxy. Each message is at
    most ``max_bytes``. Refused, OSError or websockets' errors otherwise."""
    from urllib.parse import urlsplit

    from websockets.sync.client import connect

    parts = urlsplit(url)
    if parts.scheme not in ("ws", "wss") or not parts.hostname:
        raise ValueError("a WebSocket address starts with ws:// or wss://")
    host, port = parts.hostname, parts.port or (443 if parts.scheme == "wss" else 80)
    try:
        addresses = resolve(host, port)
    except (socket.gaierror, UnicodeError) as e:
        raise ConnectionError(f"{host} was not found ({e})") from None
    sock = _first_checked(host, addresses, lambda address, address_port: socket.create_connection(
        (address, address_port), timeout=timeout), OSError)
    if sock is None:
        raise ConnectionError(f"{host} has no address")
    try:
        return connect(url, sock=sock, ssl=_ssl_context() if parts.scheme == "wss" else None,
                       server_hostname=host if parts.scheme == "wss" else None, open_timeout=timeout,
                       close_timeout=min(timeout, 2), max_size=max_bytes, proxy=None, user_agent_header="pagesite")
    except BaseException:
        sock.close()
        raise


# -- reading answers ---------------------------------------------------------------------------


def printable(text, limit=SHORT_EXCERPT):
    """``text`` fit to quote in a message: whitespace runs as one space, other invisible or control
    characters escaped (``\\x1b``, ``\\u202e``), at most ``limit`` characters."""
    text = " ".join(str(text).split())
    text = "".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii") for c in text)
    return text if len(text) <= limit else text[:limit - 1] + "…"


TITLE = re.compile(r"<title[^>]*>(.*?)</title", re.IGNORECASE | re.DOTALL)


def _is_web_page(response):
    kind = response.headers.get("Content-Type", "").split(";")[0].strip().lower()
    return kind in ("text/html", "application/xhtml+xml") or response.content.lstrip()[:1] == b"<"


def described(response):
    """The answer as a noun phrase: "a web page (“502 Bad Gateway”)", "an empty body"..."""
    if not response.content.strip():
        return "an empty body"
    if _is_web_page(response):
        title = TITLE.search(response.text)
        return f"a web page (“{printable(title.group(1), 80)}”)" if title and title.group(1).strip() else "a web page"
    return f"“{printable(response.text, 80)}”"


def excerpt(response, limit=SHORT_EXCERPT):
    """A foreign server's body for an error message: a web page by its title, other text cut short and escaped."""
    if not response.content.strip():
        return "(empty body)"
    if _is_web_page(response):
        return described(response)
    return printable(response.text, limit)


def json_of(response):
    """The answer's JSON value; Unusable saying what came instead."""
    body = response.content
    if not body.strip():
        raise Unusable("an empty body")
    if _is_web_page(response):
        raise Unusable(described(response))
    try:
        return json.loads(body)
    except (ValueError, RecursionError):
        if body.lstrip()[:1] in (b"{", b"["):
            raise Unusable("JSON that is cut off or broken") from None
        raise Unusable(f"text that is not JSON ({described(response)})") from None


def json_or_none(response):
    """The answer's JSON object, or None when it is not one (for reading an error's name)."""
    try:
        value = json.loads(response.content)
    except (ValueError, RecursionError):
        return None
    return value if isinstance(value, dict) else None


KINDS = {str: "text", int: "a number", float: "a number", bool: "true or false", dict: "an object",
         list: "a list"}


def _is(value, kind):
    if kind in (int, float):
        return isinstance(value, (int, float) if kind is float else int) and not isinstance(value, bool)
    return isinstance(value, kind)


def _what(value):
    if value is None:
        return "null"
    return next(words for kind, words in KINDS.items() if _is(value, kind))


def expect(value, kind, name):
    """``value`` when it is a ``kind`` (str, int, dict, list...); Unusable naming ``name`` otherwise."""
    if not _is(value, kind):
        raise Unusable(f"JSON where {name} is {_what(value)}, not {KINDS[kind]}")
    return value


def fields(answer, /, **kinds):
    """``answer`` when it is an object whose fields have the ``kinds`` given (``id=str``); Unusable
    otherwise, naming the first field that is missing or of another type."""
    if not isinstance(answer, dict):
        raise Unusable(f"JSON that is {_what(answer)}, not an object")
    for name, kind in kinds.items():
        if name not in answer:
            error = answer.get("error")
            if isinstance(error, (str, dict)):  # an error, although the status said success
                detail = error if isinstance(error, str) else error.get("message") or ""
                message = answer.get("message") or answer.get("error_description")
                detail = f"{detail}: {message}" if isinstance(message, str) else detail
                raise Unusable(f"an error in a success answer ({printable(detail, 120)})")
            raise Unusable(f"JSON without {name}")
        expect(answer[name], kind, name)
    return answer


def text_or_none(value):
    """``value`` when it is text, else None: for what is only shown (a display name, an avatar)."""
    return value if isinstance(value, str) else None


def split(url):
    """``urlsplit(url)``, or None for an address it cannot split ("http://[", a port that is no number)."""
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 (raises for a port that is not a number from 0 to 65535)
    except ValueError:
        return None
    return parts


def origin(url):
    """``scheme://host[:port]`` of ``url``: how an answer's sender is named in a message."""
    url = httpx.URL(str(url))
    return f"{url.scheme}://{url.netloc.decode('ascii')}"
