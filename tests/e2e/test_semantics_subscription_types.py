"""Subscription types over the WebSocket API: Exclusive, Shared, Failover and Key_Shared."""

from __future__ import annotations

import pytest

from rivulet_e2e import handshake_status, unique_name
from semantics_e2e import (
    Client,
    ack,
    nothing_arrives,
    publish_on,
    receive,
    receive_one,
    receive_spread,
    texts,
)


@pytest.fixture
def client(rest):
    client = Client(rest, unique_name("types"))
    try:
        yield client
    finally:
        client.close_all()


def test_second_exclusive_consumer_gets_409(client):
    subscription = unique_name("exclusive")
    client.consumer(subscription, subscriptionType="Exclusive")

    assert handshake_status(client.server, client.consumer_url(subscription, subscriptionType="Exclusive"),
                            token=client.rest.token) == 409


def test_exclusive_is_the_default_type(client):
    subscription = unique_name("default")
    client.consumer(subscription)

    assert handshake_status(client.server, client.consumer_url(subscription), token=client.rest.token) == 409
    assert client.subscription_stats(subscription)["type"] == "Exclusive"


@pytest.mark.parametrize(("live", "asked"), [("Shared", "Failover"), ("Key_Shared", "Shared"), ("Failover", "Exclusive")])
def test_different_type_than_live_subscription_gets_409(client, live, asked):
    subscription = unique_name("mismatch")
    client.consumer(subscription, subscriptionType=live)

    status = handshake_status(client.server, client.consumer_url(subscription, subscriptionType=asked),
                              token=client.rest.token)

    assert status == 409


@pytest.mark.parametrize(("spelling", "canonical"), [("shared", "Shared"), ("FAILOVER", "Failover"),
                                                     ("key_shared", "Key_Shared"), ("eXcLuSiVe", "Exclusive")])
def test_subscription_type_matches_case_insensitively(client, spelling, canonical):
    subscription = unique_name("case")
    client.consumer(subscription, subscriptionType=spelling)

    assert client.subscription_stats(subscription)["type"] == canonical


def test_unknown_subscription_type_gets_400(client):
    url = client.consumer_url(unique_name("unknown"), subscriptionType="Round_Robin")

    assert handshake_status(client.server, url, token=client.rest.token) == 400


def test_shared_round_robin_within_credits(client):
    subscription = unique_name("shared")
    first = client.consumer(subscription, subscriptionType="Shared", receiverQueueSize=2)
    second = client.consumer(subscription, subscriptionType="Shared", receiverQueueSize=2)
    client.publish([f"m{index}" for index in range(6)])

    first_batch = receive(first, 2)
    second_batch = receive(second, 2)
    nothing_arrives(first)
    nothing_arrives(second)
    ack(first, first_batch[0])
    third = receive_one(first)

    assert sorted(texts(first_batch + second_batch)) == ["m0", "m1", "m2", "m3"]
    assert texts([third]) == ["m4"]


def test_shared_disconnect_moves_unacked_with_redelivery_count(client):
    subscription = unique_name("shared_move")
    leaving = client.consumer(subscription, subscriptionType="Shared", receiverQueueSize=2)
    staying = client.consumer(subscription, subscriptionType="Shared", receiverQueueSize=10)
    client.publish([f"m{index}" for index in range(4)])
    left_behind = receive(leaving, 2)
    already = receive(staying, 2)
    ack(staying, *already)

    client.close(leaving)
    moved = receive(staying, 2)

    assert sorted(message["messageId"] for message in moved) == sorted(m["messageId"] for m in left_behind)
    assert [message["redeliveryCount"] for message in moved] == [1, 1]


def test_failover_active_consumer_by_priority_then_connection_order(client):
    subscription = unique_name("failover")
    low_priority = client.consumer(subscription, subscriptionType="Failover", priorityLevel=1)
    active = client.consumer(subscription, subscriptionType="Failover", priorityLevel=0)
    standby = client.consumer(subscription, subscriptionType="Failover", priorityLevel=0)
    client.publish(["a", "b", "c"])

    received = receive(active, 3)

    assert texts(received) == ["a", "b", "c"]
    assert nothing_arrives(standby, 0.5)
    assert nothing_arrives(low_priority, 0.5)


def test_failover_next_consumer_takes_unacked_and_following(client):
    subscription = unique_name("failover_next")
    active = client.consumer(subscription, subscriptionType="Failover", priorityLevel=0)
    standby = client.consumer(subscription, subscriptionType="Failover", priorityLevel=0)
    low_priority = client.consumer(subscription, subscriptionType="Failover", priorityLevel=5)
    client.publish(["a", "b", "c"])
    first = receive(active, 3)
    ack(active, first[0])

    client.close(active)
    taken_over = receive(standby, 2)
    client.publish(["d"])
    following = receive_one(standby)

    assert texts(taken_over) == ["b", "c"]
    assert [message["messageId"] for message in taken_over] == [m["messageId"] for m in first[1:]]
    assert [message["redeliveryCount"] for message in taken_over] == [1, 1]
    assert texts([following]) == ["d"]
    assert nothing_arrives(low_priority, 0.5)


