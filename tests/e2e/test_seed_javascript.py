"""The seed's JavaScript program under Node's built-in WebSocket, against a local server."""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest

from rivulet_e2e import E2E_DIR, render_seed

# The program waits 40 s with its sockets open and 5 s more before unsubscribing.
SEED_TIMEOUT_SECONDS = 120
NODE_SHIM_DIR = E2E_DIR / "node_modules_shim"


@pytest.mark.slow
def test_seed_javascript(server_factory, client_env, tmp_path):
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed; the JavaScript seed needs Node 20.10+ with --experimental-websocket")
    server = server_factory.start()
    script = render_seed(
        "seed_streams.js",
        tmp_path / "seed_streams.js",
        {
            "RIVULET_URL": f"localhost:{server.port}",
            "RIVULET_EMAIL": server.admin_email,
            "RIVULET_PASSWORD": server.admin_password,
        },
    )
    env = dict(client_env, NODE_PATH=str(NODE_SHIM_DIR))

    completed = subprocess.run(
        [node, "--experimental-websocket", str(script)],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=SEED_TIMEOUT_SECONDS,
    )
    print(f"--- seed stdout ---\n{completed.stdout}\n--- seed stderr ---\n{completed.stderr}")
    out = completed.stdout
    stream = "c8globals.api_tutorial_streams"

    assert completed.returncode == 0
    # The program catches every error and prints it with console.error; Node's notice about the
    # experimental WebSocket is the only stderr output expected.
    unexpected = [line for line in completed.stderr.splitlines()
                  if line.strip() and "ExperimentalWarning" not in line and "--trace-warnings" not in line]
    assert unexpected == []
    assert f"Logged in successfully using {server.tenant}" in out
    assert "Stream created successfully" in out or "Stream already exists" in out
    assert f"WebSocket:Consumer is open now for {stream}" in out
    assert f"WebSocket:Producer is open now for {stream}" in out
    assert "Failed to establish" not in out

    sent = out.count("WebSocket:Producer message sent at")
    received = out.count("WebSocket:Consumer message received at")
    assert sent >= 3, "the producer sends one message every 10 s for 40 s"
    # The last send can race the consumer's close at 40 s, so it may go unseen.
    assert received >= 3
    assert received <= sent
    assert len(re.findall(r"payload: 'test'", out)) == received

    assert "CONSUMER CLOSING..." in out
    assert "PRODUCER CLOSING..." in out
    unsubscribed = re.search(r"api_tutorial_streams_consumer unsubscribed successfully (.*)", out, re.S)
    assert unsubscribed is not None
    assert "error: false" in unsubscribed.group(1)
