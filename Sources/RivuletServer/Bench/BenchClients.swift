#if canImport(Glibc)
import Glibc
#endif
import Foundation
import RivuletCore

/// The server under load: its loopback address, a login token and the tenant whose streams are used.
struct BenchTarget: Sendable {
    var host: String
    var port: Int
    var token: String
    var tenant: String
    var fabric = "_system"

    /// Logs in with `POST /_open/auth` and keeps the JWT.
    static func login(host: String, port: Int, email: String, password: String, tenant: String?) throws -> BenchTarget {
        let socket = try BenchSocket(host: host, port: port)
        let body = try JSONSerialization.data(withJSONObject: ["email": email, "password": password])
        let response = try socket.request(method: "POST", path: "/_open/auth", host: "\(host):\(port)", token: nil,
                                          body: Array(body), deadline: monotonicNanoseconds() + 10_000_000_000)
        guard response.status == 200,
            let object = try JSONSerialization.jsonObject(with: Data(response.body)) as? [String: Any],
            let token = object["jwt"] as? String
        else {
            throw BenchError("login as \(email) failed with HTTP \(response.status): \(String(decoding: response.body, as: UTF8.self))")
        }
        let defaultTenant = email.replacingOccurrences(of: "@", with: "_")
        return BenchTarget(host: host, port: port, token: token, tenant: tenant ?? defaultTenant)
    }

    var hostHeader: String { "\(host):\(port)" }

    func topicPath(_ stream: String) -> String {
        "persistent/\(tenant)/c8local.\(fabric)/c8locals.\(stream)"
    }

    func connect(path: String) throws -> BenchSocket {
        let socket = try BenchSocket(host: host, port: port)
        try socket.upgrade(path: path, host: hostHeader, token: token, deadline: monotonicNanoseconds() + 10_000_000_000)
        return socket
    }
}

extension BenchSocket {
    /// Sends one HTTP/1.1 request on a kept-alive connection and reads its response.
    func request(method: String, path: String, host: String, token: String?, body: [UInt8],
                 deadline: UInt64) throws -> (status: Int, body: [UInt8]) {
        var head = "\(method) \(path) HTTP/1.1\r\nHost: \(host)\r\nContent-Length: \(body.count)\r\n"
        if let token { head += "Authorization: bearer \(token)\r\n" }
        head += "\r\n"
        try writeAll(Array(head.utf8) + body)
        return try readHTTPResponse(deadline: deadline)
    }
}

/// One WebSocket producer with a window of unacknowledged publishes, optionally paced at a fixed rate.
///
/// Each payload starts with its scheduled send time (8 bytes) and sequence number (8 bytes), so a consumer
/// measures latency from when the message should have left, and a stall in the client or server is counted.
final class BenchProducer: @unchecked Sendable {
    let socket: BenchSocket
    let count: Int
    let window: Int
    let payloadSize: Int
    /// Messages per second; nil sends as fast as the window allows.
    let rate: Double?
    let deadline: UInt64
    /// Guards `credits`, `acknowledged` and `failures`, shared by the sending and the ack-reading thread.
    private let condition = NSCondition()
    private var credits: Int
    private(set) var acknowledged = 0
    private(set) var failures = 0
    private(set) var firstFailure: String?
    private let contextPrefix: String

    init(target: BenchTarget, stream: String, count: Int, window: Int, payloadSize: Int, rate: Double?,
         deadline: UInt64) throws {
        socket = try target.connect(path: "/_ws/ws/v2/producer/\(target.topicPath(stream))")
        self.count = count
        self.window = window
        self.payloadSize = max(payloadSize, 18)
        self.rate = rate
        self.deadline = deadline
        credits = window
        contextPrefix = "\(stream)-"
    }

    /// Publishes `count` messages and waits for their acks; returns when all are acked or the deadline passed.
    func run() {
        let sender = Thread { [self] in sendLoop() }
        sender.start()
        ackLoop()
        condition.lock()
        condition.broadcast()
        condition.unlock()
        while !sender.isFinished { usleep(1_000) }
    }

    private func sendLoop() {
        let start = monotonicNanoseconds()
        let interval = rate.map { 1e9 / $0 }
        var sent = 0
        // Only the first 18 bytes (scheduled time, sequence, 2 filler bytes) change; 18 is a multiple of 3, so
        // the base64 of the rest is computed once and the generator's own cost stays small.
        var stampBytes = [UInt8](repeating: UInt8(ascii: "x"), count: 18)
        let tail = Base64.encodeToBytes([UInt8](repeating: UInt8(ascii: "x"), count: payloadSize - 18))
        var output: [UInt8] = []
        var json: [UInt8] = []
        while sent < count {
            let now = monotonicNanoseconds()
            guard now < deadline else { return }
            var due = count
            if let interval {
                due = min(count, Int(Double(now - start) / interval) + 1)
                if due <= sent {
                    sleepUntil(start + UInt64(Double(sent) * interval))
                    continue
                }
            }
            condition.lock()
            while credits == 0 && acknowledged + failures < count && monotonicNanoseconds() < deadline {
                _ = condition.wait(until: Date(timeIntervalSinceNow: 0.2))
            }
            let batch = min(credits, due - sent, 256)
            credits -= batch
            condition.unlock()
            guard batch > 0 else { continue }

            output.removeAll(keepingCapacity: true)
            for offset in 0..<batch {
                let sequence = sent + offset
                let scheduled = interval.map { start + UInt64(Double(sequence) * $0) } ?? now
                Self.stamp(&stampBytes, scheduled: scheduled, sequence: UInt64(sequence))
                json.removeAll(keepingCapacity: true)
                json.append(contentsOf: Self.payloadPrefix)
                json.append(contentsOf: Base64.encodeToBytes(stampBytes))
                json.append(contentsOf: tail)
                json.append(contentsOf: Self.contextPrefixBytes)
                json.append(contentsOf: contextPrefix.utf8)
                json.append(contentsOf: String(sequence).utf8)
                json.append(contentsOf: Self.closingBytes)
                BenchFrameEncoder.appendText(json, to: &output)
            }
            do {
                try socket.writeAll(output)
            } catch {
                recordFailure("\(error)", count: count - sent)
                return
            }
            sent += batch
        }
    }

