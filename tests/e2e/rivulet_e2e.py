"""Harness for the end-to-end suite: certificates, server processes and small GDN clients.

Every network call goes to the loopback interface. Every process and temporary directory created here is
tracked so that the fixtures in conftest.py can end and remove them.
"""

from __future__ import annotations

import base64
import datetime
import ipaddress
import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable
from urllib.parse import urlencode

import requests
import websocket
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

E2E_DIR = Path(__file__).resolve().parent
REPO_DIR = E2E_DIR.parent.parent

ADMIN_EMAIL = "e2e@rivulet.test"
ADMIN_PASSWORD = "e2e-secret-Passw0rd"
# The admin's tenant is the email with `@` replaced by `_`.
ADMIN_TENANT = ADMIN_EMAIL.replace("@", "_")
FABRIC = "_system"

READY_TIMEOUT_SECONDS = 30.0
STOP_TIMEOUT_SECONDS = 10.0


def rivulet_binary() -> Path:
    """Return the server binary: RIVULET_BINARY, else the debug build of this repository."""
    configured = os.environ.get("RIVULET_BINARY")
    if configured:
        return Path(configured)
    return REPO_DIR / ".build" / "debug" / "rivulet"


def unique_name(prefix: str) -> str:
    """Return a stream or subscription name no other test uses."""
    return f"{prefix}_{uuid.uuid4().hex[:10]}"


def b64(text: str | bytes) -> str:
    data = text.encode() if isinstance(text, str) else text
    return base64.b64encode(data).decode("ascii")


def unb64(text: str) -> bytes:
    return base64.b64decode(text, validate=True)


# ---------------------------------------------------------------------------------------------------------------
# Certificates


@dataclass
class TLSFiles:
    """A throwaway certificate authority and a server certificate it signed, as PEM files."""

    directory: Path
    ca_file: Path
    cert_file: Path
    key_file: Path


