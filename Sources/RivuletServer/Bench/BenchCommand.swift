#if canImport(Glibc)
import Glibc
#endif
import Foundation
import RivuletCore

/// `rivulet bench`: a load generator that drives a running Rivulet server over its WebSocket and REST APIs
/// and prints one JSON line of results.
enum BenchCommand {
    static let help = """
        Usage: rivulet bench <workload> --password PASSWORD [options]

        Workloads:
          throughput   A producer publishes --messages; --subscriptions consumers receive and ack all
                       (0 measures publishing alone).
                       With --rate the producer is paced (latency run); --subscriptions 10 is the fan-out run.
          backlog      Publish --messages first, then one new subscription replays them from the earliest.
          idle         Open --connections producer sockets and report the server's RSS per connection.
          streams      Create --streams streams over REST with one message each; report RSS and
                       descriptors per stream.
          fill         Publish until the log holds --bytes of payload (for the restart workload).

        Options:
          --host ADDR          Server IPv4 address (default 127.0.0.1).
          --port PORT          Server port (default 8000).
          --email EMAIL        Login email (default admin@rivulet.local).
          --password PASS      Login password (required).
          --tenant NAME        Tenant of the streams (default: the email with '@' replaced by '_').
          --server-pid PID     Server process, for CPU time, RSS and descriptor counts from /proc.
          --messages N         Messages per producer (default 100000).
          --size BYTES         Payload size (default 100).
          --window N           Unacknowledged publishes per producer (default 1000).
          --rate N             Publishes per second per producer; default unpaced.
          --subscriptions N    Consumers, each on its own subscription (default 1).
          --connections N      Sockets for 'idle' (default 1000).
          --streams N          Streams for 'streams' (default 1000).
          --bytes N            Payload bytes for 'fill' (default 134217728).
          --timeout SECONDS    Bound on the whole run (default 120); results count what finished by then.
        """

    struct Options {
        var workload = ""
        var host = "127.0.0.1"
        var port = 8000
        var email = "admin@rivulet.local"
        var password: String?
        var tenant: String?
        var serverPID: Int32?
        var messages = 100_000
        var size = 100
        var window = 1_000
        var rate: Double?
        var subscriptions = 1
        var connections = 1_000
        var streams = 1_000
        var bytes = 134_217_728
        var timeout = 120.0
    }

    static func run(_ arguments: [String]) -> Int32 {
        let options: Options
        switch parse(arguments) {
        case .failure(let error):
            RivuletCommandLine.printError("rivulet bench: \(error.description)\n\n\(help)")
            return 2
        case .success(let parsed):
            guard !parsed.workload.isEmpty else {
                RivuletCommandLine.printOutput(help)
                return 0
            }
            options = parsed
        }
        do {
            let target = try BenchTarget.login(host: options.host, port: options.port, email: options.email,
                                               password: options.password ?? "", tenant: options.tenant)
            let deadline = monotonicNanoseconds() + UInt64(options.timeout * 1e9)
            let server = options.serverPID.map(ServerProcess.init)
            var result: [String: Any]
            switch options.workload {
            case "throughput": result = try throughput(options, target, server, deadline)
            case "backlog": result = try backlog(options, target, server, deadline)
            case "idle": result = try idle(options, target, server, deadline)
            case "streams": result = try streams(options, target, server, deadline)
            case "fill": result = try fill(options, target, deadline)
            default: throw BenchError("unknown workload '\(options.workload)'")
            }
            result["workload"] = options.workload
            let data = try JSONSerialization.data(withJSONObject: result, options: [.sortedKeys])
            RivuletCommandLine.printOutput(String(decoding: data, as: UTF8.self))
            return 0
        } catch {
            RivuletCommandLine.printError("rivulet bench: \(error)")
            return 1
        }
    }

    static let workloads = ["throughput", "backlog", "idle", "streams", "fill"]
    static let numericOptions: Set<String> = [
        "--port", "--server-pid", "--messages", "--size", "--window", "--rate", "--subscriptions", "--connections",
        "--streams", "--bytes", "--timeout",
    ]

