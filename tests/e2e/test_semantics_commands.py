"""Consumer commands other than acks, start positions of subscriptions, and readers."""

from __future__ import annotations

import json

import pytest

from rivulet_e2e import handshake_status, recv_json, unique_name, wait_for
from semantics_e2e import (
    Client,
    ack,
    nothing_arrives,
    receive,
    receive_one,
    texts,
    wait_for_close,
)


@pytest.fixture
def client(rest):
    client = Client(rest, unique_name("commands"))
    try:
        yield client
    finally:
        client.close_all()


# Commands


def test_unsubscribe_deletes_subscription_and_closes_cleanly(client):
    subscription = unique_name("leaving")
    consumer = client.consumer(subscription)
    assert client.get("/subscriptions") == [subscription]

    consumer.send(json.dumps({"type": "unsubscribe"}))

    assert wait_for_close(consumer) == 1000
    assert client.get("/subscriptions") == []


def test_unsubscribe_with_other_consumers_keeps_subscription(client):
    subscription = unique_name("crowded")
    consumer = client.consumer(subscription, subscriptionType="Shared")
    client.consumer(subscription, subscriptionType="Shared")

    consumer.send(json.dumps({"type": "unsubscribe"}))

    assert wait_for_close(consumer) == 4003
    assert client.get("/subscriptions") == [subscription]


def test_is_end_of_topic_answers_json_false(client):
    consumer = client.consumer(unique_name("end"))

    consumer.send(json.dumps({"type": "isEndOfTopic"}))
    answer = recv_json(consumer)

    assert answer == {"endOfTopic": False}


@pytest.mark.parametrize("frame", ["noop", "[1,2]", "42", '"text"', "{not json"])
def test_frames_that_are_not_json_objects_are_ignored(client, frame):
    consumer = client.consumer(unique_name("noop"))

    consumer.send(frame)
    client.publish(["still open"])

    assert texts([receive_one(consumer)]) == ["still open"]


@pytest.mark.parametrize("subscription_type", ["Exclusive", "Failover"])
def test_cumulative_ack_acknowledges_everything_up_to_the_id(client, subscription_type):
    subscription = unique_name("cumulative")
    consumer = client.consumer(subscription, subscriptionType=subscription_type)
    client.publish([f"m{index}" for index in range(5)])
    received = receive(consumer, 5)

    consumer.send(json.dumps({"messageId": received[2]["messageId"], "ackType": "cumulative"}))

    # The backlog settles once the ack is applied; unackedMessages shows the two still out.
    wait_for(lambda: client.subscription_backlog(subscription) == 2, message="backlog of 2")
    assert client.subscription_stats(subscription)["unackedMessages"] == 2


@pytest.mark.parametrize("subscription_type", ["Shared", "Key_Shared"])
def test_cumulative_ack_refused_on_shared_types(client, subscription_type):
    subscription = unique_name("no_cumulative")
    consumer = client.consumer(subscription, subscriptionType=subscription_type)
    client.publish(["m0", "m1", "m2"])
    received = receive(consumer, 3)

    consumer.send(json.dumps({"messageId": received[2]["messageId"], "ackType": "cumulative"}))
    error = recv_json(consumer)

    assert error["result"] == "error"
    assert error["messageId"] == received[2]["messageId"]
    assert "cumulative" in error["errorMsg"]
    assert client.subscription_backlog(subscription) == 3


# Start positions


def test_new_subscription_starts_at_earliest_by_default(client):
    client.publish(["before"])
    consumer = client.consumer(unique_name("earliest"))

    assert texts([receive_one(consumer)]) == ["before"]


def test_initial_position_latest_skips_earlier_messages(client):
    client.publish(["before"])
    consumer = client.consumer(unique_name("latest"), subscriptionInitialPosition="Latest")

    assert nothing_arrives(consumer)
    client.publish(["after"])
    assert texts([receive_one(consumer)]) == ["after"]


def test_initial_position_applies_only_to_new_subscriptions(client):
    subscription = unique_name("existing")
    client.close(client.consumer(subscription, subscriptionInitialPosition="Latest"))
    client.publish(["while away"])

    consumer = client.consumer(subscription, subscriptionInitialPosition="Latest")

    assert texts([receive_one(consumer)]) == ["while away"]


def test_initial_position_matches_case_insensitively(client):
    client.publish(["before"])
    consumer = client.consumer(unique_name("lower_latest"), subscriptionInitialPosition="latest")

    assert nothing_arrives(consumer)


def test_unknown_initial_position_gets_400(client):
    url = client.consumer_url(unique_name("bad_position"), subscriptionInitialPosition="Middle")

    assert handshake_status(client.server, url, token=client.rest.token) == 400


# Readers


def test_reader_from_earliest(client):
    client.publish(["r0", "r1"])
    reader = client.reader(messageId="earliest")

    assert texts(receive(reader, 2)) == ["r0", "r1"]


def test_reader_starts_at_latest_by_default(client):
    client.publish(["old"])
    reader = client.reader()

    assert nothing_arrives(reader)
    client.publish(["new"])
    assert texts([receive_one(reader)]) == ["new"]


def test_reader_after_a_given_id(client):
    ids = client.publish(["r0", "r1", "r2"])
    reader = client.reader(messageId=ids[0])

    assert texts(receive(reader, 2)) == ["r1", "r2"]
    assert nothing_arrives(reader)


def test_reader_never_changes_subscription_state(client):
    subscription = unique_name("untouched")
    consumer = client.consumer(subscription, receiverQueueSize=1)
    client.publish(["m0", "m1", "m2"])
    held = receive_one(consumer)
    before = client.subscription_stats(subscription)

    reader = client.reader(messageId="earliest")
    for message in receive(reader, 3):
        ack(reader, message)
        reader.send(json.dumps({"type": "negativeAcknowledge", "messageId": message["messageId"]}))
    nothing_arrives(reader, 0.5)
    after = client.subscription_stats(subscription)

    assert (after["msgBacklog"], after["unackedMessages"]) == (before["msgBacklog"], before["unackedMessages"]) == (3, 1)
    assert client.get("/subscriptions") == [subscription]
    assert client.backlog()["totalMessages"] == 3
    assert texts([held]) == ["m0"]
