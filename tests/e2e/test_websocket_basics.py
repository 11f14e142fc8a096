"""Pulsar WebSocket surface: producer acks, deliveries, handshake refusals, readers and subscription types."""

from __future__ import annotations

import base64
import json

from rivulet_e2e import (
    b64,
    close_quietly,
    collect,
    handshake_status,
    publish_frames,
    recv_json,
    recv_json_or_none,
    unb64,
    unique_name,
    ws_connect,
    ws_url,
)

# Long enough for a delivery on loopback, short enough to keep "nothing arrives" checks quick.
QUIET_SECONDS = 1.0


def test_producer_ack_shape(shared_server, rest):
    name = unique_name("ack_shape")
    producer = ws_connect(shared_server, ws_url(shared_server, "producer", name), token=rest.token)
    try:
        producer.send(json.dumps({"payload": b64("hello"), "context": "ctx-1"}))
        ack = recv_json(producer)
    finally:
        close_quietly(producer)

    assert ack["result"] == "ok"
    assert ack["context"] == "ctx-1"
    assert isinstance(ack["messageId"], str)
    assert base64.b64decode(ack["messageId"], validate=True)


def test_producer_acks_echo_each_context(shared_server, rest):
    name = unique_name("contexts")
    producer = ws_connect(shared_server, ws_url(shared_server, "producer", name), token=rest.token)
    try:
        for index in range(5):
            producer.send(json.dumps({"payload": b64(f"m{index}"), "context": f"c{index}"}))
        acks = [recv_json(producer) for _ in range(5)]
    finally:
        close_quietly(producer)

    assert [ack["context"] for ack in acks] == [f"c{index}" for index in range(5)]
    assert all(ack["result"] == "ok" for ack in acks)
    assert len({ack["messageId"] for ack in acks}) == 5


def test_producer_bad_base64_keeps_socket(shared_server, rest):
    name = unique_name("bad_base64")
    producer = ws_connect(shared_server, ws_url(shared_server, "producer", name), token=rest.token)
    try:
        producer.send(json.dumps({"payload": "not base64 !!", "context": "bad"}))
        refused = recv_json(producer)
        producer.send(json.dumps({"payload": b64("fine"), "context": "good"}))
        accepted = recv_json(producer)
    finally:
        close_quietly(producer)

    assert refused["result"] == "send-error:7"
    assert refused["context"] == "bad"
    assert refused.get("errorMsg")
    assert accepted["result"] == "ok"
    assert accepted["context"] == "good"


def test_producer_non_json_frame(shared_server, rest):
    name = unique_name("non_json")
    producer = ws_connect(shared_server, ws_url(shared_server, "producer", name), token=rest.token)
    try:
        producer.send("this is not JSON")
        refused = recv_json(producer)
        producer.send(json.dumps({"payload": b64("after"), "context": "after"}))
        accepted = recv_json(producer)
    finally:
        close_quietly(producer)

    assert refused["result"] == "send-error:3"
    assert accepted["result"] == "ok"


def test_consumer_delivery_fields(shared_server, rest):
    name = unique_name("delivery")
    subscription = unique_name("fields")
    producer = ws_connect(shared_server, ws_url(shared_server, "producer", name), token=rest.token)
    try:
        ack = publish_frames(producer, ["payload one"])[0]
    finally:
        close_quietly(producer)
    consumer = ws_connect(shared_server, ws_url(shared_server, "consumer", name, subscription), token=rest.token)
    try:
        message = collect(consumer, 1).messages[0]
    finally:
        close_quietly(consumer)

    assert isinstance(message["messageId"], str) and message["messageId"]
    assert base64.b64decode(message["messageId"], validate=True)
    assert message["payload"] == b64("payload one")
    assert message["properties"] == {}
    assert isinstance(message["publishTime"], str) and message["publishTime"]
    assert message["redeliveryCount"] == 0
    assert ack["result"] == "ok"


