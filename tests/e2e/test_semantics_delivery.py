"""Credits, pull mode, negative acks, ack timeout, dead letters and delayed delivery over the WebSocket API."""

from __future__ import annotations

import json
import time

import pytest

from rivulet_e2e import handshake_status, unique_name
from semantics_e2e import (
    QUIET_SECONDS,
    TIMER_BOUND_SECONDS,
    Client,
    ack,
    nack,
    nothing_arrives,
    permit,
    publish_on,
    receive,
    receive_one,
    texts,
)

ALL_TYPES = ["Exclusive", "Shared", "Failover", "Key_Shared"]


@pytest.fixture
def client(rest):
    client = Client(rest, unique_name("delivery"))
    try:
        yield client
    finally:
        client.close_all()


# Credits


def test_receiver_queue_size_limits_unacked_in_flight(client):
    consumer = client.consumer(unique_name("window"), receiverQueueSize=3)
    client.publish([f"m{index}" for index in range(5)])

    first = receive(consumer, 3)
    nothing_arrives(consumer)
    ack(consumer, first[0])
    fourth = receive_one(consumer)

    assert texts(first) == ["m0", "m1", "m2"]
    assert texts([fourth]) == ["m3"]


def test_duplicate_acks_do_not_open_a_window_of_one(client):
    consumer = client.consumer(unique_name("duplicates"), receiverQueueSize=1)
    client.publish(["m0", "m1", "m2"])

    first = receive_one(consumer)
    ack(consumer, first, first, first)
    second = receive_one(consumer)
    ack(consumer, first)

    assert texts([first, second]) == ["m0", "m1"]
    assert nothing_arrives(consumer)


def test_unknown_acks_do_not_open_the_window(client):
    consumer = client.consumer(unique_name("unknown_acks"), receiverQueueSize=1)
    client.publish(["m0", "m1"])
    first = receive_one(consumer)

    # A well-formed id of a message that does not exist, and frames whose id is not an id at all.
    consumer.send(json.dumps({"messageId": "CGMQ5wc="}))
    consumer.send(json.dumps({"messageId": "not-an-id"}))
    consumer.send(json.dumps({"type": "negativeAcknowledge", "messageId": "CGMQ5wc="}))

    assert texts([first]) == ["m0"]
    assert nothing_arrives(consumer)


def test_receiver_queue_size_zero_means_one_at_a_time(client):
    consumer = client.consumer(unique_name("zero"), receiverQueueSize=0)
    client.publish(["m0", "m1"])

    first = receive_one(consumer)
    nothing_arrives(consumer)
    ack(consumer, first)

    assert texts([receive_one(consumer)]) == ["m1"]


def test_receiver_queue_size_above_1000_is_capped(client):
    subscription = unique_name("capped")
    client.consumer(subscription, receiverQueueSize=5000)

    consumers = client.subscription_stats(subscription)["consumers"]

    assert consumers[0]["availablePermits"] == 1000


def test_negative_receiver_queue_size_gets_400(client):
    url = client.consumer_url(unique_name("negative"), receiverQueueSize=-1)

    assert handshake_status(client.server, url, token=client.rest.token) == 400


def test_redelivered_message_takes_no_second_credit(client):
    consumer = client.consumer(unique_name("no_second_credit"), receiverQueueSize=1, ackTimeoutMillis=1000)
    client.publish(["m0", "m1"])

    first = receive_one(consumer)
    again = receive_one(consumer, TIMER_BOUND_SECONDS)
    ack(consumer, again)
    second = receive_one(consumer)

    assert again["messageId"] == first["messageId"]
    assert again["redeliveryCount"] == 1
    assert texts([second]) == ["m1"]


# Pull mode


def test_pull_mode_sends_nothing_until_permit(client):
    consumer = client.consumer(unique_name("pull"), pullMode="true")
    client.publish(["m0", "m1"])

    assert nothing_arrives(consumer)
    permit(consumer, 1)
    assert texts([receive_one(consumer)]) == ["m0"]
    assert nothing_arrives(consumer)


def test_pull_mode_permits_add_up(client):
    consumer = client.consumer(unique_name("permits"), pullMode="true")
    client.publish([f"m{index}" for index in range(10)])

    for _ in range(3):
        permit(consumer, 2)
    received = receive(consumer, 6)

    assert texts(received) == [f"m{index}" for index in range(6)]
    assert nothing_arrives(consumer)


def test_pull_mode_acks_grant_nothing(client):
    consumer = client.consumer(unique_name("pull_acks"), pullMode="true")
    client.publish(["m0", "m1"])
    permit(consumer, 1)

    ack(consumer, receive_one(consumer))

    assert nothing_arrives(consumer)


# Negative acks, ack timeout, dead letters


def test_nack_redelivers_after_the_given_delay_with_same_id(client):
    consumer = client.consumer(unique_name("nack"), subscriptionType="Shared", negativeAckRedeliveryDelay=200)
    client.publish(["retry me"])

    original = receive_one(consumer)
    nack(consumer, original)
    again = receive_one(consumer, TIMER_BOUND_SECONDS)

    assert again["messageId"] == original["messageId"]
    assert again["payload"] == original["payload"]
    assert again["redeliveryCount"] == 1


def test_nack_default_delay_is_not_immediate(client):
    consumer = client.consumer(unique_name("nack_default"), subscriptionType="Shared")
    client.publish(["later"])

    nack(consumer, receive_one(consumer))

    # The default delay is 60 s, so nothing comes back within the quiet period.
    assert nothing_arrives(consumer, 1.5)


