"""Retention, TTL, expiry, backlog clearing, deletions with clients attached, and stats a client can check."""

from __future__ import annotations

import time

import pytest

from rivulet_e2e import (
    ServerFactory,
    assert_error,
    assert_success,
    logged_in_client,
    unique_name,
    wait_for,
)
from semantics_e2e import (
    Client,
    ack,
    nack,
    nothing_arrives,
    publish_on,
    receive,
    receive_one,
    texts,
    wait_for_close,
)

# Default message TTL: 3 days.
DEFAULT_TTL_SECONDS = 3 * 24 * 3600


@pytest.fixture
def client(rest):
    client = Client(rest, unique_name("retention"))
    try:
        yield client
    finally:
        client.close_all()


@pytest.fixture(scope="module")
def own_server(tls):
    """A server of this module's own, for fabric-wide calls (TTL, clear every backlog) that would reach into
    other tests' streams on the shared server."""
    factory = ServerFactory(tls)
    try:
        yield factory.start()
    finally:
        factory.cleanup()


@pytest.fixture
def own(own_server):
    rest = logged_in_client(own_server)
    client = Client(rest, unique_name("fabric_wide"))
    try:
        yield client
    finally:
        client.close_all()
        assert_success(rest.request("POST", rest.streams_path(f"/ttl/{DEFAULT_TTL_SECONDS}")))


def _post(client: Client, suffix: str):
    return client.rest.request("POST", client.rest.streams_path(suffix))


# Retention


def test_message_deleted_once_every_subscription_acked(client):
    first_name = unique_name("first")
    first = client.consumer(first_name)
    second = client.consumer(unique_name("second"))
    client.publish(["m0", "m1", "m2"])

    ack(first, *receive(first, 3))
    wait_for(lambda: client.subscription_backlog(first_name) == 0, message="first subscription acked")
    retained_after_one = client.backlog()["totalMessages"]
    ack(second, *receive(second, 3))

    assert retained_after_one == 3
    wait_for(lambda: client.backlog()["totalMessages"] == 0, message="every message deleted")


def test_messages_without_subscription_kept_for_later_subscriber(client):
    client.publish(["kept"])

    assert client.backlog()["totalMessages"] == 1
    consumer = client.consumer(unique_name("late"))
    assert texts([receive_one(consumer)]) == ["kept"]


def test_ttl_is_a_number_per_fabric(own):
    default = assert_success(own.rest.request("GET", own.rest.streams_path("/ttl")))["result"]
    assert_success(_post(own, "/ttl/120"))
    changed = assert_success(own.rest.request("GET", own.rest.streams_path("/ttl")))["result"]

    assert default == DEFAULT_TTL_SECONDS
    assert changed == 120


def test_ttl_drops_messages_without_subscription(own):
    own.publish(["short lived"])
    time.sleep(1.2)

    assert_success(_post(own, "/ttl/1"))

    wait_for(lambda: own.backlog()["totalMessages"] == 0, message="expired message dropped")
    consumer = own.consumer(unique_name("too_late"))
    assert nothing_arrives(consumer)


def test_ttl_expires_unacked_messages_of_subscriptions(own):
    subscription = unique_name("slow")
    own.close(own.consumer(subscription))
    own.publish(["m0", "m1"])
    time.sleep(1.2)

    assert_success(_post(own, "/ttl/1"))

    wait_for(lambda: own.subscription_backlog(subscription) == 0, message="backlog expired")


def test_expiry_marks_older_messages_consumed_for_every_subscription(client):
    subscriptions = [unique_name("a"), unique_name("b")]
    for subscription in subscriptions:
        client.close(client.consumer(subscription))
    client.publish(["old0", "old1", "old2"])
    time.sleep(1.5)
    client.publish(["new"])

    assert_success(_post(client, f"/{client.topic}/expiry/1"))

    for subscription in subscriptions:
        assert client.subscription_backlog(subscription) == 1
    consumer = client.consumer(subscriptions[0])
    assert texts([receive_one(consumer)]) == ["new"]


def test_clear_backlog_for_one_subscription(client):
    cleared, kept = unique_name("cleared"), unique_name("kept")
    for subscription in (cleared, kept):
        client.close(client.consumer(subscription))
    client.publish(["m0", "m1"])

    assert_success(_post(client, f"/clearbacklog/{cleared}"))

    assert client.subscription_backlog(cleared) == 0
    assert client.subscription_backlog(kept) == 2