def test_consumer_delivers_key_and_properties(shared_server, rest):
    name = unique_name("keyed")
    producer = ws_connect(shared_server, ws_url(shared_server, "producer", name), token=rest.token)
    try:
        producer.send(json.dumps({"payload": b64("k"), "key": "order-42", "properties": {"kind": "test"}}))
        assert recv_json(producer)["result"] == "ok"
    finally:
        close_quietly(producer)
    consumer = ws_connect(shared_server, ws_url(shared_server, "consumer", name, unique_name("k")), token=rest.token)
    try:
        message = collect(consumer, 1).messages[0]
    finally:
        close_quietly(consumer)

    assert message["key"] == "order-42"
    assert message["properties"] == {"kind": "test"}


def test_exclusive_second_consumer_rejected(shared_server, rest):
    name = unique_name("exclusive")
    subscription = unique_name("only_one")
    url = ws_url(shared_server, "consumer", name, subscription, query={"subscriptionType": "Exclusive"})
    first = ws_connect(shared_server, url, token=rest.token)
    try:
        assert handshake_status(shared_server, url, token=rest.token) == 409
    finally:
        close_quietly(first)


def test_otp_authenticates_once(shared_server, rest):
    name = unique_name("otp")
    otp = rest.otp()
    url = ws_url(shared_server, "producer", name, query={"otp": otp})

    producer = ws_connect(shared_server, url)
    try:
        assert publish_frames(producer, ["via otp"])[0]["result"] == "ok"
    finally:
        close_quietly(producer)

    assert handshake_status(shared_server, url) == 401


def test_wrong_otp_rejected(shared_server):
    name = unique_name("wrong_otp")
    url = ws_url(shared_server, "producer", name, query={"otp": "not-an-otp"})

    assert handshake_status(shared_server, url) == 401


def test_missing_credentials_rejected(shared_server):
    url = ws_url(shared_server, "consumer", unique_name("no_auth"), unique_name("sub"))

    assert handshake_status(shared_server, url) == 401


def test_websocket_path_with_double_slashes(shared_server, rest):
    name = unique_name("double_slash")
    url = ws_url(shared_server, "producer", name).replace("/_ws/ws/v2/", "//_ws/ws/v2//")

    producer = ws_connect(shared_server, url, token=rest.token)
    try:
        ack = publish_frames(producer, ["slashes"])[0]
    finally:
        close_quietly(producer)

    assert ack["result"] == "ok"


def test_subscription_type_case_insensitive(shared_server, rest):
    name = unique_name("lowercase_type")
    subscription = unique_name("lower")
    url = ws_url(shared_server, "consumer", name, subscription, query={"subscriptionType": "shared"})

    first = ws_connect(shared_server, url, token=rest.token)
    try:
        # A second consumer is welcome only if the subscription really is Shared.
        assert handshake_status(shared_server, url, token=rest.token) == 101
    finally:
        close_quietly(first)


def test_reader_earliest(shared_server, rest):
    name = unique_name("reader_earliest")
    producer = ws_connect(shared_server, ws_url(shared_server, "producer", name), token=rest.token)
    try:
        publish_frames(producer, ["r0", "r1", "r2"])
    finally:
        close_quietly(producer)

    reader = ws_connect(
        shared_server, ws_url(shared_server, "reader", name, query={"messageId": "earliest"}), token=rest.token
    )
    try:
        received = collect(reader, 3)
        extra = recv_json_or_none(reader, QUIET_SECONDS)
    finally:
        close_quietly(reader)

    assert received.payloads == ["r0", "r1", "r2"]
    assert extra is None


def test_reader_latest(shared_server, rest):
    name = unique_name("reader_latest")
    producer = ws_connect(shared_server, ws_url(shared_server, "producer", name), token=rest.token)
    try:
        publish_frames(producer, ["before"])
        reader = ws_connect(
            shared_server, ws_url(shared_server, "reader", name, query={"messageId": "latest"}), token=rest.token
        )
        try:
            nothing = recv_json_or_none(reader, QUIET_SECONDS)
            publish_frames(producer, ["after"])
            received = collect(reader, 1)
        finally:
            close_quietly(reader)
    finally:
        close_quietly(producer)

    assert nothing is None
    assert received.payloads == ["after"]


