import RivuletCore

/// Request headers in arrival order; lookups ignore case.
public struct HTTPHeaders: Sendable, Sequence {
    public private(set) var fields: [(name: String, value: String)]

    public init(_ fields: [(name: String, value: String)] = []) {
        self.fields = fields
    }

    public mutating func add(name: String, value: String) {
        fields.append((name, value))
    }

    /// Returns the first value of `name`, compared case-insensitively.
    public subscript(name: String) -> String? {
        let lowered = name.lowercased()
        return fields.first { $0.name.lowercased() == lowered }?.value
    }

    public func makeIterator() -> IndexingIterator<[(name: String, value: String)]> {
        fields.makeIterator()
    }
}

/// One parsed HTTP/1.1 request, body included.
public struct HTTPRequest: Sendable {
    public var method: String
    /// The request target exactly as received (`/a%2Fb?x=1`).
    public var target: String
    /// The path part of the target, not percent-decoded, so `%2F` differs from `/`.
    public var path: String
    /// The query part without `?`, not decoded; empty when absent.
    public var query: String
    public var headers: HTTPHeaders
    public var body: [UInt8]
    /// `ip:port` of the peer.
    public var remoteAddress: String
    /// Unique per server process, for logs.
    public var connectionId: UInt64
    /// True for a GET with `Upgrade: websocket` and a valid `Sec-WebSocket-Key`.
    public var isWebSocketUpgrade: Bool

    public init(
        method: String, target: String, headers: HTTPHeaders = HTTPHeaders(), body: [UInt8] = [],
        remoteAddress: String = "", connectionId: UInt64 = 0, isWebSocketUpgrade: Bool = false
    ) {
        self.method = method
        self.target = target
        if let mark = target.firstIndex(of: "?") {
            self.path = String(target[..<mark])
            self.query = String(target[target.index(after: mark)...])
        } else {
            self.path = target
            self.query = ""
        }
        self.headers = headers
        self.body = body
        self.remoteAddress = remoteAddress
        self.connectionId = connectionId
        self.isWebSocketUpgrade = isWebSocketUpgrade
    }

    /// Query parameters in order, percent-decoded, with `+` read as a space.
    public var queryItems: [(name: String, value: String)] {
        guard !query.isEmpty else { return [] }
        return query.split(separator: "&", omittingEmptySubsequences: true).map { pair in
            if let equals = pair.firstIndex(of: "=") {
                return (PercentDecoding.decode(pair[..<equals], plusAsSpace: true),
                        PercentDecoding.decode(pair[pair.index(after: equals)...], plusAsSpace: true))
            }
            return (PercentDecoding.decode(pair, plusAsSpace: true), "")
        }
    }

    /// Returns the first value of a query parameter.
    public func queryValue(_ name: String) -> String? {
        queryItems.first { $0.name == name }?.value
    }
}

/// A complete response. The transport adds `Content-Length`, `Date` and `Connection` itself.
public struct HTTPResponse: Sendable {
    public var status: Int
    public var headers: [(String, String)]
    public var body: [UInt8]

    public init(status: Int, headers: [(String, String)] = [], body: [UInt8] = []) {
        self.status = status
        self.headers = headers
        self.body = body
    }
}

/// Completes one request. Exactly one of its methods is called, once, from any thread.
public protocol HTTPResponder: Sendable {
    func respond(_ response: HTTPResponse)
    /// Accepts a WebSocket upgrade: sends `101 Switching Protocols` and hands the connection to `handler`.
    /// Only valid when the request's `isWebSocketUpgrade` is true; otherwise the transport responds with 400.
    func upgrade(to handler: any WebSocketHandler, headers: [(String, String)])
}

/// The application behind the transport: REST routes and WebSocket endpoints.
public protocol HTTPService: Sendable {
    /// Handles one request; called on the connection's event-loop thread, so it must not block.
    func handle(_ request: HTTPRequest, responder: any HTTPResponder)
}

/// A server-side WebSocket connection. Every method is thread-safe.
public protocol WebSocketConnection: AnyObject, Sendable {
    var id: UInt64 { get }
    var remoteAddress: String { get }
    /// Queues one text frame; frames queued during one loop pass go out in one write.
    func sendText(_ utf8: [UInt8])
    /// Queues several text frames in order, with one hop to the connection's thread for all of them.
    func sendTexts(_ frames: [[UInt8]])
    /// Starts the close handshake with `code` and `reason` (at most 123 bytes of UTF-8).
    func close(code: UInt16, reason: String)
    /// Bytes queued for this connection and not yet written to the socket.
    var bufferedBytes: Int { get }
}

extension WebSocketConnection {
    /// Sends the frames one by one; connections that can queue a batch at once override this.
    public func sendTexts(_ frames: [[UInt8]]) {
        for frame in frames { sendText(frame) }
    }
}

/// Receives the events of one WebSocket connection, on that connection's event-loop thread, one at a time.
public protocol WebSocketHandler: AnyObject, Sendable {
    func webSocketDidOpen(_ connection: any WebSocketConnection)
    /// Receives a complete text message (fragments joined, UTF-8 validated).
    func webSocket(_ connection: any WebSocketConnection, didReceiveText text: [UInt8])
    func webSocket(_ connection: any WebSocketConnection, didReceiveBinary data: [UInt8])
    /// Called after the messages decoded from one read of the socket were handed over, so a handler can apply
    /// work it collected from them as one batch.
    func webSocketDidFinishReading(_ connection: any WebSocketConnection)
    /// Reports that the connection is gone. `code` is the peer's close code, or nil when the socket dropped.
    func webSocketDidClose(_ connection: any WebSocketConnection, code: UInt16?)
    /// Reports a change of writability: false once the bytes queued for the connection (those still on their
    /// way from other threads included) exceed `outboundHighWaterBytes`, true once they drained to half of it.
    /// A connection starts writable and reports only changes. The transport still queues what it is sent
    /// while not writable, so a sender that pauses on false is what bounds the memory a slow reader pins.
    func webSocketDidChangeWritability(_ connection: any WebSocketConnection, writable: Bool)
}

extension WebSocketHandler {
    /// Handlers that act on each message at once need not implement it.
    public func webSocketDidFinishReading(_ connection: any WebSocketConnection) {}

    /// Handlers that send little, or only in reply to the client, need not implement it.
    public func webSocketDidChangeWritability(_ connection: any WebSocketConnection, writable: Bool) {}
}

/// Percent-decoding for paths and queries; invalid escapes stay as they are.
public enum PercentDecoding {
    public static func decode<S: StringProtocol>(_ text: S, plusAsSpace: Bool) -> String {
        let utf8 = Array(text.utf8)
        var output = [UInt8]()
        output.reserveCapacity(utf8.count)
        var index = 0
        while index < utf8.count {
            let byte = utf8[index]
            if byte == UInt8(ascii: "%"), index + 2 < utf8.count,
                let high = hexValue(utf8[index + 1]), let low = hexValue(utf8[index + 2]) {
                output.append(high << 4 | low)
                index += 3
                continue
            }
            output.append(plusAsSpace && byte == UInt8(ascii: "+") ? UInt8(ascii: " ") : byte)
            index += 1
        }
        return String(decoding: output, as: UTF8.self)
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}
