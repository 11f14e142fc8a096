"""Invalid stream, subscription, tenant and fabric names get 400 on REST and WebSocket paths."""

from __future__ import annotations

import pytest

from rivulet_e2e import assert_error, assert_success, handshake_status, namespace, topic_name, unique_name

BAD_STREAM_NAMES = {
    "dot dot": "a..b",
    "encoded dot dot": "%2e%2e",
    "encoded slash": "a%2Fb",
    "NUL": "a%00b",
    "control character": "a%01b",
    "newline": "a%0Ab",
    "space": "a%20b",
    "too long": "a" * 231,
    "leading digit": "1abc",
}


@pytest.mark.parametrize("name", BAD_STREAM_NAMES.values(), ids=BAD_STREAM_NAMES.keys())
def test_rest_rejects_bad_stream_name(rest, name):
    assert_error(rest.request("POST", rest.streams_path(f"/{name}?global=true")), 400)
    assert_error(rest.publish(f"c8globals.{name}", "x"), 400)
    assert_success(rest.request("GET", rest.streams_path()))


BAD_SUBSCRIPTIONS = {
    # Encoded, because HTTP clients resolve a literal ".." segment before sending.
    "dot dot": "%2e%2e",
    "encoded slash": "a%2Fb",
    "NUL": "a%00b",
    "control character": "a%1Bb",
    "too long": "s" * 241,
}


@pytest.mark.parametrize("subscription", BAD_SUBSCRIPTIONS.values(), ids=BAD_SUBSCRIPTIONS.keys())
def test_rest_rejects_bad_subscription_name(rest, subscription):
    name = unique_name("names")
    assert_success(rest.create_stream(name))
    path = rest.streams_path(f"/subscription/{subscription}")
    assert_error(rest.request("DELETE", path), 400)


BAD_PREFIX_NAMES = {
    "encoded dot dot": "%2e%2e",
    "NUL": "x%00y",
    "control character": "x%07y",
    "encoded slash": "x%2Fy",
    "too long": "f" * 65,
}


@pytest.mark.parametrize("fabric", BAD_PREFIX_NAMES.values(), ids=BAD_PREFIX_NAMES.keys())
def test_rest_rejects_bad_fabric_name(rest, fabric):
    body = assert_error(rest.request("GET", f"/_fabric/{fabric}/_api/streams"), 400)
    assert "fabric name" in body["errorMessage"]
    assert "\x00" not in body["errorMessage"]


@pytest.mark.parametrize("tenant", BAD_PREFIX_NAMES.values(), ids=BAD_PREFIX_NAMES.keys())
def test_rest_rejects_bad_tenant_name(rest, tenant):
    body = assert_error(rest.request("GET", f"/_tenant/{tenant}/_fabric/_system/_api/streams"), 400)
    assert "tenant name" in body["errorMessage"]


def websocket_path(server, tenant: str, namespace_: str, topic: str, subscription: str | None = None) -> str:
    path = f"{server.ws_base}/consumer/persistent/{tenant}/{namespace_}/{topic}"
    return path + f"/{subscription}" if subscription is not None else path


@pytest.mark.parametrize("case", [
    "bad tenant", "bad fabric", "bad topic", "bad subscription", "dot dot subscription",
])
def test_websocket_rejects_bad_names(rest, case):
    server = rest.server
    good_topic = topic_name(unique_name("names"))
    parts = {
        "bad tenant": ("..", namespace(), good_topic, "sub"),
        "bad fabric": (server.tenant, "c8global.%2e%2e", good_topic, "sub"),
        "bad topic": (server.tenant, namespace(), "c8globals.a%00b", "sub"),
        "bad subscription": (server.tenant, namespace(), good_topic, "a%00b"),
        "dot dot subscription": (server.tenant, namespace(), good_topic, ".."),
    }[case]
    assert handshake_status(server, websocket_path(server, *parts), token=rest.token) == 400
    assert_success(rest.request("GET", rest.streams_path()))
