"""REST surface: the GDN envelope, errors, path aliases and the stream calls SDKs make."""

from __future__ import annotations

import time

import pytest

from rivulet_e2e import (
    ADMIN_TENANT,
    RestClient,
    assert_error,
    assert_success,
    b64,
    close_quietly,
    collect,
    topic_name,
    unique_name,
    ws_connect,
    ws_url,
)


def streams_of(rest: RestClient, query: str = "") -> list[dict]:
    return assert_success(rest.request("GET", rest.streams_path(query)))["result"]


def attach_and_close_consumer(rest: RestClient, name: str, subscription: str, local: bool = False) -> None:
    """Create `subscription` by attaching a consumer once."""
    consumer = ws_connect(rest.server, ws_url(rest.server, "consumer", name, subscription, local), token=rest.token)
    close_quietly(consumer)


def test_local_datacenter_advertises_url(shared_server):
    """SDKs connect their WebSockets to `api-` + tags.url, so it must be the advertised host and port."""
    rest = RestClient(shared_server)
    rest.login()

    body = rest.request("GET", "/datacenter/local").json()

    assert body["tags"]["url"] == shared_server.advertise_url


def test_login_returns_jwt_and_tenant(shared_server):
    rest = RestClient(shared_server)

    body = rest.login()

    assert isinstance(body["jwt"], str) and body["jwt"]
    assert body["tenant"] == ADMIN_TENANT
    assert body["username"]


def test_login_wrong_password(shared_server):
    rest = RestClient(shared_server)

    response = rest.request(
        "POST", "/_open/auth", auth=False, json={"email": shared_server.admin_email, "password": "wrong-password"}
    )

    assert_error(response, 401)


def test_login_unknown_email(shared_server):
    rest = RestClient(shared_server)

    response = rest.request(
        "POST", "/_open/auth", auth=False, json={"email": "nobody@rivulet.test", "password": "whatever"}
    )

    assert_error(response, 401)


def test_request_without_credentials(shared_server):
    rest = RestClient(shared_server)

    assert_error(rest.request("GET", rest.streams_path(), auth=False), 401)
    assert_error(rest.request("GET", rest.streams_path(), headers={"Authorization": "bearer not-a-jwt"}), 401)


@pytest.mark.parametrize(
    ("path_template", "local"),
    [
        ("/_fabric/_system/_api/streams/{name}?global=true", False),
        ("/_fabric/_system/streams/{name}?global=false", True),
        ("/_tenant/{tenant}/_fabric/_system/_api/streams/{name}?global=True", False),
        ("//_fabric//_system/_api/streams/{name}?global=0", True),
    ],
    ids=["api", "no-api", "tenant-prefix", "double-slashes"],
)
def test_create_stream_aliases(rest, path_template, local):
    name = unique_name("alias")

    body = assert_success(rest.request("POST", path_template.format(name=name, tenant=rest.server.tenant)))

    assert body["result"]["stream-id"] == topic_name(name, local)
    assert topic_name(name, local) in [record["topic"] for record in streams_of(rest)]


def test_create_duplicate_stream(rest):
    name = unique_name("duplicate")
    assert_success(rest.create_stream(name))

    assert_error(rest.create_stream(name), 409)


def test_list_streams_by_scope(rest):
    global_name = unique_name("scope_global")
    local_name = unique_name("scope_local")
    assert_success(rest.create_stream(global_name, local=False))
    assert_success(rest.create_stream(local_name, local=True))

    all_topics = {record["topic"]: record for record in streams_of(rest)}
    global_topics = {record["topic"] for record in streams_of(rest, "?global=true")}
    local_topics = {record["topic"] for record in streams_of(rest, "?global=false")}

    assert topic_name(global_name) in all_topics
    assert topic_name(local_name, local=True) in all_topics
    assert topic_name(global_name) in global_topics
    assert topic_name(local_name, local=True) not in global_topics
    assert topic_name(local_name, local=True) in local_topics
    assert topic_name(global_name) not in local_topics
    record = all_topics[topic_name(local_name, local=True)]
    # pyC8 maps `type` through {4: "persistent"} and fails on any other value.
    assert record["type"] == 4
    assert record["local"] is True
    assert record["tenant"] == rest.server.tenant
    assert record["db"] == "_system"
    assert all_topics[topic_name(global_name)]["local"] is False


