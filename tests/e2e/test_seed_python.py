"""The seed's Python program, run as a user would run it against a local server."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys

from rivulet_e2e import logged_in_client, render_seed

SEED_TIMEOUT_SECONDS = 60

MISTAKEN_CONSUMER_URL = 'consumerurl = f"wss://{URL}/_ws/ws/v2/producer/persistent/'
CORRECTED_CONSUMER_URL = 'consumerurl = f"wss://{URL}/_ws/ws/v2/consumer/persistent/'


def run_seed(server, client_env, tmp_path, edits=()) -> subprocess.CompletedProcess:
    script = render_seed(
        "seed_streams.py",
        tmp_path / "seed_streams.py",
        {
            "RIVULET_URL": f"localhost:{server.port}",
            "RIVULET_EMAIL": server.admin_email,
            "RIVULET_PASSWORD": server.admin_password,
            "RIVULET_TENANT": server.tenant,
        },
        edits,
    )
    completed = subprocess.run(
        [sys.executable, str(script)],
        cwd=tmp_path, env=client_env, capture_output=True, text=True, timeout=SEED_TIMEOUT_SECONDS,
    )
    print(f"--- seed stdout ---\n{completed.stdout}\n--- seed stderr ---\n{completed.stderr}")
    return completed


def printed_json(stdout: str, label: str) -> dict:
    """Return the JSON the program printed after `label` (it prints `label: <response text>`)."""
    for line in stdout.splitlines():
        if line.startswith(label):
            return json.loads(line[len(label):].strip())
    raise AssertionError(f"the program printed no line starting with {label!r}")


def test_seed_python_corrected_consumer(server_factory, client_env, tmp_path):
    server = server_factory.start()

    completed = run_seed(server, client_env, tmp_path, [(MISTAKEN_CONSUMER_URL, CORRECTED_CONSUMER_URL)])

    assert completed.returncode == 0, f"seed exited with {completed.returncode}:\n{completed.stderr}"
    created = printed_json(completed.stdout, "Stream Created:")
    assert created["error"] is False
    assert created["result"]["stream-id"] == "c8globals.teststream"
    posted = printed_json(completed.stdout, "Message Posted:")
    assert posted["error"] is False
    assert "errorNum" not in posted
    assert "Message published successfully" in completed.stdout
    # A new subscription starts at the earliest message, so the REST "Hello" comes before "Hello World".
    assert "received: b'Hello'" in completed.stdout.splitlines()
    deleted = printed_json(completed.stdout, "Subscription deleted:")
    assert deleted["error"] is False, f"subscription delete failed: {deleted}"

    rest = logged_in_client(server)
    subscriptions = rest.request("GET", rest.streams_path("/c8globals.teststream/subscriptions"))
    assert subscriptions.status_code == 200, subscriptions.text
    assert subscriptions.json()["result"] == []


def test_seed_python_mistaken_consumer_url(server_factory, client_env, tmp_path):
    server = server_factory.start()

    completed = run_seed(server, client_env, tmp_path)

    assert completed.returncode != 0, "the seed's producer URL with a subscription segment must be refused"
    assert "Message published successfully" in completed.stdout
    assert "received:" not in completed.stdout
    assert "WebSocketBadStatusException" in completed.stderr
    assert "Handshake status 400" in completed.stderr


def test_mistaken_consumer_url_names_consumer_path(shared_server):
    """The 400 before the upgrade names the consumer path to use instead."""
    rest = logged_in_client(shared_server)
    path = (
        f"/_ws/ws/v2/producer/persistent/{shared_server.tenant}/c8global._system/"
        "c8globals.seed_mistaken/seed_subscription"
    )
    response = rest.request(
        "GET", path,
        headers={
            "Connection": "Upgrade",
            "Upgrade": "websocket",
            "Sec-WebSocket-Version": "13",
            "Sec-WebSocket-Key": base64.b64encode(os.urandom(16)).decode(),
        },
    )

    assert response.status_code == 400
    assert "/consumer/" in response.text
