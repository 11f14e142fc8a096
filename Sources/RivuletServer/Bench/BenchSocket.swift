#if canImport(Glibc)
import Glibc
#endif
import RivuletCore

/// A failure of the load generator: what failed and on which connection or request.
struct BenchError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// Monotonic clock in nanoseconds, shared by every thread of the process so that a consumer can subtract a
/// producer's scheduled send time.
func monotonicNanoseconds() -> UInt64 {
    var time = timespec()
    clock_gettime(CLOCK_MONOTONIC, &time)
    return UInt64(time.tv_sec) * 1_000_000_000 + UInt64(time.tv_nsec)
}

/// Sleeps until the monotonic clock reaches `deadline` (nanoseconds).
func sleepUntil(_ deadline: UInt64) {
    let now = monotonicNanoseconds()
    guard deadline > now else { return }
    var request = timespec(tv_sec: Int((deadline - now) / 1_000_000_000), tv_nsec: Int((deadline - now) % 1_000_000_000))
    var remaining = timespec()
    while nanosleep(&request, &remaining) != 0 && errno == EINTR { request = remaining }
}

/// A blocking IPv4 TCP client socket with a receive buffer, used by one thread for reading at a time.
///
/// Reads time out after 200 ms so that every loop above it can check its deadline.
final class BenchSocket: @unchecked Sendable {
    let descriptor: Int32
    /// Received bytes not yet consumed: `buffer[start..<buffer.count]`. Only the reading thread touches it.
    var buffer: [UInt8] = []
    var start = 0

    init(host: String, port: Int) throws {
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard descriptor >= 0 else { throw BenchError("socket() failed: \(String(cString: strerror(errno)))") }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        guard inet_pton(AF_INET, host, &address.sin_addr) == 1 else {
            close(descriptor)
            throw BenchError("host '\(host)' is not an IPv4 address")
        }
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard connected == 0 else {
            let code = errno
            close(descriptor)
            throw BenchError("connect to \(host):\(port) failed: \(String(cString: strerror(code)))")
        }
        var one: Int32 = 1
        setsockopt(descriptor, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
        var timeout = timeval(tv_sec: 0, tv_usec: 200_000)
        setsockopt(descriptor, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        self.descriptor = descriptor
    }

    deinit { close(descriptor) }

    /// Writes all of `bytes`; throws when the peer closed the connection.
    func writeAll(_ bytes: [UInt8]) throws {
        try bytes.withUnsafeBytes { raw in
            var offset = 0
            while offset < raw.count {
                let written = send(descriptor, raw.baseAddress! + offset, raw.count - offset, Int32(MSG_NOSIGNAL))
                if written < 0 && errno == EINTR { continue }
                guard written > 0 else { throw BenchError("send failed: \(String(cString: strerror(errno)))") }
                offset += written
            }
        }
    }

    /// Reads more bytes into the buffer. Returns false on a read timeout; throws when the peer closed.
    func fill() throws -> Bool {
        if start > 0 && start >= buffer.count / 2 {
            buffer.removeSubrange(0..<start)
            start = 0
        }
        let oldCount = buffer.count
        buffer.append(contentsOf: repeatElement(0, count: 65_536))
        let received = buffer.withUnsafeMutableBytes { raw in
            recv(descriptor, raw.baseAddress! + oldCount, 65_536, 0)
        }
        buffer.removeLast(65_536 - max(received, 0))
        if received > 0 { return true }
        if received < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) { return false }
        throw BenchError(received == 0 ? "server closed the connection" : "recv failed: \(String(cString: strerror(errno)))")
    }

    /// Reads until the buffer holds a full HTTP head and its body; returns the status and body.
    func readHTTPResponse(deadline: UInt64) throws -> (status: Int, body: [UInt8]) {
        while true {
            if let headEnd = findHeadEnd() {
                let head = String(decoding: buffer[start..<headEnd], as: UTF8.self)
                let lines = head.split(separator: "\r\n")
                let statusParts = lines.first?.split(separator: " ") ?? []
                guard statusParts.count >= 2, let status = Int(statusParts[1]) else {
                    throw BenchError("malformed HTTP status line: \(lines.first ?? "")")
                }
                var length = 0
                for line in lines.dropFirst() {
                    let parts = line.split(separator: ":", maxSplits: 1)
                    if parts.count == 2, parts[0].lowercased() == "content-length" {
                        length = Int(parts[1].trimmingSpaces) ?? 0
                    }
                }
                let bodyStart = headEnd + 4
                if status == 101 {
                    start = bodyStart
                    return (status, [])
                }
                if buffer.count - bodyStart >= length {
                    let body = Array(buffer[bodyStart..<(bodyStart + length)])
                    start = bodyStart + length
                    return (status, body)
                }
            }
            guard monotonicNanoseconds() < deadline else { throw BenchError("HTTP response timed out") }
            _ = try fill()
        }
    }

    private func findHeadEnd() -> Int? {
        guard buffer.count - start >= 4 else { return nil }
        for index in start...(buffer.count - 4)
        where buffer[index] == 13 && buffer[index + 1] == 10 && buffer[index + 2] == 13 && buffer[index + 3] == 10 {
            return index
        }
        return nil
    }
}

extension Substring {
    fileprivate var trimmingSpaces: Substring {
        var text = self
        while text.first == " " { text.removeFirst() }
        while text.last == " " || text.last == "\r" { text.removeLast() }
        return text
    }
}

/// A server WebSocket frame as the load generator sees it; `payload` indexes into the socket buffer.
struct BenchFrame {
    var opcode: UInt8
    var payload: Range<Int>
}

extension BenchSocket {
    /// Opens a WebSocket with the `Authorization: bearer` header on `path`.
    func upgrade(path: String, host: String, token: String, deadline: UInt64) throws {
        let request = "GET \(path) HTTP/1.1\r\nHost: \(host)\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            + "Sec-WebSocket-Key: cml2dWxldC1iZW5jaC1rZQ==\r\nSec-WebSocket-Version: 13\r\n"
            + "Authorization: bearer \(token)\r\n\r\n"
        try writeAll(Array(request.utf8))
        let response = try readHTTPResponse(deadline: deadline)
        guard response.status == 101 else {
            throw BenchError("WebSocket upgrade of \(path) failed with HTTP \(response.status): "
                + String(decoding: response.body, as: UTF8.self))
        }
    }

