"""Helpers for the delivery-semantics tests (test_semantics_*.py): sockets per role, publishing with
metadata, receiving without acking, and the REST figures a client can observe."""

from __future__ import annotations

import json
import time

import websocket

from rivulet_e2e import (
    RestClient,
    assert_success,
    b64,
    close_quietly,
    recv_json_or_none,
    topic_name,
    unb64,
    ws_connect,
    ws_url,
)

# Long enough for a delivery on loopback, short enough to keep "nothing arrives" checks quick.
QUIET_SECONDS = 1.0
# Generous bound for anything the server does on a timer (nack delay, ack timeout, deliverAt).
TIMER_BOUND_SECONDS = 15.0


class Client:
    """Opens producer, consumer and reader sockets on one stream of the shared server, and closes them all."""

    def __init__(self, rest: RestClient, name: str):
        self.rest = rest
        self.server = rest.server
        self.name = name
        self.topic = topic_name(name)
        self.sockets: list[websocket.WebSocket] = []

    def producer(self) -> websocket.WebSocket:
        return self._open(ws_url(self.server, "producer", self.name))

    def consumer(self, subscription: str, **query) -> websocket.WebSocket:
        return self._open(self.consumer_url(subscription, **query))

    def consumer_url(self, subscription: str, **query) -> str:
        return ws_url(self.server, "consumer", self.name, subscription, query={k: str(v) for k, v in query.items()})

    def reader(self, **query) -> websocket.WebSocket:
        return self._open(ws_url(self.server, "reader", self.name, query={k: str(v) for k, v in query.items()}))

    def _open(self, url: str) -> websocket.WebSocket:
        socket_ = ws_connect(self.server, url, token=self.rest.token)
        self.sockets.append(socket_)
        return socket_

    def close(self, socket_: websocket.WebSocket) -> None:
        close_quietly(socket_)
        if socket_ in self.sockets:
            self.sockets.remove(socket_)

    def close_all(self) -> None:
        close_quietly(*self.sockets)
        self.sockets.clear()

    def publish(self, texts, key: str | None = None, **fields) -> list[str]:
        """Publish each text on a fresh producer and return the message ids, in order."""
        producer = self.producer()
        try:
            return publish_on(producer, texts, key=key, **fields)
        finally:
            self.close(producer)

    def get(self, suffix: str) -> object:
        return assert_success(self.rest.request("GET", self.rest.streams_path(f"/{self.topic}{suffix}")))["result"]

    def stats(self) -> dict:
        return self.get("/stats")

    def backlog(self) -> dict:
        return self.get("/backlog")

    def subscription_stats(self, subscription: str) -> dict:
        return self.stats()["subscriptions"][subscription]

    def subscription_backlog(self, subscription: str) -> int:
        return self.subscription_stats(subscription)["msgBacklog"]


def publish_on(producer: websocket.WebSocket, texts, key: str | None = None, **fields) -> list[str]:
    """Publish each text (with `key` and extra frame fields) and return the ids from the acks."""
    ids = []
    for index, text in enumerate(texts):
        frame = {"payload": b64(text), "context": str(index), **fields}
        if key is not None:
            frame["key"] = key
        producer.send(json.dumps(frame))
        producer.settimeout(10)
        ack = json.loads(producer.recv())
        assert ack.get("result") == "ok", f"publish {index} failed: {ack}"
        ids.append(ack["messageId"])
    return ids


def receive(socket_: websocket.WebSocket, count: int, timeout: float = 10.0) -> list[dict]:
    """Receive `count` deliveries without acking them, or fail after `timeout` seconds in total."""
    messages: list[dict] = []
    deadline = time.monotonic() + timeout
    while len(messages) < count:
        remaining = deadline - time.monotonic()
        assert remaining > 0, f"received {len(messages)} of {count} messages within {timeout} s: {texts(messages)}"
        message = recv_json_or_none(socket_, remaining)
        if message is not None:
            messages.append(message)
    return messages


def receive_one(socket_: websocket.WebSocket, timeout: float = 10.0) -> dict:
    return receive(socket_, 1, timeout)[0]


def nothing_arrives(socket_: websocket.WebSocket, seconds: float = QUIET_SECONDS) -> bool:
    message = recv_json_or_none(socket_, seconds)
    assert message is None, f"unexpected frame: {message}"
    return True


def ack(socket_: websocket.WebSocket, *messages: dict | str) -> None:
    for message in messages:
        socket_.send(json.dumps({"messageId": message_id(message)}))


def nack(socket_: websocket.WebSocket, *messages: dict | str) -> None:
    for message in messages:
        socket_.send(json.dumps({"type": "negativeAcknowledge", "messageId": message_id(message)}))


def permit(socket_: websocket.WebSocket, count: int) -> None:
    socket_.send(json.dumps({"type": "permit", "permitMessages": count}))


def message_id(message: dict | str) -> str:
    return message if isinstance(message, str) else message["messageId"]


def texts(messages: list[dict]) -> list[str]:
    return [unb64(message["payload"]).decode() for message in messages]


def wait_for_close(socket_: websocket.WebSocket, timeout: float = 10.0) -> int | None:
    """Read until the server's close frame and return its status code; fail if the socket stays open."""
    socket_.settimeout(timeout)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            opcode, data = socket_.recv_data(control_frame=True)
        except websocket.WebSocketConnectionClosedException:
            return None
        except websocket.WebSocketTimeoutException:
            break
        if opcode == websocket.ABNF.OPCODE_CLOSE:
            return int.from_bytes(data[:2], "big") if len(data) >= 2 else None
    raise AssertionError(f"the server did not close the socket within {timeout} s")


def receive_spread(sockets: dict[str, websocket.WebSocket], count: int, timeout: float = 10.0,
                   ack_each: bool = False) -> dict[str, list[dict]]:
    """Receive `count` deliveries in total from several consumers, polling each in turn; fail after `timeout`
    seconds. Returns the deliveries per label, each list in arrival order."""
    received: dict[str, list[dict]] = {label: [] for label in sockets}
    deadline = time.monotonic() + timeout
    while sum(len(messages) for messages in received.values()) < count:
        assert time.monotonic() < deadline, (
            f"received {sum(len(m) for m in received.values())} of {count} messages within {timeout} s: "
            f"{ {label: texts(messages) for label, messages in received.items()} }"
        )
        for label, socket_ in sockets.items():
            message = recv_json_or_none(socket_, 0.05)
            if message is not None:
                received[label].append(message)
                if ack_each:
                    ack(socket_, message)
    return received
