"""pyC8 1.1.2 with an API key instead of a password: C8Client(apikey=...) looks its tenant up through
GET /_api/user, then uses `Authorization: apikey <key>` on REST and on its WebSockets.

It reuses the port-443 fixture of test_pyc8.py, which takes the suite's lock and maps api-localhost.
"""

from __future__ import annotations

import base64
import json

import pytest

from rivulet_e2e import logged_in_client, unique_name

c8_client = pytest.importorskip("c8.client", reason="pyC8 is not installed: pip install -r tests/e2e/requirements.txt")

from test_pyc8 import PORT, pyc8_server  # noqa: E402,F401  (the fixture is used by name)


def key_client(key: str):
    return c8_client.C8Client(protocol="https", host="localhost", port=PORT, geofabric="_system", apikey=key)


def new_key(admin, key_id: str, fabric_level: str | None = None) -> str:
    response = admin.request("POST", "/_api/key", json={"keyid": key_id})
    assert response.status_code == 201, response.text
    if fabric_level:
        granted = admin.request("PUT", f"/_api/key/{key_id}/database/_system", json={"grant": fabric_level})
        assert granted.status_code == 200, granted.text
    return response.json()["key"]


def test_pyc8_with_an_api_key_end_to_end(pyc8_server):
    admin = logged_in_client(pyc8_server)
    client = key_client(new_key(admin, unique_name("pyc8key"), fabric_level="rw"))
    assert client._tenant._conn.tenant_name == pyc8_server.tenant

    name = unique_name("pyc8_key_stream")
    topic = f"c8globals.{name}"
    assert client.create_stream(name) == {"stream-id": topic}
    assert client.has_stream(name) is True

    subscriber = client.subscribe(name, subscription_name=unique_name("keysub"))
    producer = client.create_stream_producer(name)
    try:
        producer.send("sent with an API key")
        assert json.loads(producer.recv())["result"] == "ok"
        subscriber.settimeout(10)
        message = json.loads(subscriber.recv())
        subscriber.send(json.dumps({"messageId": message["messageId"]}))
    finally:
        producer.close()
        subscriber.close()
    assert base64.b64decode(message["payload"]).decode() == "sent with an API key"
    assert client.delete_stream(topic) is True


def test_pyc8_read_only_key_producer(pyc8_server):
    admin = logged_in_client(pyc8_server)
    name = unique_name("pyc8_ro")
    assert admin.create_stream(name).status_code in (200, 202)
    client = key_client(new_key(admin, unique_name("pyc8ro"), fabric_level="ro"))
    assert client.has_stream(name) is True
    with pytest.raises(Exception) as refused:
        client.create_stream_producer(name)
    assert "403" in str(refused.value)
    # Reading is what ro allows.
    reader = client.create_stream_reader(name, start_message_id="earliest")
    reader.close()
