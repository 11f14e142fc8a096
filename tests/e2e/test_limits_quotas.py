"""Quotas: connections per address, streams per fabric, subscriptions per stream and failed logins.

Each test starts its own server with a small quota, because a used-up quota (or a throttled address) would
disturb other tests.
"""

from __future__ import annotations

import ssl

import pytest
import requests

from rivulet_e2e import (
    RawConnection, RestClient, assert_error, assert_success, close_quietly, handshake_status, logged_in_client,
    unique_name, wait_for, ws_connect, ws_url,
)


def test_connections_above_per_address_limit_are_closed(server_factory):
    server = server_factory.start(extra_args=("--max-connections-per-address", "4"))

    def connect() -> RawConnection | None:
        # The readiness probe's connections may still count for a moment after the probe closed them.
        try:
            return RawConnection(server)
        except (ssl.SSLError, OSError):
            return None

    open_connections = []
    try:
        for _ in range(4):
            open_connections.append(wait_for(connect, message="a connection within the per-address limit"))
        with pytest.raises((ssl.SSLError, ConnectionResetError, BrokenPipeError, OSError)):
            # The kernel accepts the TCP connection, the server closes it at once, so the TLS handshake fails.
            RawConnection(server).close()
        open_connections.pop().close()

        def request_succeeds() -> bool:
            try:
                return RestClient(server).request("GET", "/datacenter/local", auth=False).status_code < 500
            except requests.RequestException:
                return False

        wait_for(request_succeeds, message="a request after one connection closed")
    finally:
        for connection in open_connections:
            connection.close()


def test_streams_per_fabric_are_limited(server_factory):
    client = logged_in_client(server_factory.start(extra_args=("--max-streams-per-fabric", "3")))
    names = [unique_name("quota") for _ in range(3)]
    for index, name in enumerate(names):
        assert_success(client.create_stream(name, local=index == 0))

    body = assert_error(client.create_stream(unique_name("quota")), 400)
    assert "maximum of 3 streams" in body["errorMessage"]
    # A producer that would create a fourth stream on connect is refused the same way.
    assert handshake_status(client.server, ws_url(client.server, "producer", unique_name("quota")), client.token) == 400

    assert_success(client.request("DELETE", client.streams_path(f"/c8globals.{names[1]}")))
    assert_success(client.create_stream(unique_name("quota")))
    assert_success(client.request("GET", client.streams_path()))


def test_subscriptions_per_stream_are_limited(server_factory):
    client = logged_in_client(server_factory.start(extra_args=("--max-subscriptions-per-stream", "2")))
    name = unique_name("subs")
    assert_success(client.create_stream(name))
    consumers = [
        ws_connect(client.server, ws_url(client.server, "consumer", name, f"sub-{index}"), token=client.token)
        for index in range(2)
    ]
    try:
        third = ws_url(client.server, "consumer", name, "sub-2")
        assert handshake_status(client.server, third, client.token) == 400
        # A second consumer on an existing Shared subscription is not a new subscription.
        shared = ws_url(client.server, "consumer", name, "sub-0", query={"subscriptionType": "Shared"})
        close_quietly(*consumers)
        consumers = [ws_connect(client.server, shared, token=client.token) for _ in range(2)]
    finally:
        close_quietly(*consumers)
    assert_success(client.request("GET", client.streams_path(f"/c8globals.{name}/stats")))


def test_thousand_failed_logins_get_429(server_factory):
    server = server_factory.start(extra_args=("--max-failed-logins-per-address", "5"))
    admin = logged_in_client(server)
    attacker = RestClient(server)
    statuses = []
    retry_after = None
    for attempt in range(1000):
        response = attacker.request(
            "POST", "/_open/auth", auth=False, json={"email": f"guess{attempt % 7}@example.com", "password": "wrong-pass"})
        statuses.append(response.status_code)
        if response.status_code == 429 and retry_after is None:
            retry_after = response.headers.get("retry-after")
            assert_error(response, 429)

    assert statuses[:5] == [401] * 5
    assert set(statuses[5:]) == {429}
    assert retry_after is not None and 1 <= int(retry_after) <= 60
    # The right password from the throttled address is refused too, until the window passes.
    assert attacker.request("POST", "/_open/auth", auth=False,
                            json={"email": server.admin_email, "password": server.admin_password}).status_code == 429
    # Clients that already logged in keep working.
    assert_success(admin.request("GET", admin.streams_path()))
    assert server.is_running()


def test_failed_logins_per_account_get_429(server_factory):
    server = server_factory.start(extra_args=(
        "--max-failed-logins-per-address", "1000", "--max-failed-logins-per-account", "3"))
    client = RestClient(server)
    for _ in range(3):
        response = client.request("POST", "/_open/auth", auth=False,
                                  json={"email": server.admin_email, "password": "wrong-pass"})
        assert response.status_code == 401
    blocked = client.request("POST", "/_open/auth", auth=False,
                             json={"email": server.admin_email, "password": server.admin_password})
    assert_error(blocked, 429)
    assert int(blocked.headers["retry-after"]) >= 1
    # Another account from the same address is not blocked: it gets the normal 401.
    other = client.request("POST", "/_open/auth", auth=False, json={"email": "other@example.com", "password": "x"})
    assert other.status_code == 401
