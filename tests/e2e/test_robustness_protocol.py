"""Malformed HTTP and WebSocket input: the right status or close code, and no effect on other connections."""

from __future__ import annotations

import pytest

from rivulet_e2e import (
    RawConnection, assert_success, close_quietly, publish_frames, raw_websocket, read_close_code, unique_name,
    ws_client_frame, ws_connect, ws_url,
)

MALFORMED_REQUESTS = {
    "no spaces": b"GARBAGE\r\n\r\n",
    "too many spaces": b"GET /a b HTTP/1.1\r\nHost: x\r\n\r\n",
    "relative target": b"GET streams HTTP/1.1\r\nHost: x\r\n\r\n",
    "control character in target": b"GET /a\x01b HTTP/1.1\r\nHost: x\r\n\r\n",
    "unknown version": b"GET / HTTP/x.y\r\nHost: x\r\n\r\n",
    "header without colon": b"GET / HTTP/1.1\r\nHost x\r\n\r\n",
    "space in header name": b"GET / HTTP/1.1\r\nBad Name: x\r\n\r\n",
    "NUL in header value": b"GET / HTTP/1.1\r\nHost: a\x00b\r\n\r\n",
    "folded header": b"GET / HTTP/1.1\r\nHost: x\r\n folded\r\n\r\n",
    "negative length": b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n",
    "conflicting lengths": b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab",
    "length with chunked": b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n",
    "bad chunk size": b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
    "binary noise": bytes(range(1, 32)) + b"\r\n\r\n",
}


@pytest.mark.parametrize("request_bytes", MALFORMED_REQUESTS.values(), ids=MALFORMED_REQUESTS.keys())
def test_malformed_request_gets_400_and_close(rest, request_bytes):
    bystander = RawConnection(rest.server)
    try:
        with RawConnection(rest.server) as connection:
            connection.send(request_bytes)
            response = connection.read_response()
            assert response.status == 400, response
            assert connection.reads_end_of_stream()
        # A connection opened before the bad one still works.
        bystander.send(f"GET /_fabric/_system/_api/streams HTTP/1.1\r\nHost: localhost\r\n"
                       f"Authorization: bearer {rest.token}\r\n\r\n".encode())
        assert bystander.read_response().status == 200
    finally:
        bystander.close()
    assert_success(rest.request("GET", rest.streams_path()))


def test_unsupported_http_version_gets_505(rest):
    with RawConnection(rest.server) as connection:
        connection.send(b"GET / HTTP/2.0\r\nHost: x\r\n\r\n")
        assert connection.read_response().status == 505
        assert connection.reads_end_of_stream()
    assert_success(rest.request("GET", rest.streams_path()))


MALFORMED_FRAMES = {
    "unmasked client frame": (ws_client_frame(0x1, b"{}", masked=False), 1002),
    "reserved bits": (bytes([0xC1]) + ws_client_frame(0x1, b"{}")[1:], 1002),
    "reserved opcode": (ws_client_frame(0x3, b"x"), 1002),
    "fragmented ping": (ws_client_frame(0x9, b"x", fin=False), 1002),
    "control frame over 125 bytes": (ws_client_frame(0x9, b"x" * 126), 1002),
    "continuation without start": (ws_client_frame(0x0, b"x"), 1002),
    "invalid close code": (ws_client_frame(0x8, (1005).to_bytes(2, "big")), 1002),
    "invalid UTF-8 text": (ws_client_frame(0x1, b"\xed\xa0\x80"), 1007),
}


@pytest.mark.parametrize("frame, code", MALFORMED_FRAMES.values(), ids=MALFORMED_FRAMES.keys())
def test_malformed_frame_gets_rfc6455_close_code(rest, frame, code):
    name = unique_name("bad-frame")
    url = ws_url(rest.server, "producer", name)
    bystander = ws_connect(rest.server, url, token=rest.token)
    connection = raw_websocket(rest.server, url.split(f":{rest.server.port}", 1)[1], rest.token)
    try:
        connection.send(frame)
        assert read_close_code(connection) == code
        publish_frames(bystander, ["still publishing"])
    finally:
        connection.close()
        close_quietly(bystander)
    assert_success(rest.request("GET", rest.streams_path()))
