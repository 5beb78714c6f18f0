"""Media URLs cannot steer the server into its own network: the host is resolved
once and the connection goes to the address that was checked, only globally
routable addresses pass, odd notations of addresses are refused, redirects are
not followed, and a size cap and one deadline hold while the body streams.
Every fetch goes over real sockets to HTTP(S) servers on loopback addresses;
resolvers passed in stand for DNS, including one that answers differently the
second time it is asked."""

from __future__ import annotations

import socket
import socketserver
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from bots.posting.media_fetch import FetchedMedia, MediaFetchError, fetch_media
from tests.support import free_port

PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4
KB = 1024
PRIVATE = "media can only be fetched from public addresses."

Answer = Callable[[BaseHTTPRequestHandler], None]


@dataclass(frozen=True)
class Seen:
    path: str
    host: str | None


class LoopbackServer(ThreadingHTTPServer):
    daemon_threads = True

    def server_bind(self) -> None:
        # HTTPServer looks its own name up in DNS, which a test need not wait for.
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = self.server_address[:2]


class LoopbackServer6(LoopbackServer):
    address_family = socket.AF_INET6


class Server:
    """An HTTP server on a loopback address, in a thread, that records every
    request it is sent and answers each with `answer`."""

    def __init__(self, answer: Answer, host: str, port: int, tls: ssl.SSLContext | None) -> None:
        seen = self.seen = list[Seen]()

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                seen.append(Seen(self.path, self.headers.get("Host")))
                try:
                    answer(self)
                except OSError:
                    pass  # the fetcher hung up, as it does past a size cap or a deadline

            def log_message(self, format: str, *args: object) -> None:
                pass

        kind = LoopbackServer6 if ":" in host else LoopbackServer
        self.httpd = kind((host, port), Handler)
        if tls is not None:
            self.httpd.socket = tls.wrap_socket(self.httpd.socket, server_side=True)
        self.port: int = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def serve() -> Iterator[Callable[..., Server]]:
    servers: list[Server] = []

    def start(answer: Answer, host: str = "127.0.0.1", port: int = 0, tls: ssl.SSLContext | None = None) -> Server:
        servers.append(Server(answer, host, port, tls))
        return servers[-1]

    yield start
    for server in servers:
        server.close()


