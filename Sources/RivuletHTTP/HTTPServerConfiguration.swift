import Foundation

/// Certificate and key for a TLS listener, both PEM files. The certificate file may hold the full chain.
public struct TLSConfiguration: Sendable {
    public var certificatePath: String
    public var privateKeyPath: String

    public init(certificatePath: String, privateKeyPath: String) {
        self.certificatePath = certificatePath
        self.privateKeyPath = privateKeyPath
    }
}

/// Settings of one `HTTPServer`. Every limit has a default; times are `Duration`s.
public struct HTTPServerConfiguration: Sendable {
    /// Address to bind: an IPv4 or IPv6 literal or a name that `getaddrinfo` resolves, such as "localhost".
    public var host: String
    /// TCP port. With 0 the kernel picks a free one, which `HTTPServer.boundPort` returns after `start()`.
    public var port: Int
    /// Number of event-loop threads, each with its own listening socket.
    public var loopCount: Int
    /// When set, the port speaks only HTTPS and WSS (TLS 1.2 or later).
    public var tls: TLSConfiguration?
    /// Largest request line plus headers; a larger head gets 431.
    public var maxRequestHeadBytes: Int
    /// Largest request body; a larger body gets 413.
    public var maxRequestBodyBytes: Int
    /// Time a client has to send a complete request head (and to finish the TLS handshake).
    public var headerReadTimeout: Duration
    /// Time an idle keep-alive connection stays open between requests.
    public var keepAliveIdleTimeout: Duration
    /// Largest payload of one WebSocket data frame; a larger one closes the connection with 1009.
    public var maxWebSocketFrameBytes: Int
    /// Largest WebSocket message after joining fragments; a larger one closes the connection with 1009.
    public var maxWebSocketMessageBytes: Int
    /// Interval between server pings on each WebSocket; nil sends none.
    public var webSocketPingInterval: Duration?
    /// A WebSocket that receives no frame for this long is closed with 1001.
    public var webSocketIdleTimeout: Duration
    /// Time the peer has to send its close frame after ours, or its EOF after our last response.
    public var closeHandshakeTimeout: Duration
    /// Open connections across all loops; connections above it are accepted and closed at once.
    public var maxConnections: Int
    /// Open connections from one remote IP address; connections above it are accepted and closed at once.
    public var maxConnectionsPerAddress: Int
    /// Bytes queued for one socket above which the connection stops reading until the queue drains below half.
    /// A WebSocket's handler also hears of both changes (`webSocketDidChangeWritability`).
    public var outboundHighWaterBytes: Int

    public init(
        host: String = "127.0.0.1",
        port: Int = 8000,
        loopCount: Int = HTTPServerConfiguration.usableProcessorCount(),
        tls: TLSConfiguration? = nil,
        maxRequestHeadBytes: Int = 64 * 1024,
        maxRequestBodyBytes: Int = 8 * 1024 * 1024,
        headerReadTimeout: Duration = .seconds(30),
        keepAliveIdleTimeout: Duration = .seconds(120),
        maxWebSocketFrameBytes: Int = 8 * 1024 * 1024,
        maxWebSocketMessageBytes: Int = 8 * 1024 * 1024,
        webSocketPingInterval: Duration? = .seconds(30),
        webSocketIdleTimeout: Duration = .seconds(300),
        closeHandshakeTimeout: Duration = .seconds(5),
        maxConnections: Int = 50_000,
        maxConnectionsPerAddress: Int = 1_000,
        outboundHighWaterBytes: Int = 16 * 1024 * 1024
    ) {
        self.host = host
        self.port = port
        self.loopCount = max(1, loopCount)
        self.tls = tls
        self.maxRequestHeadBytes = maxRequestHeadBytes
        self.maxRequestBodyBytes = maxRequestBodyBytes
        self.headerReadTimeout = headerReadTimeout
        self.keepAliveIdleTimeout = keepAliveIdleTimeout
        self.maxWebSocketFrameBytes = maxWebSocketFrameBytes
        self.maxWebSocketMessageBytes = maxWebSocketMessageBytes
        self.webSocketPingInterval = webSocketPingInterval
        self.webSocketIdleTimeout = webSocketIdleTimeout
        self.closeHandshakeTimeout = closeHandshakeTimeout
        self.maxConnections = maxConnections
        self.maxConnectionsPerAddress = maxConnectionsPerAddress
        self.outboundHighWaterBytes = outboundHighWaterBytes
    }
}

/// A failure to configure or start the server, with a message that names the file, address or value involved.
public struct HTTPServerError: Error, Sendable, CustomStringConvertible {
    public var message: String

    public init(_ message: String) {
        self.message = message
    }

    public var description: String { message }
}

extension Duration {
    /// The duration in whole nanoseconds, saturating at `UInt64.max`; negative durations count as zero.
    var nanoseconds: UInt64 {
        let (seconds, attoseconds) = components
        guard seconds >= 0 else { return 0 }
        let (whole, overflow) = UInt64(seconds).multipliedReportingOverflow(by: 1_000_000_000)
        guard !overflow else { return .max }
        return whole.addingSaturated(UInt64(attoseconds / 1_000_000_000))
    }
}

extension UInt64 {
    /// The sum, or `UInt64.max` when it overflows, so a huge timeout means "never" instead of wrapping to now.
    func addingSaturated(_ other: UInt64) -> UInt64 {
        let (sum, overflow) = addingReportingOverflow(other)
        return overflow ? .max : sum
    }
}

extension HTTPServerConfiguration {
    /// The CPUs this process may run on: its affinity mask (as `taskset` or a container sets it), or the
    /// active processor count when /proc is unavailable.
    ///
    /// Foundation's `activeProcessorCount` ignores the affinity mask, so a server pinned to one CPU ran one
    /// event loop per online CPU, and the loops preempted each other on that CPU.
    public static func usableProcessorCount() -> Int {
        guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else {
            return ProcessInfo.processInfo.activeProcessorCount
        }
        for line in status.split(separator: "\n") where line.hasPrefix("Cpus_allowed:") {
            let mask = line.dropFirst("Cpus_allowed:".count)
            let count = mask.reduce(0) { total, character in total + (character.hexDigitValue?.nonzeroBitCount ?? 0) }
            return count > 0 ? min(count, ProcessInfo.processInfo.activeProcessorCount) : ProcessInfo.processInfo.activeProcessorCount
        }
        return ProcessInfo.processInfo.activeProcessorCount
    }
}