def test_reader_leaves_subscriptions_alone(shared_server, rest):
    name = unique_name("reader_no_sub")
    producer = ws_connect(shared_server, ws_url(shared_server, "producer", name), token=rest.token)
    try:
        publish_frames(producer, ["x"])
    finally:
        close_quietly(producer)
    reader = ws_connect(
        shared_server, ws_url(shared_server, "reader", name, query={"messageId": "earliest"}), token=rest.token
    )
    try:
        collect(reader, 1)
    finally:
        close_quietly(reader)

    listed = rest.request("GET", rest.streams_path(f"/c8globals.{name}/subscriptions"))
    assert listed.status_code == 200
    assert listed.json()["result"] == []


def test_shared_round_robin(shared_server, rest):
    name = unique_name("shared")
    subscription = unique_name("workers")
    url = ws_url(shared_server, "consumer", name, subscription, query={"subscriptionType": "Shared"})
    first = ws_connect(shared_server, url, token=rest.token)
    second = ws_connect(shared_server, url, token=rest.token)
    producer = ws_connect(shared_server, ws_url(shared_server, "producer", name), token=rest.token)
    try:
        publish_frames(producer, [f"job {index}" for index in range(10)])
        seen: dict[str, list[str]] = {"first": [], "second": []}
        for _ in range(40):
            if len(seen["first"]) + len(seen["second"]) >= 10:
                break
            for label, consumer in (("first", first), ("second", second)):
                message = recv_json_or_none(consumer, 0.25)
                if message is not None:
                    seen[label].append(unb64(message["payload"]).decode())
                    consumer.send(json.dumps({"messageId": message["messageId"]}))
    finally:
        close_quietly(producer, first, second)

    print(f"Shared dispatch: first={len(seen['first'])} second={len(seen['second'])}")
    assert sorted(seen["first"] + seen["second"]) == sorted(f"job {index}" for index in range(10))
    # Round robin over two ready consumers gives each about half.
    assert len(seen["first"]) >= 3
    assert len(seen["second"]) >= 3


def test_unacked_redelivered_after_disconnect(shared_server, rest):
    name = unique_name("redeliver")
    subscription = unique_name("retry")
    url = ws_url(shared_server, "consumer", name, subscription, query={"subscriptionType": "Shared"})
    producer = ws_connect(shared_server, ws_url(shared_server, "producer", name), token=rest.token)
    try:
        publish_frames(producer, ["unacked"])
    finally:
        close_quietly(producer)

    first = ws_connect(shared_server, url, token=rest.token)
    try:
        original = collect(first, 1, ack=False).messages[0]
    finally:
        close_quietly(first)
    second = ws_connect(shared_server, url, token=rest.token)
    try:
        again = collect(second, 1).messages[0]
    finally:
        close_quietly(second)

    assert original["redeliveryCount"] == 0
    assert again["messageId"] == original["messageId"]
    assert again["payload"] == b64("unacked")
    assert again["redeliveryCount"] == 1


def test_acked_message_not_redelivered(shared_server, rest):
    name = unique_name("acked")
    subscription = unique_name("done")
    url = ws_url(shared_server, "consumer", name, subscription)
    producer = ws_connect(shared_server, ws_url(shared_server, "producer", name), token=rest.token)
    try:
        publish_frames(producer, ["first", "second"])
    finally:
        close_quietly(producer)

    consumer = ws_connect(shared_server, url, token=rest.token)
    try:
        received = collect(consumer, 2, ack=False)
        consumer.send(json.dumps({"messageId": received.messages[0]["messageId"]}))
    finally:
        close_quietly(consumer)
    consumer = ws_connect(shared_server, url, token=rest.token)
    try:
        again = collect(consumer, 1)
        extra = recv_json_or_none(consumer, QUIET_SECONDS)
    finally:
        close_quietly(consumer)

    assert again.payloads == ["second"]
    assert extra is None