    static func parse(_ arguments: [String]) -> Result<Options, BenchError> {
        var options = Options()
        var index = 0
        func value() -> String? {
            index += 1
            return index < arguments.count ? arguments[index] : nil
        }
        func number(_ flag: String) -> Result<Double, BenchError> {
            guard let text = value(), let parsed = Double(text), parsed >= 0 else {
                return .failure(BenchError("\(flag) needs a number of 0 or more"))
            }
            return .success(parsed)
        }
        while index < arguments.count {
            let flag = arguments[index]
            switch flag {
            case "--help", "-h": return .success(Options())
            case "--host": options.host = value() ?? ""
            case "--email": options.email = value() ?? ""
            case "--password": options.password = value()
            case "--tenant": options.tenant = value()
            default:
                guard flag.hasPrefix("--") else {
                    guard options.workload.isEmpty else { return .failure(BenchError("unexpected argument '\(flag)'")) }
                    options.workload = flag
                    break
                }
                guard numericOptions.contains(flag) else { return .failure(BenchError("unknown option '\(flag)'")) }
                let parsed: Double
                switch number(flag) {
                case .failure(let error): return .failure(error)
                case .success(let number): parsed = number
                }
                switch flag {
                case "--port": options.port = Int(parsed)
                case "--server-pid": options.serverPID = Int32(parsed)
                case "--messages": options.messages = Int(parsed)
                case "--size": options.size = Int(parsed)
                case "--window": options.window = Int(parsed)
                case "--rate": options.rate = parsed
                case "--subscriptions": options.subscriptions = Int(parsed)
                case "--connections": options.connections = Int(parsed)
                case "--streams": options.streams = Int(parsed)
                case "--bytes": options.bytes = Int(parsed)
                case "--timeout": options.timeout = parsed
                default: return .failure(BenchError("unknown option '\(flag)'"))
                }
            }
            index += 1
        }
        if !options.workload.isEmpty && !workloads.contains(options.workload) {
            return .failure(BenchError("unknown workload '\(options.workload)': use \(workloads.joined(separator: ", "))"))
        }
        if !options.workload.isEmpty && options.password == nil { return .failure(BenchError("--password is missing")) }
        return .success(options)
    }

    static func uniqueName(_ prefix: String) -> String {
        "\(prefix)\(getpid())x\(monotonicNanoseconds() % 1_000_000_000_000)"
    }

    /// Runs `work` on one thread per element and waits for all of them.
    static func runThreads(_ work: [@Sendable () -> Void]) {
        let group = DispatchGroup()
        for item in work {
            group.enter()
            Thread {
                item()
                group.leave()
            }.start()
        }
        group.wait()
    }

    static func throughput(_ options: Options, _ target: BenchTarget, _ server: ServerProcess?,
                           _ deadline: UInt64) throws -> [String: Any] {
        let stream = uniqueName("tp")
        let consumers = try (0..<options.subscriptions).map {
            try BenchConsumer(target: target, stream: stream, subscription: "sub\($0)", expected: options.messages,
                              deadline: deadline)
        }
        let producer = try BenchProducer(target: target, stream: stream, count: options.messages, window: options.window,
                                         payloadSize: options.size, rate: options.rate, deadline: deadline)
        let cpuBefore = server?.cpuMicroseconds()
        let started = monotonicNanoseconds()
        runThreads([{ producer.run() }] + consumers.map { consumer in { consumer.run() } })
        let elapsed = Double(monotonicNanoseconds() - started) / 1e9
        let cpuAfter = server?.cpuMicroseconds()

        let delivered = consumers.reduce(0) { $0 + $1.received }
        var result: [String: Any] = [
            "published": producer.acknowledged, "publish_failures": producer.failures, "delivered": delivered,
            "seconds": elapsed, "msgs_per_s": Double(producer.acknowledged) / elapsed,
            "deliveries_per_s": Double(delivered) / elapsed, "size": options.size,
            "subscriptions": options.subscriptions, "complete": delivered == options.messages * options.subscriptions,
        ]
        if let rate = options.rate { result["rate"] = rate }
        if let failure = producer.firstFailure { result["first_failure"] = failure }
        if let failure = consumers.compactMap(\.error).first { result["consumer_error"] = failure }
        addLatency(consumers.flatMap(\.latencies), to: &result)
        if let cpuBefore, let cpuAfter, producer.acknowledged > 0 {
            result["server_cpu_us_per_msg"] = (cpuAfter - cpuBefore) / Double(producer.acknowledged)
            result["server_cpu_us_per_delivery"] = (cpuAfter - cpuBefore) / Double(max(delivered, 1))
            result["server_cpu_share"] = (cpuAfter - cpuBefore) / 1e6 / elapsed
        }
        return result
    }

    static func addLatency(_ latencies: [UInt64], to result: inout [String: Any]) {
        guard !latencies.isEmpty else { return }
        let sorted = latencies.sorted()
        func percentile(_ fraction: Double) -> Double {
            Double(sorted[min(sorted.count - 1, Int(Double(sorted.count) * fraction))]) / 1e6
        }
        result["p50_ms"] = percentile(0.5)
        result["p99_ms"] = percentile(0.99)
        result["p999_ms"] = percentile(0.999)
        result["max_ms"] = Double(sorted[sorted.count - 1]) / 1e6
    }

