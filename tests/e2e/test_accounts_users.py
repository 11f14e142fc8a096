"""Users and one-time passwords: a user acts under its own levels, and an OTP carries exactly the levels of
the user or key that requested it."""

from __future__ import annotations

import pytest

from rivulet_e2e import (
    RestClient,
    assert_error,
    assert_success,
    close_quietly,
    handshake_status,
    publish_frames,
    topic_name,
    unique_name,
    ws_connect,
    ws_url,
)

PASSWORD = "user-Passw0rd-long"


def create_user(rest: RestClient, username: str) -> None:
    body = assert_success(rest.request("POST", "/_api/user", json={"user": username, "passwd": PASSWORD}))
    assert body["result"]["user"] == username
    assert PASSWORD not in str(body)


def user_client(server, username: str) -> RestClient:
    client = RestClient(server)
    response = client.request("POST", "/_open/auth", auth=False,
                              json={"tenant": server.tenant, "username": username, "password": PASSWORD})
    client.token = assert_success(response)["jwt"]
    return client


def test_user_wrong_password_and_no_levels(shared_server, rest):
    username = unique_name("alice")
    create_user(rest, username)
    wrong = RestClient(shared_server).request(
        "POST", "/_open/auth", auth=False,
        json={"tenant": shared_server.tenant, "username": username, "password": "wrong password"})
    assert_error(wrong, 401)

    alice = user_client(shared_server, username)
    assert_error(alice.request("GET", alice.streams_path()), 403)
    assert_error(alice.request("POST", "/_api/user", json={"user": "mallory", "passwd": PASSWORD}), 403)
    assert_error(alice.request("GET", "/_api/user/root"), 403)
    own = assert_success(alice.request("GET", "/_api/user"))["result"]
    assert [record["user"] for record in own] == [username]


def test_password_change_ends_earlier_tokens(shared_server, rest):
    username = unique_name("rotated")
    create_user(rest, username)
    before = user_client(shared_server, username)
    assert_success(before.request("GET", "/_api/user"))

    changed = rest.request("PATCH", f"/_api/user/{username}", json={"passwd": "second-Passw0rd-long"})
    assert_success(changed)
    assert_error(before.request("GET", "/_api/user"), 401)
    name = unique_name("rotated_ws")
    assert handshake_status(shared_server, ws_url(shared_server, "producer", name), token=before.token) == 401

    after = RestClient(shared_server)
    response = after.request("POST", "/_open/auth", auth=False,
                             json={"tenant": shared_server.tenant, "username": username,
                                   "password": "second-Passw0rd-long"})
    after.token = assert_success(response)["jwt"]
    assert_success(after.request("GET", "/_api/user"))
    # The administrator's own token is untouched by another user's change.
    assert_success(rest.request("GET", "/_api/user"))


@pytest.mark.parametrize("body", [{"passwd": 123}, {"passwd": None}, {"passwd": ["long-enough-password"]},
                                  {"active": "no"}, {"email": 5}])
def test_user_change_with_wrong_type_is_400(shared_server, rest, body):
    username = unique_name("typed")
    create_user(rest, username)
    error = assert_error(rest.request("PATCH", f"/_api/user/{username}", json=body), 400)
    assert next(iter(body)) in error["errorMessage"]
    # Nothing changed: the old password still logs in.
    assert_success(user_client(shared_server, username).request("GET", "/_api/user"))


def test_otp_carries_the_levels_of_whoever_requested_it(shared_server, rest):
    name = unique_name("otp_levels")
    topic = topic_name(name)
    assert_success(rest.create_stream(name))
    username = unique_name("reader")
    create_user(rest, username)
    level = rest.request("PUT", f"/_api/user/{username}/database/_system/stream/{topic}", json={"grant": "ro"})
    assert assert_success(level)["result"] == "ro"
    reader = user_client(shared_server, username)

    producer_url = ws_url(shared_server, "producer", name, query={"otp": reader.otp()})
    assert handshake_status(shared_server, producer_url) == 403
    consumer_url = ws_url(shared_server, "consumer", name, unique_name("sub"), query={"otp": reader.otp()})
    assert handshake_status(shared_server, consumer_url) == 101

    # The administrator's OTP on the same producer path works: levels follow the requester, not the path.
    producer = None
    try:
        producer = ws_connect(shared_server, ws_url(shared_server, "producer", name, query={"otp": rest.otp()}))
        publish_frames(producer, ["from the administrator"])
    finally:
        close_quietly(producer)


def test_deactivated_user_loses_tokens_and_otps(shared_server, rest):
    username = unique_name("leaver")
    create_user(rest, username)
    rest.request("PUT", f"/_api/user/{username}/database/_system", json={"grant": "rw"})
    leaver = user_client(shared_server, username)
    otp = leaver.otp()
    name = unique_name("leaver_stream")
    assert_success(leaver.create_stream(name))

    assert_success(rest.request("PATCH", f"/_api/user/{username}", json={"active": False}))
    assert_error(leaver.request("GET", leaver.streams_path()), 401)
    assert handshake_status(shared_server, ws_url(shared_server, "reader", name, query={"otp": otp})) == 401
    assert rest.request("DELETE", f"/_api/user/{username}").status_code == 202
    assert_error(rest.request("GET", f"/_api/user/{username}"), 404)


@pytest.mark.parametrize("path", ["/_api/user/root", "/_fabric/_system/_admin/user/root"])
def test_root_cannot_be_deleted(rest, path):
    assert_error(rest.request("DELETE", path), 403)
    assert_success(rest.request("GET", "/_api/user"))
