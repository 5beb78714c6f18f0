"""Fetching media from a URL a person gave, without letting the URL steer the
server into the network it sits in.

The server fetches from inside that network, so a URL could name a database,
an internal admin page or a cloud metadata service, directly or through a host
name whose DNS answer changes between a check and the connection (DNS
rebinding). Here the host is resolved once, every address it resolves to must
be globally routable, and the connection goes to a checked address and no
other: the request carries the original Host header and, over TLS, the
original name as SNI and as the name the certificate must be valid for.
Redirects are not followed, since each hop would need the same check. One
deadline covers the whole fetch, and the size cap holds while the body streams.
"""

from __future__ import annotations

import functools
import http.client
import io
import ipaddress
import queue
import re
import socket
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import quote, urljoin, urlsplit

from bots.posting.validation import MB

Resolver = Callable[[str, int], list[str]]
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

CHUNK_BYTES = 64 * 1024
USER_AGENT = "botplatform-media-fetch/1"

# Python 3.11's tables count these as global; IANA's special-purpose registries do not.
NOT_GLOBAL = tuple(
    ipaddress.ip_network(network)
    for network in ("192.0.0.0/24", "192.88.99.0/24", "64:ff9b:1::/48", "3fff::/20")
)
NAT64 = ipaddress.ip_network("64:ff9b::/96")

# A last label that is a number makes resolvers read the whole host as an IPv4
# address in one of inet_aton's forms (2130706433, 0177.0.0.1, 0x7f.1, 127.1).
NUMERIC_LABEL = re.compile(r"0x[0-9a-f]*|[0-9]+")
HOST_NAME = re.compile(r"[a-z0-9_-]+(\.[a-z0-9_-]+)*\.?")
# What requests leaves unquoted in a request target: the URL's own escapes stay as written.
TARGET_SAFE = "!#$%&'()*+,/:;=?@[]~"


class MediaFetchError(Exception):
    """A URL that cannot be fetched; the message says why, in words a person can act on (it names the URL)."""


@dataclass(frozen=True)
class FetchedMedia:
    content: bytes
    content_type: str  # from the response header, parameters stripped, lower-case
    url: str


@dataclass(frozen=True)
class _Target:
    """Where a URL points, read strictly: the host in ASCII (an IP literal without brackets)."""

    scheme: str
    host: str
    port: int
    literal: IPAddress | None
    path: str

    @property
    def host_header(self) -> str:
        shown = f"[{self.host}]" if ":" in self.host else self.host
        default = 443 if self.scheme == "https" else 80
        return shown if self.port == default else f"{shown}:{self.port}"


def fetch_media(url: str, *, max_bytes: int, deadline: float, allow_private: bool = False,
                resolve: Resolver | None = None, ca_file: str | None = None) -> FetchedMedia:
    """GET the URL's body, at most max_bytes of it, before the time.monotonic()
    value deadline. allow_private lifts the check of the addresses only (local
    setups and tests); resolve(host, port) returns IP strings and defaults to
    the system's resolver; ca_file replaces the system's trusted certificates."""
    target = _parse_target(url)
    _remaining(url, deadline)
    addresses = _resolved(url, target, resolve or _system_resolve, deadline)
    if not allow_private:
        refused = next((address for address in addresses if not _is_public(address)), None)
        if refused is not None:
            carried = _carried_ipv4(refused)
            shown = f"{refused}, that is {carried}" if carried is not None else str(refused)
            raise MediaFetchError(f"{url} points at a private address ({shown}): "
                                  "media can only be fetched from public addresses.")
    try:
        connection = _connect(url, target, addresses, deadline, ca_file)
        try:
            return _download(url, target, connection, max_bytes=max_bytes, deadline=deadline)
        finally:
            connection.close()
    except TimeoutError as error:
        raise MediaFetchError(_late(url)) from error
    except ssl.SSLCertVerificationError as error:
        raise MediaFetchError(f"{url}: the server's certificate is not valid for {target.host} "
                              f"({error.verify_message}): check the address.") from error
    except ssl.SSLError as error:
        raise MediaFetchError(f"{url}: no secure connection could be made ({error.reason}): "
                              "check the address.") from error
    except OSError as error:
        raise MediaFetchError(f"{url} could not be fetched: the connection broke off "
                              f"({error.strerror or str(error) or type(error).__name__}). Try again.") from error
    except http.client.HTTPException as error:
        raise MediaFetchError(f"{url} did not answer in HTTP ({type(error).__name__}): "
                              "check the address.") from error


