import Synchronization

/// Counts failed logins per source host and blocks a host that fails too often within a window.
final class LoginThrottle: Sendable {
    private struct Window {
        var failures: Int
        /// Epoch seconds of the first failure in this window.
        var start: Double
    }

    private let maxFailures: Int
    private let window: Double
    private let capacity: Int
    /// Guards the failure windows, keyed by host (the address without its port).
    private let windows = Mutex<[String: Window]>([:])

    init(maxFailures: Int, window: Double, capacity: Int = 10_000) {
        self.maxFailures = max(maxFailures, 1)
        self.window = window
        self.capacity = max(capacity, 1)
    }

    /// True when `source` has used up its failures in the current window. An empty source is never blocked.
    func isBlocked(_ source: String, now: Double) -> Bool {
        let host = Self.host(source)
        guard !host.isEmpty else { return false }
        return windows.withLock { table in
            guard let entry = table[host], now - entry.start < window else { return false }
            return entry.failures >= maxFailures
        }
    }

    func recordFailure(_ source: String, now: Double) {
        let host = Self.host(source)
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
        let host = Self.host(source)
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
