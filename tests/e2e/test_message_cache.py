"""A message cache far smaller than the backlog: bodies are read back from disk, in order, before and after a restart."""

from __future__ import annotations

import json
import time

from rivulet_e2e import (
    b64,
    close_quietly,
    logged_in_client,
    recv_json,
    unb64,
    unique_name,
    ws_connect,
    ws_url,
)

CACHE_BYTES = 65_536
MESSAGE_COUNT = 3_000
PAYLOAD_BYTES = 1_024  # about 3 MB of backlog, 45 times the cache
PUBLISH_WINDOW = 200
PHASE_TIMEOUT_SECONDS = 120
SERVER_ARGS = ("--region", "local", "--fsync", "always", "--message-cache-bytes", str(CACHE_BYTES))


def payload(index: int) -> str:
    prefix = f"cache-{index:05d}-"
    return prefix + "x" * (PAYLOAD_BYTES - len(prefix))


def publish_all(producer) -> None:
    sent = 0
    acked = 0
    deadline = time.monotonic() + PHASE_TIMEOUT_SECONDS
    while acked < MESSAGE_COUNT:
        assert time.monotonic() < deadline, f"publishing stalled after {acked} acks"
        while sent - acked < PUBLISH_WINDOW and sent < MESSAGE_COUNT:
            producer.send(json.dumps({"payload": b64(payload(sent)), "context": str(sent)}))
            sent += 1
        ack = recv_json(producer, timeout=30)
        assert ack.get("result") == "ok", f"publish failed: {ack}"
        acked += 1


def receive_in_order(socket_, role: str) -> None:
    """Receive (and acknowledge) every message, checking each arrives once, in publish order."""
    deadline = time.monotonic() + PHASE_TIMEOUT_SECONDS
    for index in range(MESSAGE_COUNT):
        assert time.monotonic() < deadline, f"{role} received only {index} of {MESSAGE_COUNT} messages"
        message = recv_json(socket_, timeout=30)
        got = unb64(message["payload"]).decode()
        assert got == payload(index), f"{role}: message {index} arrived as {got[:16]}"
        socket_.send(json.dumps({"messageId": message["messageId"]}))


def test_backlog_beyond_cache_is_consumed_from_earliest(server_factory):
    server = server_factory.start(extra_args=SERVER_ARGS)
    rest = logged_in_client(server)
    name = unique_name("cache")
    # A subscription that acknowledges nothing before the restart keeps every message retained for it.
    keeper = unique_name("cache_keeper")
    close_quietly(ws_connect(server, ws_url(server, "consumer", name, keeper), token=rest.token))
    producer = ws_connect(server, ws_url(server, "producer", name), token=rest.token)
    try:
        publish_all(producer)
    finally:
        close_quietly(producer)

    # The reader goes first: messages every subscription acknowledged are no longer retained for readers.
    reader = ws_connect(server, ws_url(server, "reader", name, query={"messageId": "earliest"}), token=rest.token)
    try:
        receive_in_order(reader, "reader")
    finally:
        close_quietly(reader)
    subscription = unique_name("cache_sub")
    consumer = ws_connect(
        server, ws_url(server, "consumer", name, subscription, query={"subscriptionInitialPosition": "Earliest"}),
        token=rest.token,
    )
    try:
        receive_in_order(consumer, "consumer")
    finally:
        close_quietly(consumer)

    # After a restart the backlog is indexed without bodies; the keeper subscription reads it all from disk.
    restarted = server_factory.restart(server, extra_args=SERVER_ARGS)
    rest = logged_in_client(restarted)
    consumer = ws_connect(restarted, ws_url(restarted, "consumer", name, keeper), token=rest.token)
    try:
        receive_in_order(consumer, "consumer after restart")
    finally:
        close_quietly(consumer)
