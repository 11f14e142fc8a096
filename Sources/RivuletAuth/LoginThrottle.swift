import Synchronization

/// Counts failed logins per key and blocks a key that fails too often within a window.
///
/// `AuthService` keeps one throttle keyed by source host and one keyed by account, so neither many accounts from
/// one address nor one account from many addresses gets unlimited guesses.
final class LoginThrottle: Sendable {
    private struct Window {
        var failures: Int
        /// Epoch seconds of the first failure in this window.
        var start: Double
    }

    private let maxFailures: Int
    private let window: Double
    private let capacity: Int
    /// Guards the failure windows, keyed by host (the address without its port) or account.
    private let windows = Mutex<[String: Window]>([:])

    init(maxFailures: Int, window: Double, capacity: Int = 10_000) {
        self.maxFailures = max(maxFailures, 1)
        self.window = window
        self.capacity = max(capacity, 1)
    }

    /// True when `source` has used up its failures in the current window. An empty source is never blocked.
    func isBlocked(_ source: String, now: Double) -> Bool {
        retryAfter(source, now: now) != nil
    }

    /// Seconds until `source` may try again, or nil when it is not blocked. An empty source is never blocked.
    func retryAfter(_ source: String, now: Double) -> Double? {
        retryAfter(key: Self.host(source), now: now)
    }

    /// Seconds until `key` may try again, or nil when it is not blocked. An empty key is never blocked.
    func retryAfter(key: String, now: Double) -> Double? {
        guard !key.isEmpty else { return nil }
        return windows.withLock { table in
            guard let entry = table[key], now - entry.start < window, entry.failures >= maxFailures else { return nil }
            return window - (now - entry.start)
        }
    }

    func recordFailure(_ source: String, now: Double) {
        recordFailure(key: Self.host(source), now: now)
    }

    func recordFailure(key host: String, now: Double) {
        guard !host.isEmpty else { return }
        windows.withLock { table in
            if table[host] == nil, table.count >= capacity {
                table = table.filter { now - $0.value.start < window }
                // Still full of live windows: forget the oldest, which lets that host try again early.
                if table.count >= capacity, let oldest = table.min(by: { $0.value.start < $1.value.start }) {
                    table.removeValue(forKey: oldest.key)
                }
            }
            if let entry = table[host], now - entry.start < window {
                table[host]!.failures = entry.failures + 1
            } else {
                table[host] = Window(failures: 1, start: now)
            }
        }
    }

    func recordSuccess(_ source: String) {
        recordSuccess(key: Self.host(source))
    }

    func recordSuccess(key host: String) {
        guard !host.isEmpty else { return }
        _ = windows.withLock { $0.removeValue(forKey: host) }
    }

    /// Strips the port from `ip:port` and `[ipv6]:port`, so reconnecting from a new port does not reset the count.
    static func host(_ source: String) -> String {
        if source.hasPrefix("["), let close = source.firstIndex(of: "]") {
            return String(source[source.index(after: source.startIndex)..<close])
        }
        guard let colon = source.lastIndex(of: ":"), source.firstIndex(of: ":") == colon else { return source }
        return String(source[..<colon])
    }
}