def _group_by_key(messages: list[dict]) -> dict[str, list[str]]:
    groups: dict[str, list[str]] = {}
    for message in messages:
        groups.setdefault(message.get("key", ""), []).append(texts([message])[0])
    return groups


def test_key_shared_same_key_goes_to_same_consumer(client):
    subscription = unique_name("key_shared")
    first = client.consumer(subscription, subscriptionType="Key_Shared")
    second = client.consumer(subscription, subscriptionType="Key_Shared")
    keys = [f"key{index}" for index in range(8)]
    producer = client.producer()
    for round_ in range(3):
        for key in keys:
            publish_on(producer, [f"{key}-{round_}"], key=key)
        publish_on(producer, [f"none-{round_}"])

    received = receive_spread({"first": first, "second": second}, 27)
    first_groups, second_groups = _group_by_key(received["first"]), _group_by_key(received["second"])

    assert nothing_arrives(first, 0.3)
    assert nothing_arrives(second, 0.3)
    assert not set(first_groups) & set(second_groups), "a key reached both consumers"
    for groups in (first_groups, second_groups):
        for key, payloads in groups.items():
            prefix = key or "none"
            assert payloads == [f"{prefix}-{round_}" for round_ in range(3)], key
    assert first_groups and second_groups, "one consumer got every key"


def test_key_shared_keeps_per_key_order_when_consumer_joins(client):
    subscription = unique_name("key_join")
    keys = [f"k{index}" for index in range(8)]
    early = client.consumer(subscription, subscriptionType="Key_Shared")
    producer = client.producer()
    for key in keys:
        publish_on(producer, [f"{key}-0"], key=key)
    held = receive(early, len(keys))

    joined = client.consumer(subscription, subscriptionType="Key_Shared")
    for key in keys:
        publish_on(producer, [f"{key}-1"], key=key)
    # Every key still has an unacknowledged message on the early consumer, so its next messages follow there.
    following = receive(early, len(keys))
    assert nothing_arrives(joined)
    ack(early, *held, *following)

    for key in keys:
        publish_on(producer, [f"{key}-2"], key=key)
    later = receive_spread({"early": early, "joined": joined}, len(keys))

    assert sorted(texts(held)) == sorted(f"{key}-0" for key in keys)
    assert sorted(texts(following)) == sorted(f"{key}-1" for key in keys)
    assert sorted(texts(later["early"] + later["joined"])) == sorted(f"{key}-2" for key in keys)
    # Once a key has nothing unacknowledged it may move: the joined consumer now takes part.
    assert later["joined"], "the joined consumer never received a key"


def test_key_shared_keeps_per_key_order_when_consumer_leaves(client):
    subscription = unique_name("key_leave")
    staying = client.consumer(subscription, subscriptionType="Key_Shared")
    leaving = client.consumer(subscription, subscriptionType="Key_Shared")
    keys = [f"k{index}" for index in range(8)]
    producer = client.producer()
    for round_ in range(2):
        for key in keys:
            publish_on(producer, [f"{key}-{round_}"], key=key)
    received = receive_spread({"staying": staying, "leaving": leaving}, 2 * len(keys))
    on_staying, on_leaving = received["staying"], received["leaving"]
    assert on_leaving, "the leaving consumer owned no key"
    ack(staying, *on_staying)

    client.close(leaving)
    for key in keys:
        publish_on(producer, [f"{key}-2"], key=key)
    moved_keys = {message["key"] for message in on_leaving}
    taken_over = receive(staying, len(on_leaving) + len(keys))

    groups = _group_by_key(taken_over)
    for key in moved_keys:
        assert groups[key] == [f"{key}-0", f"{key}-1", f"{key}-2"], key
    redelivered = [message for message in taken_over if message["key"] in moved_keys and not texts([message])[0].endswith("-2")]
    assert all(message["redeliveryCount"] == 1 for message in redelivered)


def test_key_shared_key_stays_with_connected_consumer(client):
    subscription = unique_name("key_stays")
    first = client.consumer(subscription, subscriptionType="Key_Shared")
    second = client.consumer(subscription, subscriptionType="Key_Shared")
    keys = [f"key{index}" for index in range(8)]
    producer = client.producer()

    owners: list[dict[str, str]] = []
    for round_ in range(3):
        for key in keys:
            publish_on(producer, [f"{key}-{round_}"], key=key)
        received = receive_spread({"first": first, "second": second}, len(keys), ack_each=True)
        owners.append({message["key"]: label for label, messages in received.items() for message in messages})

    assert sorted(owners[0]) == sorted(keys)
    # Every key went idle between rounds and still came back to the same consumer.
    assert owners[1] == owners[0]
    assert owners[2] == owners[0]