    private static func stamp(_ payload: inout [UInt8], scheduled: UInt64, sequence: UInt64) {
        for index in 0..<8 {
            payload[index] = UInt8(truncatingIfNeeded: scheduled >> (8 * index))
            payload[8 + index] = UInt8(truncatingIfNeeded: sequence >> (8 * index))
        }
    }

    private static let payloadPrefix = Array("{\"payload\":\"".utf8)
    private static let contextPrefixBytes = Array("\",\"context\":\"".utf8)
    private static let closingBytes = Array("\"}".utf8)
    private static let okKey = Array("\"result\":\"".utf8)

    private func ackLoop() {
        while true {
            condition.lock()
            let done = acknowledged + failures >= count
            condition.unlock()
            guard !done, monotonicNanoseconds() < deadline else { return }
            do {
                guard try socket.fill() else { continue }
                var ok = 0
                var failed = 0
                var failure: String?
                while let frame = try socket.nextFrame() {
                    guard frame.opcode == 1 else { continue }
                    if let value = jsonStringValue(Self.okKey, in: socket.buffer, frame.payload),
                        socket.buffer[value].elementsEqual("ok".utf8) {
                        ok += 1
                    } else {
                        failed += 1
                        failure = failure ?? String(decoding: socket.buffer[frame.payload], as: UTF8.self)
                    }
                }
                condition.lock()
                acknowledged += ok
                failures += failed
                credits += ok + failed
                if firstFailure == nil { firstFailure = failure }
                condition.signal()
                condition.unlock()
            } catch {
                recordFailure("\(error)", count: 0)
                return
            }
        }
    }

    private func recordFailure(_ message: String, count failedCount: Int) {
        condition.lock()
        failures += failedCount
        if firstFailure == nil { firstFailure = message }
        condition.signal()
        condition.unlock()
    }
}

/// One WebSocket consumer that acknowledges every delivery and records publish-to-receive latency.
final class BenchConsumer: @unchecked Sendable {
    let socket: BenchSocket
    let expected: Int
    let deadline: UInt64
    /// Written only by the thread in `run`, read after it finished.
    private(set) var received = 0
    private(set) var latencies: [UInt64] = []
    private(set) var error: String?

    init(target: BenchTarget, stream: String, subscription: String, expected: Int, deadline: UInt64) throws {
        socket = try target.connect(
            path: "/_ws/ws/v2/consumer/\(target.topicPath(stream))/\(subscription)?receiverQueueSize=1000")
        self.expected = expected
        self.deadline = deadline
        latencies.reserveCapacity(expected)
    }

    private static let idKey = Array("\"messageId\":\"".utf8)
    private static let payloadKey = Array("\"payload\":\"".utf8)

    /// Reads until `expected` messages arrived or the deadline passed.
    func run() {
        var acks: [UInt8] = []
        while received < expected && monotonicNanoseconds() < deadline {
            do {
                guard try socket.fill() else { continue }
                let now = monotonicNanoseconds()
                acks.removeAll(keepingCapacity: true)
                while let frame = try socket.nextFrame() {
                    guard frame.opcode == 1,
                        let id = jsonStringValue(Self.idKey, in: socket.buffer, frame.payload),
                        let payload = jsonStringValue(Self.payloadKey, in: socket.buffer, frame.payload)
                    else { continue }
                    received += 1
                    // The first 12 base64 characters hold the 8-byte scheduled time; the rest is not needed.
                    let stamp = payload.lowerBound..<min(payload.upperBound, payload.lowerBound + 12)
                    if let bytes = Base64.decode(socket.buffer[stamp]), bytes.count >= 8 {
                        var scheduled: UInt64 = 0
                        for index in 0..<8 { scheduled |= UInt64(bytes[index]) << (8 * index) }
                        latencies.append(now >= scheduled ? now - scheduled : 0)
                    }
                    let ack = Array("{\"messageId\":\"".utf8) + socket.buffer[id] + Array("\"}".utf8)
                    BenchFrameEncoder.appendText(ack, to: &acks)
                }
                if !acks.isEmpty { try socket.writeAll(acks) }
            } catch {
                self.error = "\(error)"
                return
            }
        }
    }
}

/// CPU time, memory and descriptors of the server process, read from /proc.
struct ServerProcess: Sendable {
    let pid: Int32

    /// User plus system CPU time in microseconds (clock-tick resolution, usually 10 ms).
    func cpuMicroseconds() -> Double? {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
            let close = text.lastIndex(of: ")")
        else { return nil }
        // Fields after the command name start at field 3 (state); utime and stime are fields 14 and 15.
        let fields = text[text.index(after: close)...].split(separator: " ")
        guard fields.count > 13, let user = Double(fields[11]), let system = Double(fields[12]) else { return nil }
        return (user + system) * 1e6 / Double(sysconf(Int32(_SC_CLK_TCK)))
    }

    /// Resident set size in KiB.
    func residentKiB() -> Double? {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return nil }
        for line in text.split(separator: "\n") where line.hasPrefix("VmRSS:") {
            return Double(line.split(separator: " ")[1])
        }
        return nil
    }

    func openDescriptors() -> Int? {
        (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd"))?.count
    }
}
