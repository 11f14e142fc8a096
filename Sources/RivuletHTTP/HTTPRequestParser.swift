/// Why a request could not be parsed. Each case maps to the status the transport sends before closing.
enum HTTPParseError: Error, Equatable {
    case badRequest(String)
    case headTooLarge
    case bodyTooLarge
    case versionNotSupported
    case notImplemented(String)

    var status: Int {
        switch self {
        case .badRequest: 400
        case .headTooLarge: 431
        case .bodyTooLarge: 413
        case .versionNotSupported: 505
        case .notImplemented: 501
        }
    }

    var reason: String {
        switch self {
        case .badRequest(let detail): detail
        case .headTooLarge: "request head too large"
        case .bodyTooLarge: "request body too large"
        case .versionNotSupported: "HTTP version not supported"
        case .notImplemented(let detail): detail
        }
    }
}

/// The kind of WebSocket opening handshake a request makes, if any.
enum WebSocketHandshake: Equatable {
    /// Not an upgrade request.
    case none
    /// A valid RFC 6455 opening handshake with this `Sec-WebSocket-Key`.
    case valid(key: String)
    /// `Upgrade: websocket` with a version other than 13, which gets 426.
    case unsupportedVersion
    /// `Upgrade: websocket` with a missing or malformed part, which gets 400.
    case invalid(String)
}

/// The request line and headers of one request.
struct HTTPRequestHead {
    var method: String
    var target: String
    /// 0 for HTTP/1.0, 1 for HTTP/1.1.
    var minorVersion: Int
    var headers: HTTPHeaders
    var keepAlive: Bool
    var expectsContinue: Bool
    var webSocket: WebSocketHandshake
}

/// One complete request as the parser returns it.
struct ParsedRequest {
    var head: HTTPRequestHead
    var body: [UInt8]
}

/// An incremental HTTP/1.1 request parser: feed it bytes in any split, it returns whole requests in order.
///
/// Bytes stay in the caller's input queue until a request (or a body chunk) is complete, so feeding one byte
/// at a time and feeding many pipelined requests at once give the same results.
struct HTTPRequestParser {
    private enum State {
        /// Looking for the end of the head; `scanned` bytes were already searched, `lineStart` is the current line.
        case head(scanned: Int, lineStart: Int)
        case fixedBody(remaining: Int)
        case chunkSize
        case chunkData(remaining: Int)
        case chunkDataEnd
        case trailers(scanned: Int, lineStart: Int)
    }

    let maxHeadBytes: Int
    let maxBodyBytes: Int
    private var state = State.head(scanned: 0, lineStart: 0)
    private var head: HTTPRequestHead?
    private var body: [UInt8] = []
    /// Set when a head with `Expect: 100-continue` was parsed and its body has not arrived; the caller clears it
    /// after sending `100 Continue`.
    var pendingContinue = false

    static let maxChunkSizeLineBytes = 1024

    init(maxHeadBytes: Int, maxBodyBytes: Int) {
        self.maxHeadBytes = maxHeadBytes
        self.maxBodyBytes = maxBodyBytes
    }

    /// True while part of a request has been consumed or is waiting in the input.
    var isIdle: Bool {
        if case .head(let scanned, _) = state { return scanned == 0 && head == nil }
        return false
    }

    /// True once the head of the current request is complete and its body is being read.
    var isReadingBody: Bool { head != nil }

    /// Consumes bytes from `input` and returns the next complete request, or nil when more bytes are needed.
    mutating func parse(_ input: inout ByteQueue) throws(HTTPParseError) -> ParsedRequest? {
        while true {
            switch state {
            case .head(let scanned, let lineStart):
                if scanned == 0 {
                    guard Self.skipLeadingEmptyLines(&input) else { return nil }
                }
                guard let headLength = try findHeadEnd(
                    input, scanned: scanned, lineStart: lineStart, trailers: false
                ) else {
                    return nil
                }
                let parsed = try Self.parseHead(input.bytes(0..<headLength))
                input.consume(headLength)
                try startBody(for: parsed)
            case .fixedBody(let remaining):
                let available = min(remaining, input.count)
                body.append(contentsOf: input.bytes(0..<available))
                input.consume(available)
                if available < remaining {
                    state = .fixedBody(remaining: remaining - available)
                    return nil
                }
                return finishRequest()
            case .chunkSize:
                guard let size = try parseChunkSize(&input) else { return nil }
                if size == 0 {
                    state = .trailers(scanned: 0, lineStart: 0)
                } else {
                    guard size <= maxBodyBytes - body.count else { throw .bodyTooLarge }
                    state = .chunkData(remaining: size)
                }
            case .chunkData(let remaining):
                let available = min(remaining, input.count)
                body.append(contentsOf: input.bytes(0..<available))
                input.consume(available)
                guard available == remaining else {
                    state = .chunkData(remaining: remaining - available)
                    return nil
                }
                state = .chunkDataEnd
            case .chunkDataEnd:
                guard input.count >= 2 else {
                    if input.count == 1 && input[0] != 0x0D && input[0] != 0x0A {
                        throw .badRequest("chunk data not followed by CRLF")
                    }
                    return nil
                }
                if input[0] == 0x0D && input[1] == 0x0A {
                    input.consume(2)
                } else if input[0] == 0x0A {
                    input.consume(1)
                } else {
                    throw .badRequest("chunk data not followed by CRLF")
                }
                state = .chunkSize
            case .trailers(let scanned, let lineStart):
                // Trailer fields are read and dropped, so the service gets only the body.
                guard let length = try findHeadEnd(
                    input, scanned: scanned, lineStart: lineStart, trailers: true
                ) else {
                    return nil
                }
                input.consume(length)
                return finishRequest()
            }
        }
    }

