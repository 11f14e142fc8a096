"""A message cache far smaller than the backlog: bodies are read back from disk, in order, before and after a restart."""

from __future__ import annotations


from rivulet_e2e import (
    NumberedMessages,
    close_quietly,
    logged_in_client,
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


MESSAGES = NumberedMessages("cache", MESSAGE_COUNT, PAYLOAD_BYTES, PUBLISH_WINDOW, PHASE_TIMEOUT_SECONDS)


def test_backlog_beyond_cache_is_consumed_from_earliest(server_factory):
    server = server_factory.start(extra_args=SERVER_ARGS)
    rest = logged_in_client(server)
    name = unique_name("cache")
    # A subscription that acknowledges nothing before the restart keeps every message retained for it.
    keeper = unique_name("cache_keeper")
    close_quietly(ws_connect(server, ws_url(server, "consumer", name, keeper), token=rest.token))
    producer = ws_connect(server, ws_url(server, "producer", name), token=rest.token)
    try:
        MESSAGES.publish_all(producer)
    finally:
        close_quietly(producer)

    # The reader goes first: messages every subscription acknowledged are no longer retained for readers.
    reader = ws_connect(server, ws_url(server, "reader", name, query={"messageId": "earliest"}), token=rest.token)
    try:
        MESSAGES.receive_in_order(reader, "reader")
    finally:
        close_quietly(reader)
    subscription = unique_name("cache_sub")
    consumer = ws_connect(
        server, ws_url(server, "consumer", name, subscription, query={"subscriptionInitialPosition": "Earliest"}),
        token=rest.token,
    )
    try:
        MESSAGES.receive_in_order(consumer, "consumer")
    finally:
        close_quietly(consumer)

    # After a restart the backlog is indexed without bodies; the keeper subscription reads it all from disk.
    restarted = server_factory.restart(server, extra_args=SERVER_ARGS)
    rest = logged_in_client(restarted)
    consumer = ws_connect(restarted, ws_url(restarted, "consumer", name, keeper), token=rest.token)
    try:
        MESSAGES.receive_in_order(consumer, "consumer after restart")
    finally:
        close_quietly(consumer)
