"""Startup and first-contact behaviour a new operator meets: failed first starts, logins right after start."""

from __future__ import annotations

import json
import shutil
import socket
import ssl
import subprocess
import tempfile
from pathlib import Path

from rivulet_e2e import RestClient, assert_error, free_port, rivulet_binary


def test_failed_first_start_names_password_file():
    """A first start that cannot bind its port still names the file that contains the generated password."""
    data_dir = Path(tempfile.mkdtemp(prefix="rivulet-e2e-startup-"))
    blocker = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        blocker.bind(("127.0.0.1", 0))
        blocker.listen(1)
        port = blocker.getsockname()[1]
        result = subprocess.run(
            [str(rivulet_binary()), "serve", "--port", str(port), "--data-dir", str(data_dir / "data")],
            capture_output=True, text=True, timeout=60,
        )
        assert result.returncode == 2, result.stderr
        assert "Address already in use" in result.stderr
        password_file = data_dir / "data" / "initial-admin-password"
        assert str(password_file) in result.stderr
        assert password_file.stat().st_mode & 0o777 == 0o600
    finally:
        blocker.close()
        shutil.rmtree(data_dir, ignore_errors=True)


def test_missing_tls_file_writes_nothing():
    data_dir = Path(tempfile.mkdtemp(prefix="rivulet-e2e-startup-")) / "data"
    try:
        result = subprocess.run(
            [str(rivulet_binary()), "serve", "--port", str(free_port()), "--data-dir", str(data_dir),
             "--tls-cert", "/nonexistent/cert.pem", "--tls-key", "/nonexistent/key.pem"],
            capture_output=True, text=True, timeout=60,
        )
        assert result.returncode == 2
        assert "cannot read --tls-cert file '/nonexistent/cert.pem'" in result.stderr
        assert not data_dir.exists()
    finally:
        shutil.rmtree(data_dir.parent, ignore_errors=True)


def test_login_succeeds_right_after_start(server_factory):
    """The account exists before the listener accepts, so the first request after readiness can log in."""
    server = server_factory.start()
    rest = RestClient(server)
    assert rest.login()["tenant"] == server.tenant


def test_invalid_token_gets_a_distinct_401(shared_server):
    rest = RestClient(shared_server)
    missing = assert_error(rest.request("GET", "/_api/user", auth=False), 401)
    invalid = assert_error(
        rest.request("GET", "/_api/user", headers={"Authorization": "bearer not.a.token"}), 401
    )
    assert "Authorization" in missing["errorMessage"]
    assert "invalid or expired" in invalid["errorMessage"]


def test_transport_errors_carry_error_num(shared_server):
    """Errors the transport sends itself (here a malformed request line) use the full error envelope."""
    context = ssl.create_default_context(cafile=str(shared_server.tls.ca_file))
    with socket.create_connection(("127.0.0.1", shared_server.port), timeout=10) as raw:
        with context.wrap_socket(raw, server_hostname="localhost") as tls:
            tls.sendall(b"NOT A REQUEST\r\n\r\n")
            response = b""
            while True:
                chunk = tls.recv(4096)
                if not chunk:
                    break
                response += chunk
    head, _, body = response.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 400")
    envelope = json.loads(body)
    assert envelope["error"] is True
    assert envelope["errorNum"] == 400
