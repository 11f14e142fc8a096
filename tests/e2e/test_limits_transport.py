"""Size and time limits of the transport: 431, 413, slow clients, and WebSocket close 1009.

One server with small limits serves the whole module; after every rejection a normal request must still work.
"""

from __future__ import annotations

import json
import socket

import pytest

from rivulet_e2e import (
    RawConnection, ServerFactory, assert_success, b64, close_quietly, logged_in_client, publish_frames,
    raw_request, raw_websocket, read_close_code, unique_name, ws_client_frame, ws_connect, ws_url,
)

MAX_HEADER_BYTES = 4096
MAX_BODY_BYTES = 65536
MAX_FRAME_BYTES = 4096
MAX_MESSAGE_BYTES = 16384


@pytest.fixture(scope="module")
def limited(tls):
    factory = ServerFactory(tls)
    try:
        yield factory.start(extra_args=(
            "--max-header-bytes", str(MAX_HEADER_BYTES),
            "--max-body-bytes", str(MAX_BODY_BYTES),
            "--header-read-timeout", "1s",
            "--max-websocket-frame-bytes", str(MAX_FRAME_BYTES),
            "--max-websocket-message-bytes", str(MAX_MESSAGE_BYTES),
        ))
    finally:
        factory.cleanup()


@pytest.fixture(scope="module")
def client(limited):
    return logged_in_client(limited)


def assert_still_serving(client) -> None:
    assert client.server.is_running(), "the server process exited"
    assert_success(client.request("GET", client.streams_path()))


def test_oversize_header_gets_431_and_close(client):
    with RawConnection(client.server) as connection:
        connection.send(raw_request("/_api/version", extra=f"X-Filler: {'a' * MAX_HEADER_BYTES}\r\n"))
        response = connection.read_response()
        assert response.status == 431, response
        assert connection.reads_end_of_stream()
    assert_still_serving(client)


def test_header_below_limit_is_served(client):
    filler = "a" * (MAX_HEADER_BYTES // 2)
    response = client.request("GET", client.streams_path(), headers={"X-Filler": filler})
    assert_success(response)


def test_oversize_declared_body_gets_413(client):
    with RawConnection(client.server) as connection:
        connection.send(
            f"POST /_open/auth HTTP/1.1\r\nHost: localhost\r\nContent-Length: {MAX_BODY_BYTES + 1}\r\n\r\n".encode())
        response = connection.read_response()
        assert response.status == 413, response
        assert connection.reads_end_of_stream()
    assert_still_serving(client)


def test_oversize_chunked_body_gets_413(client):
    chunk = b"x" * 8192
    with RawConnection(client.server) as connection:
        connection.send(b"POST /_open/auth HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n")
        try:
            for _ in range(MAX_BODY_BYTES // len(chunk) + 1):
                connection.send(b"2000\r\n" + chunk + b"\r\n")
        except (BrokenPipeError, ConnectionResetError):
            pass  # The server may close before the last chunk is sent; its response is still readable.
        response = connection.read_response()
        assert response.status == 413, response
    assert_still_serving(client)


def test_rest_publish_over_body_limit_gets_413(client):
    name = unique_name("limit-body")
    assert_success(client.create_stream(name))
    with RawConnection(client.server) as connection:
        body = b"x" * (MAX_BODY_BYTES + 1)
        path = client.streams_path(f"/c8globals.{name}/publish")
        connection.send(f"POST {path} HTTP/1.1\r\nHost: localhost\r\nAuthorization: bearer {client.token}\r\n"
                        f"Content-Length: {len(body)}\r\n\r\n".encode())
        assert connection.read_response().status == 413
    assert_success(client.publish(f"c8globals.{name}", b"x" * 1000))


def test_client_that_never_finishes_headers_is_disconnected(client):
    with RawConnection(client.server, timeout=10) as connection:
        connection.send(b"GET /_api/version HTTP/1.1\r\nHost: localhost\r\n")
        # --header-read-timeout is 1 s; the socket timeout of 10 s only bounds the test.
        assert connection.reads_end_of_stream()
    assert_still_serving(client)


def test_silent_tcp_client_is_disconnected(client):
    with socket.create_connection(("127.0.0.1", client.server.port), timeout=10) as silent:
        # No TLS handshake at all: the header timeout covers it too.
        assert silent.recv(1) == b""
    assert_still_serving(client)


def test_oversize_websocket_frame_gets_1009(client):
    name = unique_name("limit-frame")
    path = ws_url(client.server, "producer", name).split(f":{client.server.port}", 1)[1]
    bystander = ws_connect(client.server, ws_url(client.server, "producer", name), token=client.token)
    connection = raw_websocket(client.server, path, client.token)
    try:
        connection.send(ws_client_frame(0x1, b"a" * (MAX_FRAME_BYTES + 1)))
        assert read_close_code(connection) == 1009
        # The other producer on the same stream keeps working.
        publish_frames(bystander, ["after the oversize frame"])
    finally:
        connection.close()
        close_quietly(bystander)
    assert_still_serving(client)


def test_oversize_fragmented_message_gets_1009(client):
    name = unique_name("limit-message")
    path = ws_url(client.server, "producer", name).split(f":{client.server.port}", 1)[1]
    connection = raw_websocket(client.server, path, client.token)
    try:
        fragment = b"a" * MAX_FRAME_BYTES
        fragments = MAX_MESSAGE_BYTES // MAX_FRAME_BYTES + 1
        connection.send(ws_client_frame(0x1, fragment, fin=False))
        for _ in range(fragments - 2):
            connection.send(ws_client_frame(0x0, fragment, fin=False))
        connection.send(ws_client_frame(0x0, fragment, fin=True))
        assert read_close_code(connection) == 1009
    finally:
        connection.close()
    assert_still_serving(client)


def test_message_within_limits_is_published(client):
    name = unique_name("limit-ok")
    path = ws_url(client.server, "producer", name).split(f":{client.server.port}", 1)[1]
    connection = raw_websocket(client.server, path, client.token)
    try:
        text = json.dumps({"payload": b64("x" * 1000), "context": "fragmented"}).encode()
        connection.send(ws_client_frame(0x1, text[:500], fin=False) + ws_client_frame(0x0, text[500:]))
        while b"\"result\"" not in connection.buffer:
            assert connection._fill(), "connection ended before the ack"
        assert b"\"ok\"" in connection.buffer
    finally:
        connection.close()
