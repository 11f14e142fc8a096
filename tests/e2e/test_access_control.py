"""API keys, access levels and tenant isolation against a real server.

Refusals come first; each test ends by checking that the server still serves the administrator, so a refusal
never costs other clients their service.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import ssl

import pytest
import websocket

from rivulet_e2e import (
    FABRIC,
    RestClient,
    assert_error,
    assert_success,
    b64,
    close_quietly,
    handshake_status,
    logged_in_client,
    publish_frames,
    recv_json,
    topic_name,
    unique_name,
    ws_connect,
    ws_url,
)


def connect_with(server, url: str, authorization: str) -> websocket.WebSocket:
    return websocket.create_connection(
        url, header=[f"Authorization: {authorization}"], timeout=10,
        sslopt={"ca_certs": str(server.tls.ca_file), "cert_reqs": ssl.CERT_REQUIRED},
    )


def status_with(server, url: str, authorization: str) -> int:
    """The HTTP status of a handshake with this Authorization value; 101 when it upgraded."""
    try:
        socket_ = connect_with(server, url, authorization)
    except websocket.WebSocketBadStatusException as error:
        return error.status_code
    socket_.close()
    return 101


def encode(part: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(part).encode()).rstrip(b"=").decode()


def create_key(rest: RestClient, key_id: str) -> str:
    body = assert_success(rest.request("POST", "/_api/key", json={"keyid": key_id}))
    assert body["keyid"] == key_id
    return body["key"]


def set_level(rest: RestClient, key_id: str, level: str, stream: str | None = None, fabric: str = FABRIC) -> None:
    path = f"/_api/key/{key_id}/database/{fabric}" + (f"/stream/{stream}" if stream else "")
    assert assert_success(rest.request("PUT", path, json={"grant": level}))["result"] == level


def assert_server_serves_admin(server) -> None:
    """The administrator can still publish and consume, so the refusals before did not disturb the server."""
    admin = logged_in_client(server)
    name = unique_name("still_up")
    assert_success(admin.create_stream(name))
    consumer = ws_connect(server, ws_url(server, "consumer", name, unique_name("sub")), token=admin.token)
    producer = ws_connect(server, ws_url(server, "producer", name), token=admin.token)
    try:
        publish_frames(producer, ["alive"])
        message = recv_json(consumer)
        assert base64.b64decode(message["payload"]) == b"alive"
    finally:
        close_quietly(producer, consumer)


def test_wrong_password_is_401(shared_server):
    client = RestClient(shared_server)
    response = client.request("POST", "/_open/auth", auth=False,
                              json={"email": shared_server.admin_email, "password": "not the password"})
    assert_error(response, 401)
    assert "jwt" not in response.text
    assert_server_serves_admin(shared_server)


def test_token_with_alg_none_is_refused(shared_server, rest):
    claims = {"tenant": shared_server.tenant, "username": "root", "iat": 1, "exp": 4_000_000_000}
    unsigned = f"{encode({'alg': 'none', 'typ': 'JWT'})}.{encode(claims)}."
    assert_error(rest.request("GET", "/_api/user", headers={"Authorization": f"bearer {unsigned}"}), 401)
    other_alg = f"{encode({'alg': 'HS512', 'typ': 'JWT'})}.{encode(claims)}.{rest.token.split('.')[2]}"
    assert_error(rest.request("GET", "/_api/user", headers={"Authorization": f"bearer {other_alg}"}), 401)
    name = unique_name("alg_none")
    assert handshake_status(shared_server, ws_url(shared_server, "producer", name), token=unsigned) == 401
    assert_server_serves_admin(shared_server)


def test_expired_token_is_refused(shared_server, rest):
    """A correctly signed token whose exp has passed gets 401 on REST and on a socket handshake.

    The test owns the server's data directory, so it signs with the server's own secret file.
    """
    secret = (shared_server.data_dir / "jwt-secret").read_bytes()
    # The server's own claims (its password tag included), with iat and exp moved into the past.
    issued = rest.token.split(".")[1]
    claims = dict(json.loads(base64.urlsafe_b64decode(issued + "=" * (-len(issued) % 4))), iat=1_000, exp=2_000)
    signing_input = f"{encode({'alg': 'HS256', 'typ': 'JWT'})}.{encode(claims)}"
    signature = base64.urlsafe_b64encode(hmac.new(secret, signing_input.encode(), hashlib.sha256).digest())
    expired = f"{signing_input}.{signature.decode().rstrip('=')}"
    fresh_claims = dict(claims, exp=4_000_000_000)
    fresh_input = f"{encode({'alg': 'HS256', 'typ': 'JWT'})}.{encode(fresh_claims)}"
    fresh_signature = base64.urlsafe_b64encode(hmac.new(secret, fresh_input.encode(), hashlib.sha256).digest())
    fresh = f"{fresh_input}.{fresh_signature.decode().rstrip('=')}"

    # The same signing code makes a token the server accepts once exp lies in the future.
    assert_success(rest.request("GET", "/_api/user", headers={"Authorization": f"bearer {fresh}"}))
    response = rest.request("GET", "/_api/user", headers={"Authorization": f"bearer {expired}"})
    assert "invalid or expired" in assert_error(response, 401)["errorMessage"]
    name = unique_name("expired")
    assert handshake_status(shared_server, ws_url(shared_server, "producer", name), token=expired) == 401
    assert_server_serves_admin(shared_server)


def test_tampered_signature_is_refused(shared_server, rest):
    header, payload, signature = rest.token.split(".")
    flipped = ("A" if signature[0] != "A" else "B") + signature[1:]
    assert_error(rest.request("GET", "/_api/user", headers={"Authorization": f"bearer {header}.{payload}.{flipped}"}), 401)
    # A payload naming another user under the original signature fails too.
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["username"] = "someone-else"
    forged = f"{header}.{encode(claims)}.{signature}"
    assert_error(rest.request("GET", "/_api/user", headers={"Authorization": f"bearer {forged}"}), 401)
    assert_server_serves_admin(shared_server)


def test_reused_otp_is_refused(shared_server, rest):
    name = unique_name("otp_reuse")
    assert_success(rest.create_stream(name))
    otp = rest.otp()
    url = ws_url(shared_server, "reader", name, query={"otp": otp})
    assert handshake_status(shared_server, url) == 101
    assert handshake_status(shared_server, url) == 401
    assert_server_serves_admin(shared_server)


def test_read_only_key_cannot_publish(shared_server, rest):
    name = unique_name("ro_key")
    topic = topic_name(name)
    assert_success(rest.create_stream(name))
    key_id = unique_name("ro")
    key = create_key(rest, key_id)
    set_level(rest, key_id, "ro", stream=topic)
    authorization = f"apikey {key}"

    assert status_with(shared_server, ws_url(shared_server, "producer", name), authorization) == 403
    assert_error(rest.request("POST", rest.streams_path(f"/{topic}/publish"), data="x",
                              headers={"Authorization": authorization}), 403)
    # Reading is what ro allows.
    consumer = connect_with(shared_server, ws_url(shared_server, "consumer", name, unique_name("sub")), authorization)
    close_quietly(consumer)
    assert_server_serves_admin(shared_server)


def test_write_only_key_cannot_consume_or_read(shared_server, rest):
    name = unique_name("wo_key")
    topic = topic_name(name)
    assert_success(rest.create_stream(name))
    key_id = unique_name("wo")
    key = create_key(rest, key_id)
    set_level(rest, key_id, "wo", stream=topic)
    authorization = f"apikey {key}"

    assert status_with(shared_server, ws_url(shared_server, "consumer", name, unique_name("sub")), authorization) == 403
    assert status_with(shared_server, ws_url(shared_server, "reader", name), authorization) == 403
    assert_error(rest.request("GET", rest.streams_path(f"/{topic}/stats"), headers={"Authorization": authorization}), 403)
    # The refused consumer created no subscription.
    assert assert_success(rest.request("GET", rest.streams_path(f"/{topic}/subscriptions")))["result"] == []
    producer = connect_with(shared_server, ws_url(shared_server, "producer", name), authorization)
    try:
        publish_frames(producer, ["from a wo key"])
    finally:
        close_quietly(producer)
    assert_server_serves_admin(shared_server)


def test_key_without_levels_and_deleted_key(shared_server, rest):
    name = unique_name("no_level")
    assert_success(rest.create_stream(name))
    key_id = unique_name("none")
    key = create_key(rest, key_id)
    authorization = f"apikey {key}"
    assert status_with(shared_server, ws_url(shared_server, "producer", name), authorization) == 403
    assert_error(rest.request("GET", rest.streams_path(), headers={"Authorization": authorization}), 403)
    assert_error(rest.request("POST", "/_api/key", json={"keyid": "escalate"}, headers={"Authorization": authorization}), 403)

    assert rest.request("DELETE", f"/_api/key/{key_id}").status_code == 202
    assert_error(rest.request("GET", "/_api/user", headers={"Authorization": authorization}), 401)
    assert status_with(shared_server, ws_url(shared_server, "producer", name), authorization) == 401
    assert_server_serves_admin(shared_server)


def test_tenant_cannot_reach_another_tenant(shared_server, rest):
    tenant = unique_name("globex")
    email = f"{tenant}@globex.test"
    assert_success(rest.request("POST", "/_api/tenant", json={"name": tenant, "email": email, "passwd": "globex-Passw0rd"}))
    other = RestClient(shared_server)
    other.login(email=email, password="globex-Passw0rd")

    name = unique_name("private")
    topic = topic_name(name)
    assert_success(rest.create_stream(name))
    assert_success(rest.publish(topic, "secret payload"))
    home = shared_server.tenant

    for method, path in [
        ("GET", f"/_tenant/{home}/_fabric/_system/_api/streams"),
        ("GET", f"/_tenant/{home}/_fabric/_system/_api/streams/{topic}/stats"),
        ("POST", f"/_tenant/{home}/_fabric/_system/_api/streams/{topic}/publish"),
        ("GET", f"/datacenter/_tenant/{home}"),
    ]:
        response = other.request(method, path)
        assert response.status_code in (403, 404), f"{method} {path}: {response.status_code} {response.text}"
        assert "secret payload" not in response.text
    # Without a tenant prefix the same names resolve inside the other tenant, where they do not exist.
    assert_error(other.request("GET", other.streams_path(f"/{topic}/stats")), 404)
    assert all(stream["topic"] != topic for stream in assert_success(other.request("GET", other.streams_path()))["result"])
    assert_error(other.request("POST", "/_api/tenant", json={"name": "x", "email": "x@x.test", "passwd": "long enough"}), 403)

    reader_url = ws_url(shared_server, "reader", name)
    assert handshake_status(shared_server, reader_url, token=other.token) == 403
    assert handshake_status(shared_server, ws_url(shared_server, "reader", name, query={"otp": other.otp()})) == 403
    assert_server_serves_admin(shared_server)


def test_rw_key_in_new_fabric(shared_server, rest):
    fabric = unique_name("fab")
    assert rest.request("POST", "/_api/database", json={"name": fabric}).status_code == 201
    key_id = unique_name("rw")
    key = create_key(rest, key_id)
    set_level(rest, key_id, "rw", fabric=fabric)
    authorization = f"apikey {key}"
    name = unique_name("fabric_stream")
    created = rest.request("POST", f"/_fabric/{fabric}/_api/streams/{name}?global=true", headers={"Authorization": authorization})
    assert assert_success(created)["result"] == {"stream-id": topic_name(name)}

    base = f"{shared_server.ws_base}/{{role}}/persistent/{shared_server.tenant}/c8global.{fabric}/{topic_name(name)}"
    consumer = connect_with(shared_server, base.format(role="consumer") + "/sub", authorization)
    producer = connect_with(shared_server, base.format(role="producer"), authorization)
    try:
        publish_frames(producer, ["in a fabric"])
        assert base64.b64decode(recv_json(consumer)["payload"]) == b"in a fabric"
    finally:
        close_quietly(producer, consumer)
    # Each fabric has its own message TTL.
    system_ttl = assert_success(rest.request("GET", rest.streams_path("/ttl")))["result"]
    assert_success(rest.request("POST", f"/_fabric/{fabric}/_api/streams/ttl/{system_ttl + 120}", headers={"Authorization": authorization}))
    assert assert_success(rest.request("GET", f"/_fabric/{fabric}/_api/streams/ttl"))["result"] == system_ttl + 120
    assert assert_success(rest.request("GET", rest.streams_path("/ttl")))["result"] == system_ttl
    # The same stream name in _system is another stream.
    assert_error(rest.request("GET", rest.streams_path(f"/{topic_name(name)}/stats")), 404)

    assert rest.request("DELETE", f"/_api/database/{fabric}").status_code == 202
    assert_error(rest.request("GET", f"/_fabric/{fabric}/_api/streams"), 404)
    assert status_with(shared_server, base.format(role="producer"), authorization) == 404
    assert_server_serves_admin(shared_server)


def test_audit_log_names_key_events_without_secrets(shared_server, rest):
    offset = shared_server.log_size()
    key_id = unique_name("audited")
    key = create_key(rest, key_id)
    set_level(rest, key_id, "ro")
    assert rest.request("DELETE", f"/_api/key/{key_id}").status_code == 202
    log = shared_server.log_since(offset, max_chars=200_000)
    assert "created API key" in log
    assert "deleted API key" in log
    assert "access level set" in log
    assert key_id in log
    assert key.split(".")[-1] not in log
