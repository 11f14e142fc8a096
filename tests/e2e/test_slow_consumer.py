"""Sockets that stop reading: the server pauses their deliveries instead of queueing a whole receive window.

A Shared consumer and a reader connect and then read nothing while a producer publishes far more than the
outbound high-water mark. The server's resident memory must stay well below what queueing every message for
both sockets would take, and once the clients read, every message arrives once, in publish order.
"""

from __future__ import annotations

import time

from rivulet_e2e import (
    NumberedMessages,
    close_quietly,
    logged_in_client,
    resident_bytes,
    unique_name,
    ws_connect,
    ws_url,
)

HIGH_WATER_BYTES = 256 << 10
CACHE_BYTES = 2 << 20
MESSAGE_COUNT = 250
PAYLOAD_BYTES = 100_000
# Queueing every message would cost each stalled socket about 33 MB of frames, because base64 grows payloads by a
# third, so the two sockets would add over 60 MB. With deliveries paused each socket keeps about the high-water
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


MESSAGES = NumberedMessages("slow", MESSAGE_COUNT, PAYLOAD_BYTES, PUBLISH_WINDOW, PHASE_TIMEOUT_SECONDS)


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
        MESSAGES.publish_all(producer)
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
        MESSAGES.receive_in_order(reader, "reader")
        MESSAGES.receive_in_order(consumer, "consumer")
    finally:
        close_quietly(producer, consumer, reader)
