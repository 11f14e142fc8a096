"""Polls a freshly started server until it serves requests; exits 1 when --timeout passes first."""

import argparse
import asyncio
import json
import socket
import sys
import time
import urllib.error
import urllib.request


def rivulet_ready(port, password):
    body = json.dumps({"email": "admin@rivulet.local", "password": password}).encode()
    request = urllib.request.Request(f"http://127.0.0.1:{port}/_open/auth", data=body, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=2) as response:
            return response.status == 200
    except (urllib.error.URLError, ConnectionError, OSError):
        return False


def redis_ready(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2) as connection:
            connection.sendall(b"PING\r\n")
            return connection.recv(64).startswith(b"+PONG")
    except OSError:
        return False


def nats_ready(port):
    async def check():
        import nats
        client = await nats.connect(f"nats://127.0.0.1:{port}", connect_timeout=1, max_reconnect_attempts=0,
                                    allow_reconnect=False)
        try:
            await client.jetstream().account_info()
        finally:
            await client.close()
    try:
        asyncio.run(asyncio.wait_for(check(), timeout=3))
        return True
    except Exception:  # any failure means "not serving yet"; the caller retries until its deadline
        return False


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("system", choices=["rivulet", "redis", "nats"])
    parser.add_argument("port", type=int)
    parser.add_argument("--password", default="")
    parser.add_argument("--timeout", type=float, default=60)
    args = parser.parse_args()
    deadline = time.monotonic() + args.timeout
    check = dict(rivulet=lambda: rivulet_ready(args.port, args.password), redis=lambda: redis_ready(args.port),
                 nats=lambda: nats_ready(args.port))[args.system]
    while time.monotonic() < deadline:
        if check():
            print("ready")
            return
        time.sleep(0.005)
    print(f"{args.system} on port {args.port} did not serve within {args.timeout} s", file=sys.stderr)
    sys.exit(1)


if __name__ == "__main__":
    main()
