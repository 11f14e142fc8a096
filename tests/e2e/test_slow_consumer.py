"""Sockets that stop reading: the server pauses their deliveries instead of queueing a whole receive window.

A Shared consumer and a reader connect and then read nothing while a producer publishes far more than the
outbound high-water mark. The server's resident memory must stay well below what queueing every message for
both sockets would take, and once the clients read, every message arrives once, in publish order.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

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

HIGH_WATER_BYTES = 256 << 10
CACHE_BYTES = 2 << 20
MESSAGE_COUNT = 250
PAYLOAD_BYTES = 100_000
# Queueing every message would cost each stalled socket about 33 MB of frames, because base64 grows payloads by a
# third, so the two sockets would add over 60 MB. With deliveries paused each socket holds about the high-water
# mark. Measured with a debug build on 2 cores: 70 MiB of growth when the sockets' writability was ignored,
# 5 to 8 MiB with flow control.
MAX_GROWTH_BYTES = 32 << 20
PUBLISH_WINDOW = 50
PHASE_TIMEOUT_SECONDS = 60
SERVER_ARGS = (
    "--region", "local", "--fsync", "never",
    "--outbound-high-water-bytes", str(HIGH_WATER_BYTES),
    "--message-cache-bytes", str(CACHE_BYTES),
)


def payload(index: int) -> str:
    prefix = f"slow-{index:05d}-"
    return prefix + "x" * (PAYLOAD_BYTES - len(prefix))


def resident_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError(f"no VmRSS line in /proc/{pid}/status")


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


def test_stalled_consumer_and_reader_pin_bounded_memory(server_factory):
    server = server_factory.start(extra_args=SERVER_ARGS)
    rest = logged_in_client(server)
    name = unique_name("slow")
    assert rest.create_stream(name).ok

    consumer = ws_connect(
        server, ws_url(server, "consumer", name, unique_name("slow_sub"), query={"subscriptionType": "Shared"}),
        token=rest.token,
    )
    reader = ws_connect(server, ws_url(server, "reader", name, query={"messageId": "earliest"}), token=rest.token)
    producer = ws_connect(server, ws_url(server, "producer", name), token=rest.token)
    try:
        before = resident_bytes(server.pid)
        publish_all(producer)
        # The last deliveries may still be on their way to the sockets after the last ack: take the highest
        # of ten samples over one second.
        samples = []
        for _ in range(10):
            samples.append(resident_bytes(server.pid))
            time.sleep(0.1)
        growth = max(samples) - before
        assert growth < MAX_GROWTH_BYTES, (
            f"server memory grew by {growth >> 20} MiB for {MESSAGE_COUNT} messages of {PAYLOAD_BYTES} bytes "
            f"that two sockets did not read (bound {MAX_GROWTH_BYTES >> 20} MiB)"
        )

        # The reader goes first: messages every subscription acknowledged are no longer retained for readers.
        receive_in_order(reader, "reader")
        receive_in_order(consumer, "consumer")
    finally:
        close_quietly(producer, consumer, reader)