def make_tls_files(directory: Path) -> TLSFiles:
    """Write a CA and a server certificate for localhost, api-localhost, 127.0.0.1 and ::1 into `directory`."""
    now = datetime.datetime.now(datetime.timezone.utc)
    not_before = now - datetime.timedelta(minutes=5)
    not_after = now + datetime.timedelta(days=2)

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Rivulet e2e test CA")])
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True, content_commitment=False, key_encipherment=False,
                data_encipherment=False, key_agreement=False, key_cert_sign=True, crl_sign=True,
                encipher_only=False, decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )

    server_key = ec.generate_private_key(ec.SECP256R1())
    alt_names = x509.SubjectAlternativeName([
        x509.DNSName("localhost"),
        x509.DNSName("api-localhost"),
        x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
        x509.IPAddress(ipaddress.ip_address("::1")),
    ])
    server_cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
        .issuer_name(ca_name)
        .public_key(server_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(alt_names, critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True, content_commitment=False, key_encipherment=True,
                data_encipherment=False, key_agreement=False, key_cert_sign=False, crl_sign=False,
                encipher_only=False, decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )

    files = TLSFiles(
        directory=directory,
        ca_file=directory / "ca.pem",
        cert_file=directory / "server.pem",
        key_file=directory / "server-key.pem",
    )
    files.ca_file.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    files.cert_file.write_bytes(server_cert.public_bytes(serialization.Encoding.PEM))
    files.key_file.write_bytes(
        server_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    files.key_file.chmod(0o600)
    return files


def client_environment(tls: TLSFiles, base: dict[str, str] | None = None) -> dict[str, str]:
    """Return an environment for client subprocesses that trusts the test CA and bypasses any proxy."""
    env = dict(os.environ if base is None else base)
    ca = str(tls.ca_file)
    env.update({
        "REQUESTS_CA_BUNDLE": ca,
        "CURL_CA_BUNDLE": ca,
        "SSL_CERT_FILE": ca,
        "WEBSOCKET_CLIENT_CA_BUNDLE": ca,
        "NODE_EXTRA_CA_CERTS": ca,
        "NO_PROXY": "localhost,127.0.0.1,::1,api-localhost",
        "no_proxy": "localhost,127.0.0.1,::1,api-localhost",
        "PYTHONUNBUFFERED": "1",
    })
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        env.pop(name, None)
    return env


# ---------------------------------------------------------------------------------------------------------------
# Server processes


def free_port() -> int:
    """Return a loopback TCP port that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def port_is_free(port: int) -> bool:
    """Return whether nothing listens on the port; connections of an earlier server in TIME_WAIT do not count."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


@dataclass
class Server:
    """One running `rivulet serve` process and where to reach it."""

    port: int
    data_dir: Path
    tls: TLSFiles
    advertise_url: str
    log_path: Path
    process: subprocess.Popen | None = None
    admin_email: str = ADMIN_EMAIL
    admin_password: str = ADMIN_PASSWORD

    @property
    def tenant(self) -> str:
        return self.admin_email.replace("@", "_")

    @property
    def base_url(self) -> str:
        return f"https://localhost:{self.port}"

    @property
    def ws_base(self) -> str:
        return f"wss://localhost:{self.port}/_ws/ws/v2"

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process else None

    def is_running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def log_tail(self, max_chars: int = 6000) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return "(no server log)"
        return text[-max_chars:]

    def log_size(self) -> int:
        try:
            return self.log_path.stat().st_size
        except FileNotFoundError:
            return 0

    def log_since(self, offset: int, max_chars: int = 6000) -> str:
        """Return what the server logged after byte `offset`, keeping the last `max_chars` characters."""
        try:
            with open(self.log_path, "rb") as log:
                log.seek(offset)
                text = log.read().decode(errors="replace")
        except FileNotFoundError:
            return "(no server log)"
        return text[-max_chars:]

    def stop(self, timeout: float = STOP_TIMEOUT_SECONDS) -> int | None:
        """Send SIGTERM, wait up to `timeout` seconds, then SIGKILL. Return the exit status."""
        if self.process is None:
            return None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=timeout)
        return self.process.returncode

    def kill(self) -> None:
        """End the server with SIGKILL, as a crash would, and reap it."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=STOP_TIMEOUT_SECONDS)


class ServerFactory:
    """Starts servers on fresh data directories and ends every process and directory it made."""

    def __init__(self, tls: TLSFiles):
        self.tls = tls
        self._servers: list[Server] = []
        self._directories: list[Path] = []

    @property
    def servers(self) -> list[Server]:
        return list(self._servers)

    def new_data_dir(self) -> Path:
        directory = Path(tempfile.mkdtemp(prefix="rivulet-e2e-data-"))
        self._directories.append(directory)
        return directory

    def start(
        self,
        data_dir: Path | None = None,
        port: int | None = None,
        advertise_url: str | None = None,
        extra_args: Iterable[str] = ("--region", "local", "--fsync", "always"),
    ) -> Server:
        """Start `rivulet serve` and return once it serves HTTPS, or raise with its log."""
        binary = rivulet_binary()
        if not binary.is_file():
            raise RuntimeError(
                f"server binary not found at {binary}: run `swift build` in {REPO_DIR} or set RIVULET_BINARY"
            )
        data_dir = data_dir if data_dir is not None else self.new_data_dir()
        port = port if port is not None else free_port()
        advertise_url = advertise_url if advertise_url is not None else f"localhost:{port}"
        log_dir = Path(tempfile.mkdtemp(prefix="rivulet-e2e-log-"))
        self._directories.append(log_dir)
        server = Server(
            port=port, data_dir=data_dir, tls=self.tls, advertise_url=advertise_url,
            log_path=log_dir / "server.log",
        )
        arguments = [
            str(binary), "serve",
            "--host", "127.0.0.1",
            "--port", str(port),
            "--data-dir", str(data_dir),
            "--tls-cert", str(self.tls.cert_file),
            "--tls-key", str(self.tls.key_file),
            "--admin-email", server.admin_email,
            "--admin-password", server.admin_password,
            "--advertise-url", advertise_url,
            *extra_args,
        ]
        with open(server.log_path, "wb") as log:
            server.process = subprocess.Popen(
                arguments, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self._servers.append(server)
        try:
            wait_until_ready(server)
        except BaseException:
            server.kill()
            raise
        return server

    def restart(self, server: Server, port: int | None = None, **kwargs) -> Server:
        """Stop `server` if it still runs and start a new process on the same data directory."""
        server.stop()
        return self.start(data_dir=server.data_dir, port=port, **kwargs)

    def cleanup(self) -> None:
        for server in self._servers:
            try:
                server.stop()
            except Exception:
                server.kill()
        self._servers.clear()
        for directory in self._directories:
            shutil.rmtree(directory, ignore_errors=True)
        self._directories.clear()


def wait_until_ready(server: Server, timeout: float = READY_TIMEOUT_SECONDS) -> None:
    """Poll until a TCP connect succeeds and GET /datacenter/local returns any HTTP status."""
    deadline = time.monotonic() + timeout
    last_error = "no attempt yet"
    while time.monotonic() < deadline:
        if server.process is not None and server.process.poll() is not None:
            raise RuntimeError(
                f"rivulet exited with status {server.process.returncode} during startup; log:\n{server.log_tail()}"
            )
        try:
            with socket.create_connection(("127.0.0.1", server.port), timeout=1.0):
                pass
            requests.get(f"{server.base_url}/datacenter/local", verify=str(server.tls.ca_file), timeout=2.0)
            return
        except (OSError, requests.RequestException) as error:
            last_error = f"{type(error).__name__}: {error}"
        time.sleep(0.1)
    raise RuntimeError(
        f"rivulet did not answer on port {server.port} within {timeout:.0f} s (last error: {last_error}); "
        f"log:\n{server.log_tail()}"
    )


# ---------------------------------------------------------------------------------------------------------------
# REST


class RestClient:
    """A GDN REST client over `requests` that always verifies with the test CA.

    `verify` goes on every call because requests prefers REQUESTS_CA_BUNDLE from the environment over
    Session.verify.
    """

    def __init__(self, server: Server):
        self.server = server
        self.session = requests.Session()
        self.session.trust_env = False
        self.token: str | None = None

    def request(self, method: str, path: str, auth: bool = True, **kwargs) -> requests.Response:
        headers = dict(kwargs.pop("headers", {}) or {})
        if auth and self.token and "authorization" not in {name.lower() for name in headers}:
            headers["Authorization"] = f"bearer {self.token}"
        kwargs.setdefault("timeout", 15)
        return self.session.request(
            method, self.server.base_url + path, headers=headers, verify=str(self.server.tls.ca_file), **kwargs
        )

    def login(self, email: str | None = None, password: str | None = None) -> dict:
        response = self.request(
            "POST", "/_open/auth", auth=False,
            json={"email": email or self.server.admin_email, "password": password or self.server.admin_password},
        )
        assert response.status_code == 200, f"login failed: {response.status_code} {response.text}"
        body = response.json()
        self.token = body["jwt"]
        return body

    def otp(self) -> str:
        response = self.request("POST", "/apid/otp")
        assert response.status_code in (200, 201), f"POST /apid/otp failed: {response.status_code} {response.text}"
        return response.json()["otp"]

    def streams_path(self, suffix: str = "") -> str:
        return f"/_fabric/{FABRIC}/_api/streams{suffix}"

    def create_stream(self, name: str, local: bool = False) -> requests.Response:
        return self.request("POST", self.streams_path(f"/{name}?global={'false' if local else 'true'}"))

    def publish(self, topic: str, body: bytes | str) -> requests.Response:
        return self.request("POST", self.streams_path(f"/{topic}/publish"), data=body)


def logged_in_client(server: Server) -> RestClient:
    client = RestClient(server)
    client.login()
    return client


def topic_name(name: str, local: bool = False) -> str:
    return ("c8locals." if local else "c8globals.") + name


def namespace(local: bool = False) -> str:
    return ("c8local." if local else "c8global.") + FABRIC


# ---------------------------------------------------------------------------------------------------------------
# WebSocket


def ws_url(
    server: Server,
    role: str,
    name: str,
    subscription: str | None = None,
    local: bool = False,
    query: dict[str, str] | None = None,
) -> str:
    """Build `wss://.../_ws/ws/v2/{role}/persistent/{tenant}/{ns}/{topic}[/{sub}][?query]` for a bare name."""
    path = f"{server.ws_base}/{role}/persistent/{server.tenant}/{namespace(local)}/{topic_name(name, local)}"
    if subscription is not None:
        path += f"/{subscription}"
    if query:
        path += "?" + urlencode(query)
    return path


def ws_connect(
    server: Server, url: str, token: str | None = None, timeout: float = 10.0
) -> websocket.WebSocket:
    """Open a WebSocket trusting the test CA; with `token` it sends `Authorization: bearer <token>`."""
    headers = [f"Authorization: bearer {token}"] if token else []
    return websocket.create_connection(
        url,
        header=headers,
        timeout=timeout,
        sslopt={"ca_certs": str(server.tls.ca_file), "cert_reqs": ssl.CERT_REQUIRED},
    )


def handshake_status(server: Server, url: str, token: str | None = None) -> int:
    """Attempt a handshake that should be refused and return the HTTP status; 101 if it was accepted."""
    try:
        socket_ = ws_connect(server, url, token=token)
    except websocket.WebSocketBadStatusException as error:
        return error.status_code
    socket_.close()
    return 101


def recv_json(socket_: websocket.WebSocket, timeout: float = 10.0) -> dict:
    socket_.settimeout(timeout)
    return json.loads(socket_.recv())


def recv_json_or_none(socket_: websocket.WebSocket, timeout: float) -> dict | None:
    """Return the next frame as JSON, or None when nothing arrives within `timeout` seconds."""
    socket_.settimeout(timeout)
    try:
        return json.loads(socket_.recv())
    except websocket.WebSocketTimeoutException:
        return None


def publish_frames(
    socket_: websocket.WebSocket, payloads: Iterable[str], timeout: float = 10.0
) -> list[dict]:
    """Publish each text (base64 encoded, context = its index) and return the acks, in send order."""
    acks = []
    for index, text in enumerate(payloads):
        socket_.send(json.dumps({"payload": b64(text), "context": str(index)}))
        ack = recv_json(socket_, timeout)
        assert ack.get("result") == "ok", f"publish {index} failed: {ack}"
        assert ack.get("context") == str(index), f"ack context mismatch: {ack}"
        acks.append(ack)
    return acks


@dataclass
class Collected:
    """Deliveries a consumer or reader received."""

    messages: list[dict] = field(default_factory=list)

    @property
    def payloads(self) -> list[str]:
        return [unb64(message["payload"]).decode() for message in self.messages]


def collect(
    socket_: websocket.WebSocket, count: int, ack: bool = True, timeout: float = 10.0
) -> Collected:
    """Receive `count` deliveries (acking each when `ack`), or fail after `timeout` seconds in total."""
    collected = Collected()
    deadline = time.monotonic() + timeout
    while len(collected.messages) < count:
        remaining = deadline - time.monotonic()
        assert remaining > 0, (
            f"received {len(collected.messages)} of {count} messages within {timeout} s: {collected.payloads}"
        )
        message = recv_json_or_none(socket_, remaining)
        if message is None:
            continue
        collected.messages.append(message)
        if ack:
            socket_.send(json.dumps({"messageId": message["messageId"]}))
    return collected


def close_quietly(*sockets: websocket.WebSocket | None) -> None:
    for socket_ in sockets:
        if socket_ is None:
            continue
        try:
            socket_.close(timeout=2)
        except Exception:
            pass


# ---------------------------------------------------------------------------------------------------------------
# Seed programs


SEED_DIR = E2E_DIR / "seed"


def render_seed(template_name: str, destination: Path, values: dict[str, str],
                edits: Iterable[tuple[str, str]] = ()) -> Path:
    """Write the seed program with its `@NAME@` placeholders filled and each (old, new) edit applied once."""
    text = (SEED_DIR / template_name).read_text()
    for name, value in values.items():
        placeholder = f"@{name}@"
        assert placeholder in text, f"{template_name} has no placeholder {placeholder}"
        text = text.replace(placeholder, value)
    for old, new in edits:
        assert text.count(old) == 1, f"{template_name} should contain {old!r} exactly once"
        text = text.replace(old, new)
    assert "@RIVULET_" not in text, f"{template_name} still has an unfilled placeholder"
    destination.write_text(text)
    return destination


# ---------------------------------------------------------------------------------------------------------------
# GDN envelope checks


def assert_success(response: requests.Response) -> dict:
    """Check the GDN success envelope and return the body."""
    assert 200 <= response.status_code < 300, f"expected 2xx, got {response.status_code}: {response.text}"
    assert response.headers.get("x-gdn-requestid"), "x-gdn-requestid header is missing"
    body = response.json()
    assert body.get("error") is False, body
    assert body.get("code") == response.status_code, body
    assert "errorNum" not in body, f"a success body must not contain errorNum: {body}"
    return body


def assert_error(response: requests.Response, status: int) -> dict:
    """Check the GDN error envelope with HTTP `status` and return the body."""
    assert response.status_code == status, f"expected {status}, got {response.status_code}: {response.text}"
    assert response.headers.get("x-gdn-requestid"), "x-gdn-requestid header is missing"
    body = response.json()
    assert body.get("error") is True, body
    assert body.get("code") == status, body
    assert isinstance(body.get("errorNum"), int), body
    assert isinstance(body.get("errorMessage"), str) and body["errorMessage"], body
    return body


def wait_for(condition, timeout: float = 10.0, interval: float = 0.1, message: str = "condition"):
    """Poll `condition()` until it returns a truthy value; fail with its last value after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    value = condition()
    while not value:
        assert time.monotonic() < deadline, f"{message} not met within {timeout} s (last value: {value!r})"
        time.sleep(interval)
        value = condition()
    return value


# ---------------------------------------------------------------------------------------------------------------
# Raw connections, for requests and frames that well-behaved client libraries refuse to send


@dataclass
class RawResponse:
    """One HTTP response read from a raw connection."""

    status: int
    headers: dict[str, str]
    body: bytes


class RawConnection:
    """A TLS connection to a server that sends exactly the bytes it is given."""

    def __init__(self, server: Server, timeout: float = 10.0):
        context = ssl.create_default_context(cafile=str(server.tls.ca_file))
        plain = socket.create_connection(("127.0.0.1", server.port), timeout=timeout)
        try:
            self.socket = context.wrap_socket(plain, server_hostname="localhost")
        except BaseException:
            plain.close()
            raise
        self.buffer = b""

    def __enter__(self) -> "RawConnection":
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def close(self) -> None:
        try:
            self.socket.close()
        except OSError:
            pass

    def send(self, data: bytes) -> None:
        self.socket.sendall(data)

    def _fill(self) -> bool:
        """Read more bytes into the buffer; return False at end of stream (or a reset, which ends it too)."""
        try:
            chunk = self.socket.recv(65536)
        except (ConnectionResetError, ssl.SSLError):
            return False
        if not chunk:
            return False
        self.buffer += chunk
        return True

    def read_response(self) -> RawResponse:
        """Read one response with a Content-Length body; fail if the stream ends first."""
        while b"\r\n\r\n" not in self.buffer:
            assert self._fill(), f"connection ended before a response head; received {self.buffer!r}"
        head, _, self.buffer = self.buffer.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ")[1])
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        length = int(headers.get("content-length", "0"))
        while len(self.buffer) < length:
            assert self._fill(), "connection ended inside a response body"
        body, self.buffer = self.buffer[:length], self.buffer[length:]
        return RawResponse(status, headers, body)

    def reads_end_of_stream(self) -> bool:
        """Return True once the server closes the connection; False if bytes arrive (or the timeout) instead."""
        try:
            return not self._fill() and not self.buffer
        except (socket.timeout, TimeoutError):
            return False


def raw_request(path: str, token: str | None = None, extra: str = "", body: bytes = b"") -> bytes:
    """Build a minimal HTTP/1.1 GET request; `extra` contains further header lines, each ending in CRLF."""
    auth = f"Authorization: bearer {token}\r\n" if token else ""
    length = f"Content-Length: {len(body)}\r\n" if body else ""
    return f"GET {path} HTTP/1.1\r\nHost: localhost\r\n{auth}{length}{extra}\r\n".encode() + body


def ws_client_frame(opcode: int, payload: bytes, fin: bool = True, masked: bool = True) -> bytes:
    """Encode one client-to-server WebSocket frame (RFC 6455 section 5.2)."""
    first = (0x80 if fin else 0) | opcode
    mask_bit = 0x80 if masked else 0
    length = len(payload)
    if length < 126:
        header = bytes([first, mask_bit | length])
    elif length < 65536:
        header = bytes([first, mask_bit | 126]) + length.to_bytes(2, "big")
    else:
        header = bytes([first, mask_bit | 127]) + length.to_bytes(8, "big")
    if not masked:
        return header + payload
    key = os.urandom(4)
    return header + key + bytes(byte ^ key[index % 4] for index, byte in enumerate(payload))


def raw_websocket(server: Server, url_path: str, token: str) -> RawConnection:
    """Open a raw connection and complete the WebSocket handshake on `url_path`; fail unless it gets 101."""
    connection = RawConnection(server)
    key = base64.b64encode(os.urandom(16)).decode()
    connection.send(raw_request(url_path, token, extra=(
        "Upgrade: websocket\r\nConnection: Upgrade\r\n"
        f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
    )))
    response = connection.read_response()
    assert response.status == 101, f"handshake got {response.status}: {response.body!r}"
    return connection


def read_close_code(connection: RawConnection) -> int | None:
    """Read server frames until a close frame and return its code (None for an empty close payload)."""
    while True:
        while len(connection.buffer) < 2:
            assert connection._fill(), "connection ended before a close frame"
        first, second = connection.buffer[0], connection.buffer[1]
        length = second & 0x7F
        offset = 2
        if length == 126:
            offset, width = 4, 2
        elif length == 127:
            offset, width = 10, 8
        else:
            width = 0
        while len(connection.buffer) < offset:
            assert connection._fill(), "connection ended inside a frame header"
        if width:
            length = int.from_bytes(connection.buffer[2:offset], "big")
        while len(connection.buffer) < offset + length:
            assert connection._fill(), "connection ended inside a frame"
        payload = connection.buffer[offset:offset + length]
        connection.buffer = connection.buffer[offset + length:]
        if first & 0x0F == 0x8:
            return int.from_bytes(payload[:2], "big") if len(payload) >= 2 else None


@dataclass
class NumberedMessages:
    """A run of `count` numbered payloads of `size` bytes, published with a window of unacknowledged sends and
    read back with a check that each arrives once, in publish order."""

    prefix: str
    count: int
    size: int
    window: int = 50
    timeout: float = 60

    def payload(self, index: int) -> str:
        head = f"{self.prefix}-{index:05d}-"
        return head + "x" * (self.size - len(head))

    def publish_all(self, producer: websocket.WebSocket) -> None:
        sent = 0
        acked = 0
        deadline = time.monotonic() + self.timeout
        while acked < self.count:
            assert time.monotonic() < deadline, f"publishing stalled after {acked} acks"
            while sent - acked < self.window and sent < self.count:
                producer.send(json.dumps({"payload": b64(self.payload(sent)), "context": str(sent)}))
                sent += 1
            ack = recv_json(producer, timeout=30)
            assert ack.get("result") == "ok", f"publish failed: {ack}"
            acked += 1

    def receive_in_order(self, socket_: websocket.WebSocket, role: str) -> None:
        """Receive (and acknowledge) every message, checking each arrives once, in publish order."""
        deadline = time.monotonic() + self.timeout
        for index in range(self.count):
            assert time.monotonic() < deadline, f"{role} received only {index} of {self.count} messages"
            message = recv_json(socket_, timeout=30)
            got = unb64(message["payload"]).decode()
            assert got == self.payload(index), f"{role}: message {index} arrived as {got[:16]}"
            socket_.send(json.dumps({"messageId": message["messageId"]}))


def resident_bytes(pid: int) -> int:
    """Return the resident memory (VmRSS) of process `pid` in bytes."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError(f"no VmRSS line in /proc/{pid}/status")
