"""Durability across a crash: SIGKILL the server mid-consume, restart it on the same data directory."""

from __future__ import annotations

import json
import time

import pytest

from rivulet_e2e import (
    b64,
    close_quietly,
    logged_in_client,
    recv_json,
    recv_json_or_none,
    unb64,
    unique_name,
    ws_connect,
    ws_url,
)

MESSAGE_COUNT = 10_000
PUBLISH_WINDOW = 500
ACKS_BEFORE_PAUSE = 4_000
# Acks get no reply, so the test stops acking this long before the kill. Every ack sent before the pause has
# then had time to reach the server.
PAUSE_BEFORE_KILL_SECONDS = 0.3
PHASE_TIMEOUT_SECONDS = 120


def publish_all(producer) -> dict[str, str]:
    """Publish MESSAGE_COUNT messages with up to PUBLISH_WINDOW unacked; return payload -> messageId of each ok."""
    acked: dict[str, str] = {}
    failures: list[dict] = []
    next_index = 0
    in_flight = 0
    deadline = time.monotonic() + PHASE_TIMEOUT_SECONDS
    while len(acked) + len(failures) < MESSAGE_COUNT:
        assert time.monotonic() < deadline, f"publishing stalled after {len(acked)} acks"
        while in_flight < PUBLISH_WINDOW and next_index < MESSAGE_COUNT:
            payload = f"crash-{next_index:05d}"
            producer.send(json.dumps({"payload": b64(payload), "context": payload}))
            next_index += 1
            in_flight += 1
        ack = recv_json(producer, timeout=30)
        in_flight -= 1
        if ack.get("result") == "ok":
            acked[ack["context"]] = ack["messageId"]
        else:
            failures.append(ack)
    assert failures == [], f"{len(failures)} publishes failed, first: {failures[:3]}"
    return acked


@pytest.mark.slow
def test_crash_recovery(server_factory):
    server = server_factory.start()
    rest = logged_in_client(server)
    name = unique_name("crash")
    subscription = unique_name("crash_sub")

    producer = ws_connect(server, ws_url(server, "producer", name), token=rest.token)
    started = time.monotonic()
    try:
        acked_publishes = publish_all(producer)
    finally:
        close_quietly(producer)
    elapsed = time.monotonic() - started
    print(f"\npublished {len(acked_publishes)} messages with fsync=always in {elapsed:.2f} s "
          f"({len(acked_publishes) / elapsed:.0f} msg/s, window {PUBLISH_WINDOW})")
    assert len(acked_publishes) == MESSAGE_COUNT

    delivered_before: set[str] = set()
    acked_before_pause: set[str] = set()
    consumer = ws_connect(server, ws_url(server, "consumer", name, subscription), token=rest.token)
    try:
        deadline = time.monotonic() + PHASE_TIMEOUT_SECONDS
        while len(acked_before_pause) < ACKS_BEFORE_PAUSE:
            assert time.monotonic() < deadline, f"consumed only {len(acked_before_pause)} messages before the kill"
            message = recv_json(consumer, timeout=30)
            payload = unb64(message["payload"]).decode()
            delivered_before.add(payload)
            consumer.send(json.dumps({"messageId": message["messageId"]}))
            acked_before_pause.add(payload)
        # Keep reading without acking during the pause: these deliveries must come back after the restart.
        pause_end = time.monotonic() + PAUSE_BEFORE_KILL_SECONDS
        while time.monotonic() < pause_end:
            message = recv_json_or_none(consumer, max(0.01, pause_end - time.monotonic()))
            if message is not None:
                delivered_before.add(unb64(message["payload"]).decode())
        server.kill()
    finally:
        close_quietly(consumer)

    restarted = server_factory.restart(server)
    rest = logged_in_client(restarted)
    expected_after = set(acked_publishes) - acked_before_pause
    delivered_after: list[str] = []
    seen_after: set[str] = set()
    consumer = ws_connect(restarted, ws_url(restarted, "consumer", name, subscription), token=rest.token)
    try:
        deadline = time.monotonic() + PHASE_TIMEOUT_SECONDS
        while not expected_after <= seen_after:
            assert time.monotonic() < deadline, (
                f"after the restart only {len(seen_after & expected_after)} of "
                f"{len(expected_after)} unacknowledged messages came back"
            )
            message = recv_json_or_none(consumer, 5)
            if message is None:
                continue
            payload = unb64(message["payload"]).decode()
            delivered_after.append(payload)
            seen_after.add(payload)
            consumer.send(json.dumps({"messageId": message["messageId"]}))
        # Anything still queued would be a redelivery of something acknowledged before the pause.
        while (message := recv_json_or_none(consumer, 1.0)) is not None:
            delivered_after.append(unb64(message["payload"]).decode())
    finally:
        close_quietly(consumer)

    print(f"before the kill: {len(delivered_before)} delivered, {len(acked_before_pause)} acked; "
          f"after the restart: {len(delivered_after)} delivered")
    came_back = acked_before_pause & set(delivered_after)
    assert came_back == set(), f"{len(came_back)} acknowledged messages came back, e.g. {sorted(came_back)[:5]}"
    lost = set(acked_publishes) - delivered_before - set(delivered_after)
    assert lost == set(), f"{len(lost)} published messages were never delivered, e.g. {sorted(lost)[:5]}"
    missing_redelivery = expected_after - set(delivered_after)
    assert missing_redelivery == set()