def test_ack_timeout_redelivers_unacked(client):
    consumer = client.consumer(unique_name("ack_timeout"), ackTimeoutMillis=1000)
    client.publish(["m0", "m1"])
    first, second = receive(consumer, 2)
    ack(consumer, first)

    again = receive_one(consumer, TIMER_BOUND_SECONDS)

    assert again["messageId"] == second["messageId"]
    assert again["redeliveryCount"] == 1


def test_ack_timeout_zero_is_off(client):
    consumer = client.consumer(unique_name("ack_timeout_off"), ackTimeoutMillis=0)
    client.publish(["m0"])

    receive_one(consumer)

    assert nothing_arrives(consumer, 2.0)


@pytest.mark.parametrize("millis", [1, 999, -1])
def test_ack_timeout_below_1000_gets_400(client, millis):
    url = client.consumer_url(unique_name("ack_timeout_short"), ackTimeoutMillis=millis)

    assert handshake_status(client.server, url, token=client.rest.token) == 400


def test_max_redeliver_count_zero_gets_400(client):
    url = client.consumer_url(unique_name("dlq_zero"), maxRedeliverCount=0)

    assert handshake_status(client.server, url, token=client.rest.token) == 400


def test_dead_letter_topic_without_max_redeliver_count_gets_400(client):
    url = client.consumer_url(unique_name("dlq_alone"), deadLetterTopic="c8globals.parked")

    assert handshake_status(client.server, url, token=client.rest.token) == 400


@pytest.mark.parametrize("subscription_type", ALL_TYPES)
def test_redelivery_count_counts_for_every_type(client, subscription_type):
    consumer = client.consumer(unique_name("count"), subscriptionType=subscription_type, negativeAckRedeliveryDelay=200)
    client.publish(["again and again"])

    counts = []
    for _ in range(3):
        message = receive_one(consumer, TIMER_BOUND_SECONDS)
        counts.append(message["redeliveryCount"])
        nack(consumer, message)

    assert counts == [0, 1, 2]


def _dead_letters(client: Client, name: str, count: int) -> list[dict]:
    dead = Client(client.rest, name)
    try:
        socket_ = dead.reader(messageId="earliest")
        return receive(socket_, count, TIMER_BOUND_SECONDS)
    finally:
        dead.close_all()


@pytest.mark.parametrize("subscription_type", ["Shared", "Exclusive"])
def test_dead_letter_after_max_redeliver_count(client, subscription_type):
    subscription = unique_name("dlq")
    consumer = client.consumer(subscription, subscriptionType=subscription_type, maxRedeliverCount=1,
                               negativeAckRedeliveryDelay=200)
    client.publish(["poison"])

    first = receive_one(consumer)
    nack(consumer, first)
    second = receive_one(consumer, TIMER_BOUND_SECONDS)
    nack(consumer, second)

    dead_letters = _wait_for_dead_letters(client, f"{client.name}-{subscription}-DLQ", 1)
    assert [first["redeliveryCount"], second["redeliveryCount"]] == [0, 1]
    assert nothing_arrives(consumer)
    assert texts(dead_letters) == ["poison"]
    assert client.subscription_backlog(subscription) == 0


def test_dead_letter_topic_by_name(client):
    subscription = unique_name("dlq_named")
    target = unique_name("parked")
    consumer = client.consumer(subscription, subscriptionType="Shared", maxRedeliverCount=1,
                               deadLetterTopic=f"c8globals.{target}", negativeAckRedeliveryDelay=200)
    client.publish(["poison"])

    nack(consumer, receive_one(consumer))
    nack(consumer, receive_one(consumer, TIMER_BOUND_SECONDS))

    assert texts(_wait_for_dead_letters(client, target, 1)) == ["poison"]


def _wait_for_dead_letters(client: Client, name: str, count: int) -> list[dict]:
    """Read `count` messages from the dead letter stream `name` once it exists (it is created on demand)."""
    deadline = time.monotonic() + TIMER_BOUND_SECONDS
    path = client.rest.streams_path(f"/c8globals.{name}/stats")
    while client.rest.request("GET", path).status_code != 200:
        assert time.monotonic() < deadline, f"dead letter stream {name} was not created"
        time.sleep(0.1)
    return _dead_letters(client, name, count)


# Delayed delivery


@pytest.mark.parametrize("subscription_type", ALL_TYPES)
def test_deliver_after_ms_honoured_for_every_type(client, subscription_type):
    consumer = client.consumer(unique_name("delayed"), subscriptionType=subscription_type)
    producer = client.producer()
    publish_on(producer, ["delayed"], deliverAfterMs=1500)
    publish_on(producer, ["immediate"])

    first = receive_one(consumer)
    second = receive_one(consumer, TIMER_BOUND_SECONDS)

    assert texts([first, second]) == ["immediate", "delayed"]


def test_deliver_at_epoch_millis(client):
    consumer = client.consumer(unique_name("deliver_at"), subscriptionType="Shared")
    producer = client.producer()
    publish_on(producer, ["at"], deliverAt=int(time.time() * 1000) + 1500)
    publish_on(producer, ["now"])

    assert texts(receive(consumer, 2, TIMER_BOUND_SECONDS)) == ["now", "at"]


def test_deliver_at_in_the_past_delivers_at_once(client):
    consumer = client.consumer(unique_name("deliver_past"), subscriptionType="Shared")
    client.publish(["past"], deliverAt=int(time.time() * 1000) - 60_000)

    assert texts([receive_one(consumer, QUIET_SECONDS * 5)]) == ["past"]