def body(content: bytes, content_type: str = "image/png", length: bool = True) -> Answer:
    def answer(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Type", content_type)
        if length:
            handler.send_header("Content-Length", str(len(content)))
        handler.end_headers()
        handler.wfile.write(content)

    return answer


def answers(*addresses: str) -> Callable[[str, int], list[str]]:
    return lambda host, port: list(addresses)


def fetch(url: str, *, max_bytes: int = 100 * KB, seconds: float = 2, **options: Any) -> FetchedMedia:
    return fetch_media(url, max_bytes=max_bytes, deadline=time.monotonic() + seconds, **options)


def refusal(url: str, **options: Any) -> str:
    with pytest.raises(MediaFetchError) as raised:
        fetch(url, **options)
    return str(raised.value)


# Where the connection goes.


def test_a_public_looking_url_is_fetched_with_its_own_host_header(serve):
    server = serve(body(PNG, content_type="image/PNG; charset=binary"))
    url = f"http://media.example:{server.port}/photos/a.png?size=large"

    media = fetch(url, resolve=answers("127.0.0.1"), allow_private=True)

    assert media == FetchedMedia(content=PNG, content_type="image/png", url=url)
    assert server.seen == [Seen("/photos/a.png?size=large", f"media.example:{server.port}")]


def test_the_host_is_resolved_once_and_the_checked_address_is_the_one_connected_to(serve):
    """DNS rebinding: the first answer is checked, a second lookup would answer
    another host (listening on the same port). Only the first ever sees a request."""
    checked = serve(body(PNG))
    rebound = serve(body(b"internal secrets"), host="127.0.0.2", port=checked.port)
    replies = iter([["127.0.0.1"], ["127.0.0.2"]])
    lookups: list[tuple[str, int]] = []

    def rebinding(host: str, port: int) -> list[str]:
        lookups.append((host, port))
        return next(replies)

    media = fetch(f"http://media.example:{checked.port}/a.png", resolve=rebinding, allow_private=True)

    assert media.content == PNG
    assert lookups == [("media.example", checked.port)]
    assert checked.seen == [Seen("/a.png", f"media.example:{checked.port}")]
    assert rebound.seen == []


def test_an_address_that_does_not_answer_gives_way_to_the_next_checked_one(serve):
    server = serve(body(PNG))
    url = f"http://media.example:{server.port}/a.png"

    media = fetch(url, resolve=answers("127.0.0.2", "127.0.0.1"), allow_private=True)

    assert media.content == PNG
    assert server.seen == [Seen("/a.png", f"media.example:{server.port}")]


def test_a_host_where_nothing_listens_is_named():
    port = free_port()
    url = f"http://127.0.0.1:{port}/a.png"

    assert refusal(url, allow_private=True) == f"{url} could not be reached (Connection refused): check the address."


def test_a_rebinding_host_whose_first_answer_is_private_is_refused(serve):
    server = serve(body(PNG))
    replies = iter([["127.0.0.1"], ["93.184.215.14"]])
    url = f"http://media.example:{server.port}/a.png"

    assert refusal(url, resolve=lambda host, port: next(replies)) == (
        f"{url} points at a private address (127.0.0.1): {PRIVATE}")
    assert server.seen == []


def test_every_address_of_a_host_is_checked(serve):
    server = serve(body(PNG))
    url = f"http://media.example:{server.port}/a.png"

    assert refusal(url, resolve=answers("93.184.215.14", "2606:2800:21f:cb07:6820:80da:af6b:8b2c", "127.0.0.1")) == (
        f"{url} points at a private address (127.0.0.1): {PRIVATE}")
    assert server.seen == []


@pytest.mark.parametrize(("address", "shown"), [
    ("127.0.0.1", "127.0.0.1"),
    ("10.0.0.5", "10.0.0.5"),
    ("172.16.3.4", "172.16.3.4"),
    ("192.168.1.1", "192.168.1.1"),
    ("100.64.0.1", "100.64.0.1"),  # carrier-grade NAT
    ("100.100.100.200", "100.100.100.200"),  # a cloud metadata service inside 100.64.0.0/10
    ("169.254.169.254", "169.254.169.254"),
    ("0.0.0.0", "0.0.0.0"),
    ("192.0.0.100", "192.0.0.100"),
    ("224.0.0.1", "224.0.0.1"),
    ("240.0.0.1", "240.0.0.1"),
    ("::1", "::1"),
    ("::", "::"),
    ("fd00::1", "fd00::1"),
    ("fc00::1", "fc00::1"),
    ("fe80::1", "fe80::1"),
    ("fec0::1", "fec0::1"),
    ("ff02::1", "ff02::1"),
    ("::ffff:127.0.0.1", "that is 127.0.0.1"),
    ("::ffff:10.0.0.5", "that is 10.0.0.5"),
    ("::ffff:169.254.169.254", "that is 169.254.169.254"),
    ("64:ff9b::a9fe:a9fe", "that is 169.254.169.254"),  # NAT64
    ("2002:a9fe:a9fe::1", "that is 169.254.169.254"),  # 6to4
    ("64:ff9b:1::1", "64:ff9b:1::1"),
    ("::10.0.0.5", "::a00:5"),
])
def test_a_host_that_resolves_to_an_address_that_is_not_global_is_refused(serve, address, shown):
    """The local server listens on 127.0.0.1, so a check that let a loopback
    address through would fetch from it."""
    server = serve(body(PNG))
    url = f"http://media.example:{server.port}/a.png"

    message = refusal(url, resolve=answers(address), seconds=1)

    assert message.startswith(f"{url} points at a private address (")
    assert message.endswith(f"): {PRIVATE}")
    assert shown in message
    assert server.seen == []


@pytest.mark.parametrize("host", ["127.0.0.1", "[::ffff:127.0.0.1]", "[::ffff:7f00:1]"])
def test_a_private_address_written_in_the_url_is_refused(serve, host):
    server = serve(body(PNG))
    url = f"http://{host}:{server.port}/a.png"

    assert refusal(url).startswith(f"{url} points at a private address (")
    assert server.seen == []


@pytest.mark.parametrize("url", ["http://169.254.169.254/latest/meta-data/", "http://100.64.0.1/", "http://[fd00::1]/"])
def test_an_internal_address_written_in_the_url_is_refused_before_connecting(url):
    assert refusal(url, seconds=1).startswith(f"{url} points at a private address (")


def test_an_ipv6_address_in_brackets_is_fetched_when_private_addresses_are_allowed(serve):
    server = serve(body(PNG), host="::1")

    media = fetch(f"http://[::1]:{server.port}/a.png", allow_private=True)

    assert media.content == PNG
    assert server.seen == [Seen("/a.png", f"[::1]:{server.port}")]


@pytest.mark.parametrize("host", ["2130706433", "0177.0.0.1", "0x7f.0.0.1", "0x7f000001", "127.1", "0x7f.1",
                                  "017700000001", "127.0.0.01"])
def test_an_address_written_in_an_unusual_numeric_form_is_refused_even_where_private_ones_are_allowed(serve, host):
    server = serve(body(PNG))
    url = f"http://{host}:{server.port}/a.png"
    # What lets this test fail: the system's resolver reads the host as the address the server listens on.
    assert {info[4][0] for info in socket.getaddrinfo(host, server.port, type=socket.SOCK_STREAM)} == {"127.0.0.1"}

    assert refusal(url, allow_private=True) == (
        f"{url} writes its host in an unusual form ({host}): write an IPv4 address as four decimal numbers "
        "such as 203.0.113.7, an IPv6 address in brackets, or use the host's name.")
    assert server.seen == []


@pytest.mark.parametrize(("url", "expected"), [
    ("ftp://media.example/a.png", "ftp://media.example/a.png is not an http or https address"),
    ("file:///etc/passwd", "file:///etc/passwd is not an http or https address"),
    ("http:///a.png", "http:///a.png names no host"),
    ("http://media.example:0/a.png", "http://media.example:0/a.png has port 0"),
    ("http://media.example:99999/a.png", "http://media.example:99999/a.png is not a valid URL"),
    ("http://[::1/a.png", "http://[::1/a.png is not a valid URL"),
    ("http://media..example/a.png", "http://media..example/a.png has a host name that is not valid"),
    ("http://media.example%00.evil/a.png", "has a host name that is not valid"),
])
def test_a_url_that_is_not_plain_http_or_https_to_a_host_is_refused(url, expected):
    assert expected in refusal(url, resolve=answers("93.184.215.14"))


def test_credentials_in_the_url_are_refused_and_left_out_of_the_message():
    message = refusal("https://ann:hunter2@media.example/a.png", resolve=answers("93.184.215.14"))

    assert message == ("https://media.example/a.png was given with a user name or password in it: media is fetched "
                       "without logging in, so give a public URL without them.")


def test_an_unknown_host_is_named():
    def unknown(host: str, port: int) -> list[str]:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    assert refusal("http://nowhere.example/a.png", resolve=unknown) == (
        "http://nowhere.example/a.png: the host nowhere.example is unknown; check the address.")


# What the server answers.


def test_a_redirect_is_an_error_naming_where_it_leads_and_nothing_is_fetched_from_there(serve):
    def redirect(handler: BaseHTTPRequestHandler) -> None:
        if handler.path == "/a.png":
            handler.send_response(302)
            handler.send_header("Location", "/internal/secret.png")
            handler.end_headers()
        else:
            body(PNG)(handler)

    server = serve(redirect)
    url = f"http://127.0.0.1:{server.port}/a.png"

    assert refusal(url, allow_private=True) == (
        f"{url} redirects to http://127.0.0.1:{server.port}/internal/secret.png: give that address instead; "
        "redirects are not followed.")
    assert [seen.path for seen in server.seen] == ["/a.png"]


def test_an_answer_other_than_200_is_an_error_with_its_status(serve):
    def missing(handler: BaseHTTPRequestHandler) -> None:
        handler.send_error(404)

    server = serve(missing)
    url = f"http://127.0.0.1:{server.port}/a.png"

    assert refusal(url, allow_private=True) == f"{url} answered 404 Not Found: check the address."


def test_a_body_that_breaks_off_before_its_length_is_an_error(serve):
    def short(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Length", str(len(PNG)))
        handler.end_headers()
        handler.wfile.write(PNG[:100])

    server = serve(short)
    url = f"http://127.0.0.1:{server.port}/a.png"

    assert refusal(url, allow_private=True) == f"{url} broke off after 100 of {len(PNG)} bytes. Try again."


def test_a_chunked_body_is_fetched_whole(serve):
    def chunked(handler: BaseHTTPRequestHandler) -> None:
        handler.wfile.write(b"HTTP/1.1 200 OK\r\nContent-Type: image/png\r\nTransfer-Encoding: chunked\r\n\r\n")
        for start in range(0, len(PNG), 300):
            part = PNG[start:start + 300]
            handler.wfile.write(f"{len(part):x}\r\n".encode() + part + b"\r\n")
        handler.wfile.write(b"0\r\n\r\n")
        handler.close_connection = True

    server = serve(chunked)

    media = fetch(f"http://127.0.0.1:{server.port}/a.png", allow_private=True)

    assert (media.content, media.content_type) == (PNG, "image/png")


def test_a_server_that_hangs_up_without_answering_is_an_error_to_try_again(serve):
    server = serve(lambda handler: handler.connection.shutdown(socket.SHUT_RDWR))
    url = f"http://127.0.0.1:{server.port}/a.png"

    assert refusal(url, allow_private=True) == (
        f"{url} could not be fetched: the connection broke off (Remote end closed connection without response). "
        "Try again.")


# Size and time.


def test_a_declared_length_over_the_cap_is_refused_before_the_body_is_read(serve):
    def declares_ten_mb(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Length", str(10 * 1024 * KB))
        handler.end_headers()
        time.sleep(3)

    server = serve(declares_ten_mb)
    url = f"http://127.0.0.1:{server.port}/a.png"

    # Waiting for the body would run into the deadline (2 s) and say so instead.
    assert refusal(url, allow_private=True) == (
        f"{url} is larger than 100 KB, the most that can be fetched for it: give a smaller file.")


def test_a_body_without_a_length_is_cut_off_past_the_cap_while_it_streams(serve):
    """The server would send without end: a fetcher that read it all would
    run into the deadline instead."""
    def endless(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Type", "video/mp4")
        handler.end_headers()
        until = time.monotonic() + 5
        while time.monotonic() < until:
            handler.wfile.write(b"\0" * 16 * KB)

    server = serve(endless)
    url = f"http://127.0.0.1:{server.port}/clip.mp4"

    assert refusal(url, max_bytes=5 * 1024 * KB, allow_private=True) == (
        f"{url} is larger than 5 MB, the most that can be fetched for it: give a smaller file.")


def test_a_body_of_exactly_the_cap_is_fetched(serve):
    content = PNG + b"\0" * (100 * KB - len(PNG))
    server = serve(body(content, length=False))

    media = fetch(f"http://127.0.0.1:{server.port}/a.png", max_bytes=100 * KB, allow_private=True)

    assert media.content == content


def trickle(handler: BaseHTTPRequestHandler, data: bytes) -> None:
    for byte in data:
        handler.wfile.write(bytes([byte]))
        time.sleep(0.2)


def test_a_body_that_trickles_fails_at_the_deadline_not_at_a_read_timeout(serve):
    """Each byte comes 0.2 s after the last, so no single read ever waits
    long; the whole would take 5 s."""
    def trickling(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(200)
        handler.end_headers()
        trickle(handler, PNG[:25])

    server = serve(trickling)
    url = f"http://127.0.0.1:{server.port}/a.png"
    started = time.monotonic()

    assert refusal(url, seconds=1, allow_private=True) == (
        f"{url} took longer than the time allowed for fetching media: give a smaller file, "
        "or one on a faster server.")
    assert 1 <= time.monotonic() - started < 3


def test_headers_that_trickle_fail_at_the_deadline(serve):
    def trickling(handler: BaseHTTPRequestHandler) -> None:
        trickle(handler, b"HTTP/1.0 200 OK\r\n" + b"X-Padding: 1\r\n" * 2)

    server = serve(trickling)
    url = f"http://127.0.0.1:{server.port}/a.png"
    started = time.monotonic()

    assert "took longer than the time allowed" in refusal(url, seconds=1, allow_private=True)
    assert 1 <= time.monotonic() - started < 3


def test_a_resolver_that_does_not_answer_in_time_fails_at_the_deadline():
    def slow(host: str, port: int) -> list[str]:
        time.sleep(2)
        return ["93.184.215.14"]

    started = time.monotonic()

    assert "took longer than the time allowed" in refusal("http://slow.example/a.png", seconds=0.5, resolve=slow)
    assert 0.5 <= time.monotonic() - started < 1.5


def test_a_deadline_already_past_fetches_nothing(serve):
    """One deadline may be shared by many fetches: the last ones find it spent."""
    server = serve(body(PNG))
    url = f"http://127.0.0.1:{server.port}/a.png"

    assert "took longer than the time allowed" in refusal(url, seconds=0, allow_private=True)
    assert server.seen == []


# TLS: the connection goes to the checked address, the handshake names the host.


@dataclass(frozen=True)
class Certificates:
    ca_file: str
    server: ssl.SSLContext
    sni: list[str | None]


@pytest.fixture
def certificates(tmp_path: Path) -> Certificates:
    """A certificate authority made for the test, and a server certificate it
    signed for media.example only."""
    now = datetime.now(UTC)

    def certificate(subject: str, key: ec.EllipticCurvePrivateKey, issuer: str, signer: ec.EllipticCurvePrivateKey,
                    *extensions: tuple[x509.ExtensionType, bool]) -> x509.Certificate:
        builder = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
            .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer)]))
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(minutes=1)).not_valid_after(now + timedelta(days=1))
        )
        for extension, critical in extensions:
            builder = builder.add_extension(extension, critical=critical)
        return builder.sign(signer, hashes.SHA256())

    ca_key, server_key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca = certificate("Test media CA", ca_key, "Test media CA", ca_key,
                     (x509.BasicConstraints(ca=True, path_length=None), True),
                     (x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=False,
                                    data_encipherment=False, key_agreement=False, key_cert_sign=True,
                                    crl_sign=True, encipher_only=False, decipher_only=False), True),
                     (x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), False))
    leaf = certificate("media.example", server_key, "Test media CA", ca_key,
                       (x509.SubjectAlternativeName([x509.DNSName("media.example")]), False),
                       (x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), False))
    (tmp_path / "ca.pem").write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    (tmp_path / "server.pem").write_bytes(leaf.public_bytes(serialization.Encoding.PEM))
    (tmp_path / "server.key").write_bytes(server_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.load_cert_chain(tmp_path / "server.pem", tmp_path / "server.key")
    sni: list[str | None] = []
    server.sni_callback = lambda connection, name, context: sni.append(name)
    return Certificates(ca_file=str(tmp_path / "ca.pem"), server=server, sni=sni)


def test_https_to_the_checked_address_sends_the_hosts_name_as_sni_and_host(serve, certificates):
    server = serve(body(PNG), tls=certificates.server)
    url = f"https://media.example:{server.port}/a.png"

    media = fetch(url, resolve=answers("127.0.0.1"), allow_private=True, ca_file=certificates.ca_file)

    assert media.content == PNG
    assert certificates.sni == ["media.example"]
    assert server.seen == [Seen("/a.png", f"media.example:{server.port}")]


def test_https_checks_the_certificate_against_the_hosts_name_not_the_address(serve, certificates):
    server = serve(body(PNG), tls=certificates.server)
    url = f"https://other.example:{server.port}/a.png"

    message = refusal(url, resolve=answers("127.0.0.1"), allow_private=True, ca_file=certificates.ca_file)

    assert message.startswith(f"{url}: the server's certificate is not valid for other.example (")
    assert certificates.sni == ["other.example"]
    assert server.seen == []


def test_https_trusts_only_the_given_authorities(serve, certificates):
    server = serve(body(PNG), tls=certificates.server)
    url = f"https://media.example:{server.port}/a.png"

    message = refusal(url, resolve=answers("127.0.0.1"), allow_private=True)

    assert message.startswith(f"{url}: the server's certificate is not valid for media.example (")
    assert server.seen == []