def _is_public(address: IPAddress) -> bool:
    """True when the address is routable on the public internet. An IPv6
    address that carries an IPv4 one (mapped, 6to4, NAT64) is judged by the
    IPv4 address, since that is the host its packets reach."""
    carried = _carried_ipv4(address)
    if carried is not None:
        return _is_public(carried)
    if isinstance(address, ipaddress.IPv6Address) and address.is_site_local:
        return False
    return (address.is_global and not address.is_multicast and not address.is_reserved
            and not any(address in network for network in NOT_GLOBAL))


def _carried_ipv4(address: IPAddress) -> ipaddress.IPv4Address | None:
    if not isinstance(address, ipaddress.IPv6Address):
        return None
    if address in NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFF_FFFF)
    return address.ipv4_mapped or address.sixtofour


def _system_resolve(host: str, port: int) -> list[str]:
    return [info[4][0] for info in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)]


def _parse_target(url: str) -> _Target:
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise MediaFetchError(f"{url} is not a valid URL: check how it is written.") from None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise MediaFetchError(f"{url} is not an http or https address: give a URL that starts with "
                              "http:// or https://.")
    if parts.username is not None or parts.password is not None:
        # The message is shown on a page and stored, so the credentials are left out of it.
        shown = parts._replace(netloc=parts.netloc.rpartition("@")[2]).geturl()
        raise MediaFetchError(f"{shown} was given with a user name or password in it: media is fetched "
                              "without logging in, so give a public URL without them.")
    host = parts.hostname
    if not host:
        raise MediaFetchError(f"{url} names no host: give a full address such as https://example.com/photo.png.")
    if port == 0:
        raise MediaFetchError(f"{url} has port 0: give a port from 1 to 65535, or none.")
    literal = _ip_literal(url, host)
    if literal is None:
        host = _host_name(url, host)
    path = parts.path or "/"
    if parts.query:
        path = f"{path}?{parts.query}"
    return _Target(scheme=scheme, host=host, port=port or (443 if scheme == "https" else 80), literal=literal,
                   path=quote(path, safe=TARGET_SAFE))


def _ip_literal(url: str, host: str) -> IPAddress | None:
    """The address a host written as one names, or None for a host name. Only
    the usual forms count: any other numeric form is refused rather than read,
    since readers disagree on what it means."""
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        pass
    if ":" in host or NUMERIC_LABEL.fullmatch(host.rstrip(".").rsplit(".", 1)[-1]):
        raise MediaFetchError(f"{url} writes its host in an unusual form ({host}): write an IPv4 address as "
                              "four decimal numbers such as 203.0.113.7, an IPv6 address in brackets, "
                              "or use the host's name.")
    return None


def _host_name(url: str, host: str) -> str:
    try:
        ascii_host = host.encode("idna").decode("ascii")
    except UnicodeError:
        ascii_host = ""
    if not HOST_NAME.fullmatch(ascii_host):
        raise MediaFetchError(f"{url} has a host name that is not valid ({host}): check the address.")
    return ascii_host


def _resolved(url: str, target: _Target, resolve: Resolver, deadline: float) -> list[IPAddress]:
    """Every address of the host, in the resolver's order. The resolver runs in
    a thread of its own, so a slow DNS answer cannot hold the fetch past its
    deadline; the thread ends when the resolver does."""
    if target.literal is not None:
        return [target.literal]
    answers: queue.SimpleQueue[tuple[list[str], Exception | None]] = queue.SimpleQueue()

    def run() -> None:
        try:
            answers.put((resolve(target.host, target.port), None))
        except Exception as error:  # handed to the fetching thread, which raises it
            answers.put(([], error))

    threading.Thread(target=run, name=f"resolve {target.host}", daemon=True).start()
    try:
        found, error = answers.get(timeout=_remaining(url, deadline))
    except queue.Empty:
        raise MediaFetchError(_late(url)) from None
    if error is not None and not isinstance(error, OSError):
        raise error
    if not found:
        raise MediaFetchError(f"{url}: the host {target.host} is unknown; check the address.") from error
    return list(dict.fromkeys(ipaddress.ip_address(answer) for answer in found))


