import COpenSSL
import Foundation
import Glibc
@testable import RivuletHTTP

/// A blocking loopback client for integration tests. Every read and write times out after a few seconds, so a
/// broken server fails the test instead of hanging it.
final class TestClient {
    struct Response {
        var status: Int
        var headers: [(String, String)]
        var body: [UInt8]

        func header(_ name: String) -> String? {
            headers.first { $0.0.lowercased() == name.lowercased() }?.1
        }

        var text: String { String(decoding: body, as: UTF8.self) }
    }

    struct ClientError: Error, CustomStringConvertible {
        var description: String
    }

    let fd: Int32
    private var tls: OpaquePointer?
    private var tlsContext: OpaquePointer?
    private var buffer: [UInt8] = []

    init(port: Int, timeoutSeconds: Int = 5, ipv6: Bool = false) throws {
        fd = socket(ipv6 ? AF_INET6 : AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw ClientError(description: "socket failed") }
        var timeout = timeval(tv_sec: timeoutSeconds, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        let result: Int32
        if ipv6 {
            var address = sockaddr_in6()
            address.sin6_family = sa_family_t(AF_INET6)
            address.sin6_port = UInt16(port).bigEndian
            address.sin6_addr = in6addr_loopback
            result = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in6>.size)) }
            }
        } else {
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_port = UInt16(port).bigEndian
            address.sin_addr.s_addr = inet_addr("127.0.0.1")
            result = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
        }
        guard result == 0 else {
            close(fd)
            throw ClientError(description: "connect failed: \(String(cString: strerror(errno)))")
        }
    }

    deinit {
        if let tls { SSL_free(tls) }
        if let tlsContext { SSL_CTX_free(tlsContext) }
        close(fd)
    }

    /// Runs a TLS handshake without verifying the server certificate (the tests use a throwaway one).
    func startTLS() throws {
        tlsContext = SSL_CTX_new(TLS_client_method())
        tls = SSL_new(tlsContext)
        SSL_set_fd(tls, fd)
        guard SSL_connect(tls) == 1 else { throw ClientError(description: "TLS handshake failed: \(TLSContext.drainErrors())") }
    }

    var tlsVersion: String? {
        tls.map { String(cString: SSL_get_version($0)) }
    }

    func send(_ text: String) throws { try send(Array(text.utf8)) }

    func send(_ bytes: [UInt8]) throws {
        var offset = 0
        while offset < bytes.count {
            let written = bytes[offset...].withUnsafeBytes { raw in
                if let tls { return Int(SSL_write(tls, raw.baseAddress, Int32(raw.count))) }
                return Glibc.send(fd, raw.baseAddress, raw.count, Int32(MSG_NOSIGNAL))
            }
            guard written > 0 else { throw ClientError(description: "write failed") }
            offset += written
        }
    }

    /// Reads more bytes into the buffer; returns false at end of stream.
    private func fill() throws -> Bool {
        var chunk = [UInt8](repeating: 0, count: 65536)
        let count = chunk.withUnsafeMutableBytes { raw in
            if let tls { return Int(SSL_read(tls, raw.baseAddress, Int32(raw.count))) }
            return read(fd, raw.baseAddress, raw.count)
        }
        if count > 0 {
            buffer.append(contentsOf: chunk[0..<count])
            return true
        }
        if count == 0 || tls != nil { return false }
        if errno == ECONNRESET { return false }
        throw ClientError(description: "read failed or timed out: \(String(cString: strerror(errno)))")
    }

    func readExactly(_ count: Int) throws -> [UInt8] {
        while buffer.count < count {
            guard try fill() else { throw ClientError(description: "connection closed after \(buffer.count) of \(count) bytes") }
        }
        let bytes = Array(buffer[0..<count])
        buffer.removeFirst(count)
        return bytes
    }

    /// Reads one response head and its Content-Length body (no body after HEAD when `isHead`).
    func readResponse(isHead: Bool = false) throws -> Response {
        let terminator: [UInt8] = [0x0D, 0x0A, 0x0D, 0x0A]
        var end: Int?
        while end == nil {
            if let found = firstIndex(of: terminator) {
                end = found
                break
            }
            guard try fill() else { throw ClientError(description: "connection closed before a response head") }
        }
        let headText = String(decoding: buffer[0..<end!], as: UTF8.self)
        buffer.removeFirst(end! + 4)
        var lines = headText.components(separatedBy: "\r\n")
        let statusLine = lines.removeFirst().split(separator: " ")
        guard statusLine.count >= 2, let status = Int(statusLine[1]) else {
            throw ClientError(description: "bad status line in \(headText)")
        }
        let headers = lines.map { line -> (String, String) in
            let parts = line.split(separator: ":", maxSplits: 1)
            return (String(parts[0]), parts.count > 1 ? parts[1].trimmingCharacters(in: .whitespaces) : "")
        }
        var response = Response(status: status, headers: headers, body: [])
        if !isHead, let length = response.header("Content-Length").flatMap({ Int($0) }) {
            response.body = try readExactly(length)
        }
        return response
    }

    /// True when the server closed the connection (EOF or reset) with nothing more to read.
    func readsEndOfStream() throws -> Bool {
        guard buffer.isEmpty else { return false }
        return try !fill()
    }

    private func firstIndex(of pattern: [UInt8]) -> Int? {
        guard buffer.count >= pattern.count else { return nil }
        for start in 0...(buffer.count - pattern.count) where buffer[start..<(start + pattern.count)].elementsEqual(pattern) {
            return start
        }
        return nil
    }

    // MARK: WebSocket

    /// Sends the opening handshake and returns the server's response.
    func upgrade(path: String, key: String = "dGhlIHNhbXBsZSBub25jZQ==", version: String = "13") throws -> Response {
        try send("GET \(path) HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                 + "Sec-WebSocket-Key: \(key)\r\nSec-WebSocket-Version: \(version)\r\n\r\n")
        return try readResponse()
    }

    func sendFrame(_ opcode: WebSocketOpcode, _ payload: [UInt8], fin: Bool = true, masked: Bool = true) throws {
        var output = ByteQueue()
        WebSocketFrameEncoder.append(
            opcode: opcode, payload: payload, fin: fin, maskKey: masked ? [1, 2, 3, 4] : nil, to: &output)
        try send(Array(output.bytes(0..<output.count)))
    }

    private var decoder = WebSocketFrameDecoder(maxMessageBytes: 1 << 24, requireMasked: false)

    /// Reads the next server frame, or nil at end of stream.
    func readFrame() throws -> WebSocketEvent? {
        while true {
            var queue = ByteQueue()
            queue.append(contentsOf: buffer)
            if let event = try decoder.next(&queue) {
                buffer = Array(queue.bytes(0..<queue.count))
                return event
            }
            buffer = Array(queue.bytes(0..<queue.count))
            guard try fill() else { return nil }
        }
    }
}

/// Polls `condition` every 10 ms for up to `seconds`; for state that another thread sets.
func eventually(seconds: Double = 5, _ condition: () -> Bool) -> Bool {
    let deadline = Date().addingTimeInterval(seconds)
    while Date() < deadline {
        if condition() { return true }
        usleep(10_000)
    }
    return condition()
}