    /// Returns the next complete server frame in the buffer, consuming it, or nil when more bytes are needed.
    func nextFrame() throws -> BenchFrame? {
        let available = buffer.count - start
        guard available >= 2 else { return nil }
        let opcode = buffer[start] & 0x0F
        guard buffer[start + 1] & 0x80 == 0 else { throw BenchError("server frame is masked") }
        var length = Int(buffer[start + 1] & 0x7F)
        var header = 2
        if length == 126 {
            guard available >= 4 else { return nil }
            length = Int(buffer[start + 2]) << 8 | Int(buffer[start + 3])
            header = 4
        } else if length == 127 {
            guard available >= 10 else { return nil }
            length = 0
            for index in 2..<10 { length = length << 8 | Int(buffer[start + index]) }
            header = 10
        }
        guard available >= header + length else { return nil }
        let payloadStart = start + header
        start = payloadStart + length
        return BenchFrame(opcode: opcode, payload: payloadStart..<(payloadStart + length))
    }
}

/// Client-side (masked) WebSocket frame encoding.
enum BenchFrameEncoder {
    /// Any key is valid on the wire; a fixed one keeps the generator's own cost small and stable.
    static let maskKey: [UInt8] = [0x37, 0xFA, 0x21, 0x3D]

    static func appendText(_ payload: [UInt8], to output: inout [UInt8]) {
        output.append(0x81)
        if payload.count < 126 {
            output.append(0x80 | UInt8(payload.count))
        } else if payload.count <= 0xFFFF {
            output.append(0x80 | 126)
            output.append(UInt8(payload.count >> 8))
            output.append(UInt8(payload.count & 0xFF))
        } else {
            output.append(0x80 | 127)
            for shift in stride(from: 56, through: 0, by: -8) { output.append(UInt8((payload.count >> shift) & 0xFF)) }
        }
        output.append(contentsOf: maskKey)
        let start = output.count
        output.append(contentsOf: payload)
        output.withUnsafeMutableBufferPointer { buffer in
            for index in 0..<payload.count { buffer[start + index] ^= maskKey[index & 3] }
        }
    }
}

/// Finds `"key":"` in `bytes[range]` and returns the range of the string value after it (no escapes expected).
func jsonStringValue(_ key: [UInt8], in bytes: [UInt8], _ range: Range<Int>) -> Range<Int>? {
    guard range.count > key.count else { return nil }
    var index = range.lowerBound
    let last = range.upperBound - key.count
    while index <= last {
        if bytes[index] == key[0] {
            var matched = true
            for offset in 1..<key.count where bytes[index + offset] != key[offset] {
                matched = false
                break
            }
            if matched {
                let valueStart = index + key.count
                var valueEnd = valueStart
                while valueEnd < range.upperBound && bytes[valueEnd] != UInt8(ascii: "\"") { valueEnd += 1 }
                return valueStart..<valueEnd
            }
        }
        index += 1
    }
    return nil
}