def _connect(url: str, target: _Target, addresses: list[IPAddress], deadline: float,
             ca_file: str | None) -> socket.socket:
    """A connection to the first of the checked addresses that answers; by IP,
    so nothing resolves the host again."""
    failure: OSError | None = None
    for address in addresses:
        family = socket.AF_INET6 if address.version == 6 else socket.AF_INET
        connection = socket.socket(family, socket.SOCK_STREAM)
        try:
            connection.settimeout(_remaining(url, deadline))
            try:
                connection.connect((str(address), target.port))
            except TimeoutError:
                raise
            except OSError as error:
                # Refused or unreachable: the next checked address may answer.
                failure = error
                connection.close()
                continue
            if target.scheme == "http":
                return connection
            connection.settimeout(_remaining(url, deadline))
            return _tls_context(ca_file).wrap_socket(connection, server_hostname=target.host)
        except BaseException:
            connection.close()
            raise
    reason = failure.strerror if failure is not None and failure.strerror else "no address answered"
    raise MediaFetchError(f"{url} could not be reached ({reason}): check the address.")


@functools.cache
def _tls_context(ca_file: str | None) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=ca_file)


def _download(url: str, target: _Target, connection: socket.socket, *, max_bytes: int,
              deadline: float) -> FetchedMedia:
    connection.settimeout(_remaining(url, deadline))
    connection.sendall(
        f"GET {target.path} HTTP/1.1\r\nHost: {target.host_header}\r\nUser-Agent: {USER_AGENT}\r\n"
        "Accept: */*\r\nAccept-Encoding: identity\r\nConnection: close\r\n\r\n".encode("ascii")
    )
    response = http.client.HTTPResponse(_ReadsUntilDeadline(connection, deadline), method="GET")
    response.begin()
    location = response.getheader("Location")
    if 300 <= response.status < 400 and location:
        raise MediaFetchError(f"{url} redirects to {urljoin(url, location)}: give that address instead; "
                              "redirects are not followed.")
    if response.status != 200:
        raise MediaFetchError(f"{url} answered {response.status} {response.reason}: check the address.")
    declared = response.length
    if declared is not None and declared > max_bytes:
        raise MediaFetchError(_too_large(url, max_bytes))
    content = bytearray()
    while chunk := response.read1(CHUNK_BYTES):
        content += chunk
        if len(content) > max_bytes:
            raise MediaFetchError(_too_large(url, max_bytes))
    # http.client ends a body that breaks off early without an error.
    if declared is not None and len(content) < declared:
        raise MediaFetchError(f"{url} broke off after {len(content)} of {declared} bytes. Try again.")
    content_type = (response.getheader("Content-Type") or "").split(";", 1)[0].strip().lower()
    return FetchedMedia(content=bytes(content), content_type=content_type, url=url)


class _ReadsUntilDeadline:
    """The connection as http.client.HTTPResponse reads it (through makefile),
    with each read given only the time left until the deadline: a socket
    timeout alone restarts with every read, so a server sending a byte at a
    time could hold the fetch for ever."""

    def __init__(self, connection: socket.socket, deadline: float) -> None:
        self.connection = connection
        self.deadline = deadline

    def makefile(self, mode: str) -> io.BufferedReader:
        return io.BufferedReader(_DeadlineReader(self.connection, self.deadline))


class _DeadlineReader(io.RawIOBase):
    def __init__(self, connection: socket.socket, deadline: float) -> None:
        super().__init__()
        self.connection = connection
        self.deadline = deadline

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError
        self.connection.settimeout(left)
        return self.connection.recv_into(buffer)


def _remaining(url: str, deadline: float) -> float:
    left = deadline - time.monotonic()
    if left <= 0:
        raise MediaFetchError(_late(url))
    return left


def _late(url: str) -> str:
    return (f"{url} took longer than the time allowed for fetching media: give a smaller file, "
            "or one on a faster server.")


def _too_large(url: str, max_bytes: int) -> str:
    if max_bytes >= MB:
        size = f"{max_bytes / MB:g} MB"
    elif max_bytes >= 1024:
        size = f"{max_bytes / 1024:g} KB"
    else:
        size = f"{max_bytes} bytes"
    return f"{url} is larger than {size}, the most that can be fetched for it: give a smaller file."
