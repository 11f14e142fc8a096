"""Acceptance checks from the release QA pass: client habits the other files do not exercise."""

from __future__ import annotations

import json
from urllib.parse import quote

import pytest

from rivulet_e2e import (
    b64, close_quietly, logged_in_client, namespace, publish_frames, recv_json, recv_json_or_none, topic_name,
    unb64, unique_name, wait_for, ws_connect, ws_url,
)


@pytest.fixture
def rest(shared_server):
    return logged_in_client(shared_server)


def test_token_query_parameter(rest):
    """A bare JWT and `Bearer%20<jwt>` in `?token=` both open a producer."""
    name = unique_name("tokenquery")
    assert rest.create_stream(name).status_code == 202
    base = ws_url(rest.server, "producer", name)
    for query in (f"?token=Bearer%20{rest.token}", f"?token={rest.token}"):
        producer = ws_connect(rest.server, base + query)
        try:
            publish_frames(producer, ["hello"])
        finally:
            close_quietly(producer)


def test_loose_producer_frames(rest):
    """A numeric context echoes as a string, numeric properties become strings, `""` and `noop` arrive as sent."""
    server = rest.server
    name = unique_name("loose")
    assert rest.create_stream(name).status_code == 202
    consumer = ws_connect(server, ws_url(server, "consumer", name, unique_name("sub")), token=rest.token)
    producer = ws_connect(server, ws_url(server, "producer", name), token=rest.token)
    try:
        producer.send(json.dumps({"payload": b64("x"), "context": 5, "properties": {"n": 1, "b": True}}))
        ack = recv_json(producer)
        assert ack["result"] == "ok"
        assert ack["context"] == "5"
        producer.send(json.dumps({"payload": ""}))
        assert recv_json(producer)["result"] == "ok"
        producer.send('{"payload":"noop"}')
        assert recv_json(producer)["result"] == "ok"

        first, empty, noop = (recv_json(consumer) for _ in range(3))
        assert first["properties"] == {"n": "1", "b": "true"}
        assert empty["payload"] == ""
        assert noop["payload"] == "noop"
    finally:
        close_quietly(consumer, producer)


def test_shared_ack_on_another_socket(rest):
    """An ack sent on another socket of the same Shared subscription clears the backlog."""
    server = rest.server
    name = unique_name("crossack")
    subscription = unique_name("shared")
    assert rest.create_stream(name).status_code == 202
    url = ws_url(server, "consumer", name, subscription, query={"subscriptionType": "Shared"})
    first, second = ws_connect(server, url, token=rest.token), ws_connect(server, url, token=rest.token)
    producer = ws_connect(server, ws_url(server, "producer", name), token=rest.token)
    try:
        sent_id = publish_frames(producer, ["once"])[0]["messageId"]
        receiver, message = next(
            (socket_, found) for socket_ in (first, second) if (found := recv_json_or_none(socket_, 2)) is not None
        )
        other = second if receiver is first else first
        other.send(json.dumps({"messageId": message["messageId"]}))
        assert message["messageId"] == sent_id

        path = rest.streams_path(f"/{topic_name(name)}/stats")
        def backlog() -> int:
            return rest.request("GET", path).json()["result"]["subscriptions"][subscription]["msgBacklog"]

        wait_for(lambda: backlog() == 0, message="backlog 0 after an ack on the other socket")
    finally:
        close_quietly(first, second, producer)


def test_reader_percent_encoded_message_id(rest):
    """A reader given a `%2B`/`%2F`-encoded id starts at the message after it."""
    server = rest.server
    name = unique_name("plusid")
    assert rest.create_stream(name).status_code == 202
    producer = ws_connect(server, ws_url(server, "producer", name), token=rest.token)
    try:
        ids = [ack["messageId"] for ack in publish_frames(producer, [f"m{index}" for index in range(260)])]
    finally:
        close_quietly(producer)
    special = [index for index, id_ in enumerate(ids[:-1]) if "+" in id_ or "/" in id_]
    assert special, f"no id with '+' or '/' among {ids}"
    index = special[0]
    url = (f"{server.ws_base}/reader/persistent/{server.tenant}/{namespace()}/{topic_name(name)}"
           f"?messageId={quote(ids[index], safe='')}")
    reader = ws_connect(server, url, token=rest.token)
    try:
        assert unb64(recv_json(reader)["payload"]).decode() == f"m{index + 1}"
    finally:
        close_quietly(reader)