def test_publish_ack_and_backlog(rest):
    name = unique_name("backlog")
    topic = topic_name(name)
    subscription = unique_name("backlog_sub")
    assert_success(rest.create_stream(name))
    for index in range(10):
        # The body is the message, taken as raw bytes whatever the Content-Type header declares.
        assert_success(rest.publish(topic, f"message {index}"))

    consumer = ws_connect(rest.server, ws_url(rest.server, "consumer", name, subscription), token=rest.token)
    try:
        received = collect(consumer, 10, ack=False)
        assert received.payloads == [f"message {index}" for index in range(10)]
        for message in received.messages[:4]:
            consumer.send(f'{{"messageId": "{message["messageId"]}"}}')
    finally:
        close_quietly(consumer)

    # Acks get no reply, so poll until the server has applied them.
    backlog = None
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        backlog = assert_success(rest.request("GET", rest.streams_path(f"/{topic}/backlog")))["result"]
        if backlog.get("messageBacklog") == 6:
            break
        time.sleep(0.2)
    assert isinstance(backlog, dict)
    assert backlog.get("messageBacklog") == 6, backlog

    stats = assert_success(rest.request("GET", rest.streams_path(f"/{topic}/stats")))["result"]
    assert isinstance(stats, dict)
    assert stats["subscriptions"][subscription]["msgBacklog"] == 6
    subscriptions = assert_success(rest.request("GET", rest.streams_path(f"/{topic}/subscriptions")))["result"]
    assert subscriptions == [subscription]


@pytest.mark.parametrize(
    "prefix",
    ["/_fabric/_system/_api", "/_fabric/_system", "/_tenant/{tenant}/_fabric/_system/_api", "//_fabric/_system//_api"],
    ids=["api", "no-api", "tenant-prefix", "double-slashes"],
)
def test_stream_read_aliases(rest, prefix):
    name = unique_name("read_alias")
    topic = topic_name(name)
    assert_success(rest.create_stream(name))
    base = prefix.format(tenant=rest.server.tenant)

    assert_success(rest.request("POST", f"{base}/streams/{topic}/publish", data="one"))
    stats = assert_success(rest.request("GET", f"{base}/streams/{topic}/stats"))["result"]
    backlog = assert_success(rest.request("GET", f"{base}/streams/{topic}/backlog"))["result"]
    subscriptions = assert_success(rest.request("GET", f"{base}/streams/{topic}/subscriptions"))["result"]
    listed = assert_success(rest.request("GET", f"{base}/streams"))["result"]

    assert isinstance(stats, dict)
    assert isinstance(backlog, dict)
    assert backlog["totalMessages"] == 1
    assert subscriptions == []
    assert topic in [record["topic"] for record in listed]


def test_publish_to_missing_stream(rest):
    topic = topic_name(unique_name("missing"))

    assert_error(rest.publish(topic, "nobody reads this"), 404)


def test_message_ttl_is_a_number(rest):
    original = assert_success(rest.request("GET", rest.streams_path("/ttl")))["result"]
    assert isinstance(original, int) and not isinstance(original, bool), original

    try:
        assert_success(rest.request("POST", rest.streams_path("/ttl/7200")))
        changed = assert_success(rest.request("GET", rest.streams_path("/ttl")))["result"]
        assert changed == 7200
    finally:
        assert_success(rest.request("POST", rest.streams_path(f"/ttl/{original}")))


