"""pyC8 1.1.2, Macrometa's Python SDK, against a local server.

pyC8 always connects to https://api-<host>:443 and wss://api-<tags.url of /datacenter/local> (port 443), so
this test runs the server on port 443 with `--advertise-url localhost` and maps api-localhost to 127.0.0.1 in
/etc/hosts while it runs. pyC8 turns TLS verification off for REST calls but not for its login request or its
WebSockets; those read REQUESTS_CA_BUNDLE and WEBSOCKET_CLIENT_CA_BUNDLE.
"""

from __future__ import annotations

import base64
import fcntl
import json
import os
import socket
import time
from contextlib import contextmanager
from pathlib import Path

import pytest

from rivulet_e2e import port_is_free, unique_name

c8_client = pytest.importorskip("c8.client", reason="pyC8 is not installed: pip install -r tests/e2e/requirements.txt")

HOSTS_FILE = Path("/etc/hosts")
HOSTS_LINE = "127.0.0.1 api-localhost  # added by the Rivulet e2e suite; removed when the test ends\n"
PORT = 443
# Tests in other pytest processes (pytest-xdist workers) take turns on port 443 and /etc/hosts through this lock.
LOCK_FILE = Path("/tmp/rivulet-e2e-port443.lock")
LOCK_TIMEOUT_SECONDS = 300


def resolves_to_loopback(hostname: str) -> bool:
    try:
        return socket.gethostbyname(hostname) == "127.0.0.1"
    except OSError:
        return False


@contextmanager
def port_443_lock():
    """Hold an exclusive lock shared by every process of the suite, waiting at most LOCK_TIMEOUT_SECONDS."""
    with open(LOCK_FILE, "a") as lock:
        deadline = time.monotonic() + LOCK_TIMEOUT_SECONDS
        while True:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    pytest.fail(f"timed out after {LOCK_TIMEOUT_SECONDS} s waiting for {LOCK_FILE}")
                time.sleep(0.2)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


@contextmanager
def api_localhost_mapped():
    """Map api-localhost to 127.0.0.1, restoring /etc/hosts byte for byte afterwards."""
    if resolves_to_loopback("api-localhost"):
        yield
        return
    original = HOSTS_FILE.read_bytes()
    try:
        separator = b"" if original.endswith(b"\n") or not original else b"\n"
        HOSTS_FILE.write_bytes(original + separator + HOSTS_LINE.encode())
        yield
    finally:
        HOSTS_FILE.write_bytes(original)


@pytest.fixture
def pyc8_server(server_factory, monkeypatch):
    if os.geteuid() != 0:
        pytest.skip("pyC8 needs the server on port 443 and api-localhost in /etc/hosts, which needs root")
    with port_443_lock(), api_localhost_mapped():
        if not port_is_free(PORT):
            pytest.skip(f"port {PORT} is in use; pyC8 can only connect to port 443")
        if not resolves_to_loopback("api-localhost"):
            pytest.skip("api-localhost does not resolve to 127.0.0.1 even after editing /etc/hosts")
        server = server_factory.start(port=PORT, advertise_url="localhost")
        ca = str(server.tls.ca_file)
        monkeypatch.setenv("REQUESTS_CA_BUNDLE", ca)
        monkeypatch.setenv("WEBSOCKET_CLIENT_CA_BUNDLE", ca)
        for name in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"):
            monkeypatch.delenv(name, raising=False)
        yield server
        server.stop()


def connect(server):
    return c8_client.C8Client(
        protocol="https", host="localhost", port=PORT, geofabric="_system",
        email=server.admin_email, password=server.admin_password,
    )


def decoded(message: dict) -> str:
    return base64.b64decode(message["payload"]).decode()


def test_pyc8_stream_lifecycle(pyc8_server):
    client = connect(pyc8_server)
    name = unique_name("pyc8")
    topic = f"c8globals.{name}"
    subscription = unique_name("pyc8_sub")

    assert client.create_stream(name) == {"stream-id": topic}
    assert client.has_stream(name) is True
    assert client.has_stream(name, local=True) is False
    listed = {stream["name"]: stream for stream in client.get_streams()}
    assert listed[topic]["type"] == "persistent"
    assert listed[topic]["status"] == "active"

    producer = client.create_stream_producer(name)
    try:
        producer.send("hello from pyC8")
        ack = json.loads(producer.recv())
    finally:
        producer.close()
    assert ack["result"] == "ok"

    subscriber = client.subscribe(name, subscription_name=subscription)
    try:
        subscriber.settimeout(10)
        message = json.loads(subscriber.recv())
        subscriber.send(json.dumps({"messageId": message["messageId"]}))
    finally:
        subscriber.close()
    assert decoded(message) == "hello from pyC8"

    # The only subscription acknowledged the first message, so it is gone; a reader from the earliest
    # retained message sees the next one, which the subscription has not acknowledged yet.
    assert client.publish_message_stream(topic, "from REST") is True
    reader = client.create_stream_reader(name, start_message_id="earliest")
    try:
        reader.settimeout(10)
        read = json.loads(reader.recv())
    finally:
        reader.close()
    assert decoded(read) == "from REST"

    stats = client.get_stream_stats(name)
    assert isinstance(stats, dict)
    assert subscription in stats["subscriptions"]
    backlog = client.get_stream_backlog(name)
    assert isinstance(backlog, dict)
    assert client.get_stream_subscriptions(name) == [subscription]

    assert client.delete_stream_subscription(topic, subscription) == "OK"
    assert client.get_stream_subscriptions(name) == []

    assert client.delete_stream(topic) is True
    assert client.has_stream(name) is False


def test_pyc8_unsubscribe_and_ttl(pyc8_server):
    client = connect(pyc8_server)
    name = unique_name("pyc8_unsub")
    subscription = unique_name("pyc8_everywhere")
    client.create_stream(name)
    subscriber = client.subscribe(name, subscription_name=subscription, consumer_type="Shared")
    subscriber.close()
    assert client.get_stream_subscriptions(name) == [subscription]

    assert client.unsubscribe(subscription) == "OK"
    assert client.get_stream_subscriptions(name) == []

    ttl = client.get_message_stream_ttl()
    assert isinstance(ttl, int) and not isinstance(ttl, bool)
    client.set_message_stream_ttl(ttl + 60)
    assert client.get_message_stream_ttl() == ttl + 60
    client.set_message_stream_ttl(ttl)
    assert client.get_message_stream_ttl() == ttl
