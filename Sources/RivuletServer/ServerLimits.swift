/// Bounds that protect the server from oversized input, slow clients and password guessing.
///
/// Each is a `rivulet serve` option; `ServeOptions.limitOptions` parses them and the README lists them.
public struct ServerLimits: Sendable, Equatable {
    /// Request line plus header fields; a larger head gets 431.
    public var maxHeaderBytes = 64 * 1024
    /// Request body; a larger body gets 413.
    public var maxBodyBytes = 8 * 1024 * 1024
    /// Time a client has to send a complete request head (and to finish the TLS handshake); then it is disconnected.
    public var headerReadTimeout: Duration = .seconds(30)
    /// Payload of one WebSocket frame; a larger frame closes the socket with 1009.
    public var maxWebSocketFrameBytes = 8 * 1024 * 1024
    /// WebSocket message after joining fragments; a larger one closes the socket with 1009.
    public var maxWebSocketMessageBytes = 8 * 1024 * 1024
    /// Open connections in total; more are accepted and closed at once.
    public var maxConnections = 50_000
    /// Open connections from one IP address; more are accepted and closed at once.
    public var maxConnectionsPerAddress = 1_000
    /// Streams one tenant may have in one fabric.
    public var maxStreamsPerFabric = 10_000
    /// Subscriptions one stream may have.
    public var maxSubscriptionsPerStream = 1_000
    /// Bytes of message bodies kept in memory for dispatch; older ones are read back from the log.
    public var messageCacheBytes = 256 * 1024 * 1024
    /// Bytes queued for one socket above which the server stops reading from it and stops handing its consumer
    /// or reader new messages, until the queue drains to half.
    public var outboundHighWaterBytes = 16 * 1024 * 1024
    /// Failed logins from one IP address within `failedLoginWindow` before logins from it get 429.
    public var maxFailedLoginsPerAddress = 10
    /// Failed logins for one account within `failedLoginWindow` before logins to it get 429.
    public var maxFailedLoginsPerAccount = 20
    /// Window of both login throttles, counted from the first failure in it.
    public var failedLoginWindow: Duration = .seconds(60)

    public init() {}
}

extension ServeOptions {
    static let limitOptions: [ServeOption] = [
        byteCount("max-header-bytes", "Largest request line plus headers, in bytes; a larger head gets 431.",
                  default: 64 * 1024, \.maxHeaderBytes),
        byteCount("max-body-bytes", "Largest request body, in bytes; a larger body gets 413.",
                  default: 8 * 1024 * 1024, \.maxBodyBytes),
        duration("header-read-timeout", "Time a client has to send its request head (and finish TLS); slower clients are disconnected. A whole number of seconds, or a number with ms, s or m (e.g. 500ms).",
                 default: "30s", \.headerReadTimeout),
        byteCount("max-websocket-frame-bytes", "Largest WebSocket frame payload, in bytes; a larger frame closes the socket with 1009.",
                  default: 8 * 1024 * 1024, \.maxWebSocketFrameBytes),
        byteCount("max-websocket-message-bytes", "Largest WebSocket message after joining fragments, in bytes; a larger one closes the socket with 1009.",
                  default: 8 * 1024 * 1024, \.maxWebSocketMessageBytes),
        count("max-connections", "Open connections in total; more are closed right after accept.",
              default: 50_000, \.maxConnections),
        count("max-connections-per-address", "Open connections from one IP address; more are closed right after accept.",
              default: 1_000, \.maxConnectionsPerAddress),
        count("max-streams-per-fabric", "Streams one tenant may have in one fabric; creating more gets 400.",
              default: 10_000, \.maxStreamsPerFabric),
        count("max-subscriptions-per-stream", "Subscriptions one stream may have; a consumer naming a new one beyond it gets 400.",
              default: 1_000, \.maxSubscriptionsPerStream),
        byteCount("message-cache-bytes", "Bytes of message bodies all streams keep in memory for delivery; beyond it the oldest are evicted and read back from disk when a consumer reaches them.",
                  default: 256 * 1024 * 1024, \.messageCacheBytes),
        byteCount("outbound-high-water-bytes", "Bytes queued for one socket above which the server stops reading from it and stops sending its consumer or reader new messages, until the queue drains to half.",
                  default: 16 * 1024 * 1024, \.outboundHighWaterBytes),
        count("max-failed-logins-per-address", "Failed logins from one IP address within --failed-login-window before its logins get 429.",
              default: 10, \.maxFailedLoginsPerAddress),
        count("max-failed-logins-per-account", "Failed logins for one account within --failed-login-window before its logins get 429.",
              default: 20, \.maxFailedLoginsPerAccount),
        duration("failed-login-window", "Window of the failed-login limits, from the first failure. A whole number of seconds, or a number with ms, s or m.",
                 default: "60s", \.failedLoginWindow),
    ]

    /// Makes an option that takes a whole number of bytes, at least 1.
    private static func byteCount(
        _ name: String, _ help: String, default value: Int, _ field: WritableKeyPath<ServerLimits, Int> & Sendable
    ) -> ServeOption {
        ServeOption(name: name, valueName: "BYTES", help: help, defaultText: "\(value)") { config, text in
            guard let parsed = Int(text), parsed >= 1 else {
                return "--\(name) '\(text)' is invalid: use a whole number of bytes, at least 1"
            }
            config.limits[keyPath: field] = parsed
            return nil
        }
    }

    /// Makes an option that takes a count, at least 1.
    private static func count(
        _ name: String, _ help: String, default value: Int, _ field: WritableKeyPath<ServerLimits, Int> & Sendable
    ) -> ServeOption {
        ServeOption(name: name, valueName: "COUNT", help: help, defaultText: "\(value)") { config, text in
            guard let parsed = Int(text), parsed >= 1 else {
                return "--\(name) '\(text)' is invalid: use a whole number, at least 1"
            }
            config.limits[keyPath: field] = parsed
            return nil
        }
    }

    /// Makes an option that takes a positive duration.
    private static func duration(
        _ name: String, _ help: String, default text: String, _ field: WritableKeyPath<ServerLimits, Duration> & Sendable
    ) -> ServeOption {
        ServeOption(name: name, valueName: "DURATION", help: help, defaultText: text) { config, value in
            guard let parsed = parseDuration(value), parsed > .zero else {
                return "--\(name) '\(value)' is invalid: use a positive number of seconds or a number with ms, s or m (e.g. 500ms)"
            }
            config.limits[keyPath: field] = parsed
            return nil
        }
    }

    /// Parses `500ms`, `30s`, `2m` or a bare number of seconds.
    static func parseDuration(_ text: String) -> Duration? {
        let units: [(suffix: String, milliseconds: Int64)] = [("ms", 1), ("s", 1000), ("m", 60_000)]
        for unit in units where text.hasSuffix(unit.suffix) {
            guard let value = Int64(text.dropLast(unit.suffix.count)), value <= Int64.max / unit.milliseconds else {
                return nil
            }
            return .milliseconds(value * unit.milliseconds)
        }
        guard let seconds = Int64(text), seconds <= Int64.max / 1000 else { return nil }
        return .seconds(seconds)
    }
}