def test_delete_subscription(rest):
    name = unique_name("sub_delete")
    topic = topic_name(name)
    subscription = unique_name("doomed")
    assert_success(rest.create_stream(name))
    attach_and_close_consumer(rest, name, subscription)
    listed = assert_success(rest.request("GET", rest.streams_path(f"/{topic}/subscriptions")))["result"]
    assert listed == [subscription]

    assert_success(rest.request("DELETE", rest.streams_path(f"/{topic}/subscriptions/{subscription}?global=true")))

    listed = assert_success(rest.request("GET", rest.streams_path(f"/{topic}/subscriptions")))["result"]
    assert listed == []
    assert_error(rest.request("DELETE", rest.streams_path(f"/{topic}/subscriptions/{subscription}")), 404)


def test_delete_subscription_with_consumer_attached(rest):
    name = unique_name("sub_busy")
    topic = topic_name(name)
    subscription = unique_name("busy")
    consumer = ws_connect(rest.server, ws_url(rest.server, "consumer", name, subscription), token=rest.token)
    try:
        assert_error(rest.request("DELETE", rest.streams_path(f"/{topic}/subscriptions/{subscription}")), 412)
    finally:
        close_quietly(consumer)


@pytest.mark.parametrize(
    ("method", "path_template"),
    [
        ("DELETE", "/_fabric/_system/_api/streams/subscription/{subscription}"),
        ("DELETE", "/_fabric/_system/streams/subscription/{subscription}?global=true"),
        ("POST", "/_fabric/_system/_api/streams/unsubscribe/{subscription}"),
    ],
    ids=["delete", "delete-no-api", "post-unsubscribe"],
)
def test_unsubscribe_everywhere(rest, method, path_template):
    first = unique_name("unsub_a")
    second = unique_name("unsub_b")
    subscription = unique_name("everywhere")
    attach_and_close_consumer(rest, first, subscription)
    attach_and_close_consumer(rest, second, subscription)

    assert_success(rest.request(method, path_template.format(subscription=subscription)))

    for name in (first, second):
        listed = assert_success(rest.request("GET", rest.streams_path(f"/{topic_name(name)}/subscriptions")))
        assert subscription not in listed["result"]


@pytest.mark.parametrize(
    "path_template",
    [
        "/_fabric/_system/_api/streams/{topic}",
        "/_fabric/_system/streams/{topic}?force=true",
        "/_tenant/{tenant}/_fabric/_system/_api/streams/{topic}",
        "//_fabric/_system/_api//streams/{topic}",
    ],
    ids=["api", "no-api-forced", "tenant-prefix", "double-slashes"],
)
def test_delete_stream(rest, path_template):
    name = unique_name("stream_delete")
    topic = topic_name(name, local=True)
    assert_success(rest.create_stream(name, local=True))

    assert_success(rest.request("DELETE", path_template.format(topic=topic, tenant=rest.server.tenant)))

    assert topic not in [record["topic"] for record in streams_of(rest)]
    assert_error(rest.request("GET", rest.streams_path(f"/{topic}/stats")), 404)
    assert_error(rest.request("DELETE", rest.streams_path(f"/{topic}")), 404)


def test_error_for_unknown_route(rest):
    body = assert_error(rest.request("GET", "/_fabric/_system/_api/no-such-route"), 404)

    assert "no-such-route" in body["errorMessage"]


def test_websocket_payload_from_rest_publish(rest):
    """A REST publish is delivered to consumers as the base64 of the request body bytes."""
    name = unique_name("rest_bytes")
    assert_success(rest.create_stream(name))
    assert_success(rest.publish(topic_name(name), b"Hello \xff raw"))

    consumer = ws_connect(rest.server, ws_url(rest.server, "consumer", name, unique_name("bytes")), token=rest.token)
    try:
        received = collect(consumer, 1)
    finally:
        close_quietly(consumer)

    assert received.messages[0]["payload"] == b64(b"Hello \xff raw")