    static func backlog(_ options: Options, _ target: BenchTarget, _ server: ServerProcess?,
                        _ deadline: UInt64) throws -> [String: Any] {
        let stream = uniqueName("bl")
        let producer = try BenchProducer(target: target, stream: stream, count: options.messages, window: options.window,
                                         payloadSize: options.size, rate: nil, deadline: deadline)
        let publishStart = monotonicNanoseconds()
        producer.run()
        let publishSeconds = Double(monotonicNanoseconds() - publishStart) / 1e9
        let consumer = try BenchConsumer(target: target, stream: stream, subscription: "replay",
                                         expected: producer.acknowledged, deadline: deadline)
        let cpuBefore = server?.cpuMicroseconds()
        let started = monotonicNanoseconds()
        consumer.run()
        let elapsed = Double(monotonicNanoseconds() - started) / 1e9
        let cpuAfter = server?.cpuMicroseconds()
        var result: [String: Any] = [
            "published": producer.acknowledged, "publish_seconds": publishSeconds, "delivered": consumer.received,
            "seconds": elapsed, "msgs_per_s": Double(consumer.received) / elapsed, "size": options.size,
            "complete": consumer.received == options.messages,
        ]
        if let error = consumer.error { result["consumer_error"] = error }
        if let cpuBefore, let cpuAfter, consumer.received > 0 {
            result["server_cpu_us_per_msg"] = (cpuAfter - cpuBefore) / Double(consumer.received)
        }
        return result
    }

    static func idle(_ options: Options, _ target: BenchTarget, _ server: ServerProcess?,
                     _ deadline: UInt64) throws -> [String: Any] {
        let stream = uniqueName("idle")
        // One connection first, so the stream and its per-stream state are not counted per connection.
        var sockets = [try target.connect(path: "/_ws/ws/v2/producer/\(target.topicPath(stream))")]
        usleep(500_000)
        let rssBefore = server?.residentKiB()
        sockets.reserveCapacity(options.connections + 1)
        while sockets.count <= options.connections && monotonicNanoseconds() < deadline {
            sockets.append(try target.connect(path: "/_ws/ws/v2/producer/\(target.topicPath(stream))"))
        }
        usleep(1_000_000)
        let opened = sockets.count - 1
        var result: [String: Any] = ["connections": opened, "complete": opened == options.connections]
        if let rssBefore, let rssAfter = server?.residentKiB(), opened > 0 {
            result["rss_kib_before"] = rssBefore
            result["rss_kib_after"] = rssAfter
            result["rss_kib_per_connection"] = (rssAfter - rssBefore) / Double(opened)
        }
        return result
    }

    static func streams(_ options: Options, _ target: BenchTarget, _ server: ServerProcess?,
                        _ deadline: UInt64) throws -> [String: Any] {
        let socket = try BenchSocket(host: target.host, port: target.port)
        let prefix = uniqueName("st")
        let rssBefore = server?.residentKiB()
        let descriptorsBefore = server?.openDescriptors()
        let payload = [UInt8](repeating: UInt8(ascii: "x"), count: options.size)
        var created = 0
        let started = monotonicNanoseconds()
        while created < options.streams && monotonicNanoseconds() < deadline {
            let name = "\(prefix)n\(created)"
            let base = "/_fabric/\(target.fabric)/_api/streams"
            let create = try socket.request(method: "POST", path: "\(base)/\(name)?global=false", host: target.hostHeader,
                                            token: target.token, body: [], deadline: deadline)
            guard (200..<300).contains(create.status) else {
                throw BenchError("creating stream \(name) failed with HTTP \(create.status): \(String(decoding: create.body, as: UTF8.self))")
            }
            let publish = try socket.request(method: "POST", path: "\(base)/c8locals.\(name)/publish",
                                             host: target.hostHeader, token: target.token, body: payload,
                                             deadline: deadline)
            guard (200..<300).contains(publish.status) else {
                throw BenchError("publishing to \(name) failed with HTTP \(publish.status): \(String(decoding: publish.body, as: UTF8.self))")
            }
            created += 1
        }
        let elapsed = Double(monotonicNanoseconds() - started) / 1e9
        usleep(1_000_000)
        var result: [String: Any] = ["streams": created, "seconds": elapsed, "complete": created == options.streams]
        if let rssBefore, let rssAfter = server?.residentKiB(), created > 0 {
            result["rss_kib_per_stream"] = (rssAfter - rssBefore) / Double(created)
            result["rss_bytes_per_stream"] = (rssAfter - rssBefore) * 1024 / Double(created)
        }
        if let descriptorsBefore, let descriptorsAfter = server?.openDescriptors(), created > 0 {
            result["fds_before"] = descriptorsBefore
            result["fds_after"] = descriptorsAfter
            result["fds_per_stream"] = Double(descriptorsAfter - descriptorsBefore) / Double(created)
        }
        return result
    }

    static func fill(_ options: Options, _ target: BenchTarget, _ deadline: UInt64) throws -> [String: Any] {
        let size = options.size == 100 ? 16_384 : options.size
        let count = max(1, options.bytes / size)
        let producer = try BenchProducer(target: target, stream: uniqueName("fill"), count: count, window: 256,
                                         payloadSize: size, rate: nil, deadline: deadline)
        let started = monotonicNanoseconds()
        producer.run()
        return ["published": producer.acknowledged, "size": size, "bytes": producer.acknowledged * size,
                "seconds": Double(monotonicNanoseconds() - started) / 1e9, "complete": producer.acknowledged == count]
    }
}
