"""Load generator for the peer brokers (Redis Streams, NATS JetStream), measuring what `rivulet bench` measures.

It mirrors the Rivulet generator: a window of unacknowledged publishes, a payload that starts with its
scheduled send time and sequence number, an acknowledgement for every delivery, and the server's CPU time
read from /proc/<pid>/stat. It prints one JSON line. Every loop is bounded by --timeout.
"""

import argparse
import asyncio
import json
import os
import struct
import sys
import time

TICKS = os.sysconf("SC_CLK_TCK")


def cpu_us(pid):
    if pid is None:
        return None
    with open(f"/proc/{pid}/stat") as handle:
        fields = handle.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) * 1e6 / TICKS


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as handle:
        for line in handle:
            if line.startswith("VmRSS:"):
                return float(line.split()[1])
    return None


def open_fds(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


def make_payload(size, scheduled, sequence):
    return struct.pack("<QQ", scheduled, sequence) + b"x" * (max(size, 16) - 16)


def latency_fields(latencies, result):
    if not latencies:
        return
    ordered = sorted(latencies)
    def pick(fraction):
        return ordered[min(len(ordered) - 1, int(len(ordered) * fraction))] / 1e6
    result.update(p50_ms=pick(0.5), p99_ms=pick(0.99), p999_ms=pick(0.999), max_ms=ordered[-1] / 1e6)


class Pacer:
    """Tells the producer how many messages are due, and each one's scheduled send time."""

    def __init__(self, count, rate):
        self.count = count
        self.interval = 1e9 / rate if rate else None
        self.start = time.monotonic_ns()

    def due(self):
        if self.interval is None:
            return self.count
        return min(self.count, int((time.monotonic_ns() - self.start) / self.interval) + 1)

    def scheduled(self, sequence):
        if self.interval is None:
            return time.monotonic_ns()
        return self.start + int(sequence * self.interval)

    async def wait_for(self, sequence):
        delay = (self.start + sequence * self.interval - time.monotonic_ns()) / 1e9
        await asyncio.sleep(max(delay, 0))


def unique(prefix):
    return f"{prefix}{os.getpid()}x{time.monotonic_ns() % 10**12}"


# --- Redis Streams -------------------------------------------------------------------------------------------


async def redis_connect(args):
    import redis.asyncio as redis
    return redis.Redis(host="127.0.0.1", port=args.port, decode_responses=False)


async def redis_produce(args, key, count, size, rate, deadline, batch_limit=256):
    client = await redis_connect(args)
    pacer = Pacer(count, rate)
    sent = 0
    acked = 0
    while sent < count and time.monotonic() < deadline:
        due = pacer.due()
        if due <= sent:
            await pacer.wait_for(sent)
            continue
        batch = min(due - sent, batch_limit, args.window)
        pipe = client.pipeline(transaction=False)
        for sequence in range(sent, sent + batch):
            pipe.xadd(key, {b"d": make_payload(size, pacer.scheduled(sequence), sequence)})
        replies = await pipe.execute()
        acked += sum(1 for reply in replies if reply)
        sent += batch
    await client.aclose()
    return acked


async def redis_consume(args, key, group, expected, deadline, latencies):
    client = await redis_connect(args)
    received = 0
    while received < expected and time.monotonic() < deadline:
        reply = await client.xreadgroup(group, "c", {key: ">"}, count=1000, block=100)
        if not reply:
            continue
        entries = reply[0][1]
        now = time.monotonic_ns()
        ids = []
        for entry_id, fields in entries:
            scheduled = struct.unpack_from("<Q", fields[b"d"])[0]
            latencies.append(max(now - scheduled, 0))
            ids.append(entry_id)
        received += len(ids)
        await client.xack(key, group, *ids)
    await client.aclose()
    return received


# --- NATS JetStream ------------------------------------------------------------------------------------------


async def nats_connect(args):
    import nats
    return await nats.connect(f"nats://127.0.0.1:{args.port}", pending_size=64 * 1024 * 1024)


async def nats_stream(args, name):
    from nats.js.api import StorageType
    client = await nats_connect(args)
    await client.jetstream().add_stream(name=name, subjects=[name], storage=StorageType.FILE)
    await client.close()


async def nats_produce(args, subject, count, size, rate, deadline):
    """Publishes with a reply inbox per message, so that up to --window publish acks are outstanding."""
    client = await nats_connect(args)
    pacer = Pacer(count, rate)
    credits = asyncio.Semaphore(args.window)
    done = asyncio.Event()
    state = {"acked": 0, "failed": 0}
    inbox = client.new_inbox()

    async def on_ack(message):
        if b'"error"' in message.data:
            state["failed"] += 1
        else:
            state["acked"] += 1
        credits.release()
        if state["acked"] + state["failed"] >= count:
            done.set()

    await client.subscribe(inbox + ".*", cb=on_ack)
    sent = 0
    while sent < count and time.monotonic() < deadline:
        due = pacer.due()
        if due <= sent:
            await pacer.wait_for(sent)
            continue
        try:
            await asyncio.wait_for(credits.acquire(), timeout=max(deadline - time.monotonic(), 0.01))
        except asyncio.TimeoutError:
            break
        await client.publish(subject, make_payload(size, pacer.scheduled(sent), sent), reply=f"{inbox}.{sent}")
        sent += 1
    try:
        await asyncio.wait_for(done.wait(), timeout=max(deadline - time.monotonic(), 0.01))
    except asyncio.TimeoutError:
        pass
    await client.close()
    return state["acked"]


async def nats_consume(args, subject, durable, expected, deadline, latencies, ready):
    client = await nats_connect(args)
    js = client.jetstream()
    done = asyncio.Event()
    state = {"received": 0}

    async def on_message(message):
        scheduled = struct.unpack_from("<Q", message.data)[0]
        latencies.append(max(time.monotonic_ns() - scheduled, 0))
        state["received"] += 1
        await message.ack()
        if state["received"] >= expected:
            done.set()

    from nats.js.api import ConsumerConfig, DeliverPolicy
    config = ConsumerConfig(deliver_policy=DeliverPolicy.ALL, max_ack_pending=1000)
    await js.subscribe(subject, durable=durable, cb=on_message, manual_ack=True, config=config,
                       pending_msgs_limit=-1, pending_bytes_limit=-1)
    ready.set()
    try:
        await asyncio.wait_for(done.wait(), timeout=max(deadline - time.monotonic(), 0.01))
    except asyncio.TimeoutError:
        pass
    await client.close()
    return state["received"]


# --- Workloads -----------------------------------------------------------------------------------------------


async def throughput(args, deadline):
    latencies = []
    key = unique("tp")
    if args.system == "redis":
        client = await redis_connect(args)
        for index in range(args.subscriptions):
            await client.xgroup_create(key, f"g{index}", id="$", mkstream=True)
        await client.aclose()
        consumers = [redis_consume(args, key, f"g{index}", args.messages, deadline, latencies)
                     for index in range(args.subscriptions)]
        producer = redis_produce(args, key, args.messages, args.size, args.rate, deadline)
    else:
        await nats_stream(args, key)
        readies = [asyncio.Event() for _ in range(args.subscriptions)]
        consumers = [nats_consume(args, key, f"d{index}", args.messages, deadline, latencies, readies[index])
                     for index in range(args.subscriptions)]
        consumer_tasks = [asyncio.ensure_future(consumer) for consumer in consumers]
        await asyncio.wait_for(asyncio.gather(*(ready.wait() for ready in readies)), timeout=30)
        consumers = consumer_tasks
        producer = nats_produce(args, key, args.messages, args.size, args.rate, deadline)
    cpu_before = cpu_us(args.server_pid)
    started = time.monotonic()
    results = await asyncio.gather(producer, *consumers)
    elapsed = time.monotonic() - started
    cpu_after = cpu_us(args.server_pid)
    published, delivered = results[0], sum(results[1:])
    result = dict(published=published, delivered=delivered, seconds=elapsed, msgs_per_s=published / elapsed,
                  deliveries_per_s=delivered / elapsed, size=args.size, subscriptions=args.subscriptions,
                  complete=delivered == args.messages * args.subscriptions)
    if args.rate:
        result["rate"] = args.rate
    latency_fields(latencies, result)
    if cpu_before is not None and delivered:
        result["server_cpu_us_per_msg"] = (cpu_after - cpu_before) / max(published, 1)
        result["server_cpu_us_per_delivery"] = (cpu_after - cpu_before) / delivered
        result["server_cpu_share"] = (cpu_after - cpu_before) / 1e6 / elapsed
    return result


async def backlog(args, deadline):
    latencies = []
    key = unique("bl")
    started = time.monotonic()
    if args.system == "redis":
        published = await redis_produce(args, key, args.messages, args.size, None, deadline)
        client = await redis_connect(args)
        await client.xgroup_create(key, "replay", id="0")
        await client.aclose()
        publish_seconds = time.monotonic() - started
        cpu_before = cpu_us(args.server_pid)
        started = time.monotonic()
        delivered = await redis_consume(args, key, "replay", published, deadline, latencies)
    else:
        await nats_stream(args, key)
        published = await nats_produce(args, key, args.messages, args.size, None, deadline)
        publish_seconds = time.monotonic() - started
        cpu_before = cpu_us(args.server_pid)
        started = time.monotonic()
        delivered = await nats_consume(args, key, "replay", published, deadline, latencies, asyncio.Event())
    elapsed = time.monotonic() - started
    cpu_after = cpu_us(args.server_pid)
    result = dict(published=published, publish_seconds=publish_seconds, delivered=delivered, seconds=elapsed,
                  msgs_per_s=delivered / elapsed, size=args.size, complete=delivered == args.messages)
    if cpu_before is not None and delivered:
        result["server_cpu_us_per_msg"] = (cpu_after - cpu_before) / delivered
    return result


async def idle(args, deadline):
    async def open_one():
        reader, writer = await asyncio.open_connection("127.0.0.1", args.port)
        if args.system == "redis":
            writer.write(b"PING\r\n")
            await writer.drain()
            await reader.readline()
        else:
            await reader.readline()  # INFO
            writer.write(b'CONNECT {"verbose":false,"pedantic":false}\r\nPING\r\n')
            await writer.drain()
            while not (await reader.readline()).startswith(b"PONG"):
                pass
        return writer

    first = await open_one()
    await asyncio.sleep(0.5)
    before = rss_kib(args.server_pid)
    writers = []
    while len(writers) < args.connections and time.monotonic() < deadline:
        writers.append(await open_one())
    await asyncio.sleep(1)
    after = rss_kib(args.server_pid)
    for writer in writers + [first]:
        writer.close()
    return dict(connections=len(writers), complete=len(writers) == args.connections, rss_kib_before=before,
                rss_kib_after=after, rss_kib_per_connection=(after - before) / max(len(writers), 1))


async def streams(args, deadline):
    if args.system != "redis":
        raise SystemExit("streams: only redis is measured; one JetStream stream per entity is not how NATS is used")
    client = await redis_connect(args)
    prefix = unique("st")
    before, fds_before = rss_kib(args.server_pid), open_fds(args.server_pid)
    created = 0
    started = time.monotonic()
    while created < args.streams and time.monotonic() < deadline:
        pipe = client.pipeline(transaction=False)
        batch = min(1000, args.streams - created)
        for index in range(created, created + batch):
            pipe.xadd(f"{prefix}n{index}", {b"d": b"x" * args.size})
        await pipe.execute()
        created += batch
    elapsed = time.monotonic() - started
    await client.aclose()
    await asyncio.sleep(1)
    after, fds_after = rss_kib(args.server_pid), open_fds(args.server_pid)
    return dict(streams=created, seconds=elapsed, complete=created == args.streams,
                rss_kib_per_stream=(after - before) / max(created, 1),
                rss_bytes_per_stream=(after - before) * 1024 / max(created, 1),
                fds_before=fds_before, fds_after=fds_after, fds_per_stream=(fds_after - fds_before) / max(created, 1))


async def fill(args, deadline):
    size = 16384 if args.size == 100 else args.size
    count = max(1, args.bytes // size)
    key = unique("fill")
    started = time.monotonic()
    if args.system == "redis":
        published = await redis_produce(args, key, count, size, None, deadline, batch_limit=64)
    else:
        await nats_stream(args, key)
        published = await nats_produce(args, key, count, size, None, deadline)
    return dict(published=published, size=size, bytes=published * size, seconds=time.monotonic() - started,
                complete=published == count)


async def redis_benchmark(args, deadline):
    """Publish-only XADD throughput from redis-benchmark (pipelined, one connection): Redis's best client."""
    import subprocess
    key = unique("rb")
    payload = "x" * args.size
    command = ["redis-benchmark", "-p", str(args.port), "-n", str(args.messages), "-c", "1", "-P", "64", "-q",
               "XADD", key, "*", "d", payload]
    cpu_before = cpu_us(args.server_pid)
    started = time.monotonic()
    subprocess.run(command, check=True, capture_output=True, timeout=max(deadline - time.monotonic(), 1))
    elapsed = time.monotonic() - started
    cpu_after = cpu_us(args.server_pid)
    client = await redis_connect(args)
    published = await client.xlen(key)
    await client.aclose()
    return dict(published=published, seconds=elapsed, msgs_per_s=published / elapsed, size=args.size,
                complete=published >= args.messages,
                server_cpu_us_per_msg=(cpu_after - cpu_before) / max(published, 1))


async def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("system", choices=["redis", "nats"])
    parser.add_argument("workload", choices=["throughput", "backlog", "idle", "streams", "fill", "publish-only"])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--server-pid", type=int)
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--size", type=int, default=100)
    parser.add_argument("--window", type=int, default=1000)
    parser.add_argument("--rate", type=float)
    parser.add_argument("--subscriptions", type=int, default=1)
    parser.add_argument("--connections", type=int, default=1000)
    parser.add_argument("--streams", type=int, default=1000)
    parser.add_argument("--bytes", type=int, default=134_217_728)
    parser.add_argument("--timeout", type=float, default=120)
    args = parser.parse_args()
    deadline = time.monotonic() + args.timeout
    if args.workload == "publish-only" and args.system != "redis":
        raise SystemExit("publish-only: only redis has a benchmark client (redis-benchmark) here")
    work = dict(throughput=throughput, backlog=backlog, idle=idle, streams=streams, fill=fill,
                **{"publish-only": redis_benchmark})[args.workload]
    result = await asyncio.wait_for(work(args, deadline), timeout=args.timeout + 30)
    result["workload"] = args.workload
    print(json.dumps(result, sort_keys=True))


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        sys.exit(130)