    private mutating func startBody(for parsed: HTTPRequestHead) throws(HTTPParseError) {
        let headers = parsed.headers
        let codings = headers.filter { $0.name.lowercased() == "transfer-encoding" }.map(\.value)
        let transferEncoding = codings.isEmpty ? nil : codings.joined(separator: ",")
        let contentLength = try Self.contentLength(headers)
        head = parsed
        body = []
        if let transferEncoding {
            guard contentLength == nil else {
                throw .badRequest("Content-Length and Transfer-Encoding together")
            }
            guard parsed.minorVersion == 1 else { throw .badRequest("Transfer-Encoding in an HTTP/1.0 request") }
            guard transferEncoding.trimmed().lowercased() == "chunked" else {
                throw .notImplemented("unsupported Transfer-Encoding")
            }
            state = .chunkSize
            pendingContinue = parsed.expectsContinue
        } else if let contentLength, contentLength > 0 {
            guard contentLength <= maxBodyBytes else { throw .bodyTooLarge }
            body.reserveCapacity(contentLength)
            state = .fixedBody(remaining: contentLength)
            pendingContinue = parsed.expectsContinue
        } else {
            state = .fixedBody(remaining: 0)
        }
    }

    private mutating func finishRequest() -> ParsedRequest {
        let request = ParsedRequest(head: head!, body: body)
        head = nil
        body = []
        pendingContinue = false
        state = .head(scanned: 0, lineStart: 0)
        return request
    }

    /// Finds the blank line that ends a head (or a trailer section) and returns the length up to and including it.
    /// Saves its progress in `state` so a head that arrives in pieces is scanned once.
    private mutating func findHeadEnd(
        _ input: ByteQueue, scanned: Int, lineStart: Int, trailers: Bool
    ) throws(HTTPParseError) -> Int? {
        var index = scanned
        var start = lineStart
        while let newline = input.firstIndex(of: 0x0A, from: index) {
            if newline + 1 > maxHeadBytes { throw .headTooLarge }
            let lineLength = newline - start
            if lineLength == 0 || (lineLength == 1 && input[start] == 0x0D) {
                return newline + 1
            }
            start = newline + 1
            index = start
        }
        if input.count > maxHeadBytes { throw .headTooLarge }
        state = trailers
            ? .trailers(scanned: input.count, lineStart: start)
            : .head(scanned: input.count, lineStart: start)
        return nil
    }

    /// Drops empty lines before a request line, which HTTP/1.1 recommends for robustness. Returns false while a lone CR
    /// at the front leaves it open whether a line ends there.
    private static func skipLeadingEmptyLines(_ input: inout ByteQueue) -> Bool {
        while !input.isEmpty {
            if input[0] == 0x0A {
                input.consume(1)
            } else if input[0] == 0x0D {
                guard input.count >= 2 else { return false }
                guard input[1] == 0x0A else { return true }
                input.consume(2)
            } else {
                return true
            }
        }
        return false
    }

    /// Reads one chunk-size line (`hex[;extension]CRLF`) and returns the size, or nil when the line is incomplete.
    private mutating func parseChunkSize(_ input: inout ByteQueue) throws(HTTPParseError) -> Int? {
        guard let newline = input.firstIndex(of: 0x0A) else {
            if input.count > Self.maxChunkSizeLineBytes { throw .badRequest("chunk size line too long") }
            return nil
        }
        guard newline <= Self.maxChunkSizeLineBytes else { throw .badRequest("chunk size line too long") }
        var size = 0
        var digits = 0
        var index = 0
        while index < newline, let value = Self.hexValue(input[index]) {
            guard size <= (Int.max - 15) / 16 else { throw .bodyTooLarge }
            size = size * 16 + Int(value)
            digits += 1
            index += 1
        }
        guard digits > 0 else { throw .badRequest("invalid chunk size") }
        var end = newline
        if end > index && input[end - 1] == 0x0D { end -= 1 }
        while index < end && (input[index] == 0x20 || input[index] == 0x09) { index += 1 }
        guard index == end || input[index] == UInt8(ascii: ";") else { throw .badRequest("invalid chunk size") }
        input.consume(newline + 1)
        return size
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case 0x30...0x39: byte - 0x30
        case 0x41...0x46: byte - 0x41 + 10
        case 0x61...0x66: byte - 0x61 + 10
        default: nil
        }
    }
}