def test_clear_backlog_for_all_subscriptions(own):
    subscriptions = [unique_name("a"), unique_name("b")]
    for subscription in subscriptions:
        own.close(own.consumer(subscription))
    own.publish(["m0", "m1"])

    assert_success(_post(own, "/clearbacklog"))

    assert [own.subscription_backlog(subscription) for subscription in subscriptions] == [0, 0]
    assert own.backlog()["totalMessages"] == 0


def test_delete_subscription_with_connected_consumer_gets_412(client):
    subscription = unique_name("busy")
    client.consumer(subscription)

    response = client.rest.request("DELETE", client.rest.streams_path(f"/{client.topic}/subscriptions/{subscription}"))

    assert_error(response, 412)
    assert client.get("/subscriptions") == [subscription]


def test_forced_stream_deletion_closes_every_socket(client):
    consumer = client.consumer(unique_name("doomed"))
    reader = client.reader(messageId="earliest")
    producer = client.producer()

    response = client.rest.request("DELETE", client.rest.streams_path(f"/{client.topic}?force=true"))

    assert_success(response)
    assert wait_for_close(consumer) == 1000
    assert wait_for_close(reader) == 1000
    assert wait_for_close(producer) == 1000


def test_stream_deletion_without_force_refused_while_clients_connected(client):
    client.consumer(unique_name("attached"))

    response = client.rest.request("DELETE", client.rest.streams_path(f"/{client.topic}?force=false"))

    assert 400 <= response.status_code < 500
    assert client.get("/subscriptions")


# Stats and backlog


def test_backlog_counts_match_what_clients_observe(client):
    subscription = unique_name("ten")
    consumer = client.consumer(subscription)
    client.publish([f"m{index}" for index in range(10)])
    received = receive(consumer, 10)

    ack(consumer, *received[:4])

    wait_for(lambda: client.subscription_backlog(subscription) == 6, message="backlog of 6")
    stats = client.subscription_stats(subscription)
    backlog = client.backlog()
    assert stats["unackedMessages"] == 6
    assert stats["consumers"][0]["unackedMessages"] == 6
    assert backlog["messageBacklog"] == 6
    assert backlog["totalMessages"] == 6
    assert backlog["storageSize"] > 0


def test_stats_use_pulsar_topic_stats_names(client):
    subscription = unique_name("named")
    consumer = client.consumer(subscription, subscriptionType="Shared")
    producer = client.producer()
    publish_on(producer, ["12345678"] * 4)
    ack(consumer, *receive(consumer, 4))

    # Acks are fire-and-forget, so the stats request on another connection can overtake the last of them.
    def subscription_settled():
        current = client.stats()
        figures = current["subscriptions"][subscription]
        return current if (figures["msgBacklog"], figures["unackedMessages"]) == (0, 0) else None

    stats = wait_for(subscription_settled, message="acks applied to the subscription")

    for field in ("msgRateIn", "msgThroughputIn", "msgRateOut", "msgThroughputOut", "averageMsgSize", "storageSize"):
        assert isinstance(stats[field], (int, float)) and not isinstance(stats[field], bool), field
    assert stats["msgRateIn"] > 0
    assert stats["msgThroughputIn"] > 0
    assert stats["msgRateOut"] > 0
    assert stats["averageMsgSize"] == 8
    assert len(stats["publishers"]) == 1
    figures = stats["subscriptions"][subscription]
    assert figures["type"] == "Shared"
    for field in ("msgBacklog", "unackedMessages", "msgRateOut", "msgRateRedeliver"):
        assert isinstance(figures[field], (int, float)), field
    assert (figures["msgBacklog"], figures["unackedMessages"]) == (0, 0)
    assert len(figures["consumers"]) == 1


def test_stats_show_redelivery_rate_after_nack(client):
    subscription = unique_name("redeliver_rate")
    consumer = client.consumer(subscription, subscriptionType="Shared", negativeAckRedeliveryDelay=200)
    client.publish(["again"])
    nack(consumer, receive_one(consumer))
    receive_one(consumer, 15)

    assert client.subscription_stats(subscription)["msgRateRedeliver"] > 0


def test_subscriptions_listed_as_array_of_names(client):
    names = sorted([unique_name("one"), unique_name("two")])
    for name in names:
        client.close(client.consumer(name))

    assert sorted(client.get("/subscriptions")) == names
