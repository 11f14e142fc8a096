import Foundation
import Synchronization

/// Severity of a log line, lowest first.
public enum LogLevel: Int, Comparable, Sendable, CaseIterable {
    case trace = 0, debug, info, warning, error

    public var name: String {
        switch self {
        case .trace: "trace"
        case .debug: "debug"
        case .info: "info"
        case .warning: "warning"
        case .error: "error"
        }
    }

    public init?(name: String) {
        guard let level = LogLevel.allCases.first(where: { $0.name == name.lowercased() }) else { return nil }
        self = level
    }

    public static func < (lhs: LogLevel, rhs: LogLevel) -> Bool { lhs.rawValue < rhs.rawValue }
}

/// Receives finished log lines. The default sink writes to standard error; tests capture lines in memory.
public protocol LogSink: Sendable {
    func write(line: String)
}

/// Writes each line to standard error with one `write(2)` call, so lines from threads never interleave.
public struct StandardErrorSink: LogSink {
    public init() {}

    public func write(line: String) {
        var bytes = Array(line.utf8)
        bytes.append(0x0A)
        bytes.withUnsafeBytes { buffer in
            _ = Foundation.write(2, buffer.baseAddress, buffer.count)
        }
    }
}

/// Keeps lines in memory; for tests.
public final class MemorySink: LogSink {
    private let storage = Mutex<[String]>([])

    public init() {}

    public func write(line: String) {
        storage.withLock { $0.append(line) }
    }

    public var lines: [String] { storage.withLock { $0 } }
}

/// A value-type logger in the style of swift-log: a constant message plus key=value metadata.
///
/// Components receive a logger and add their context once (`logger.with(["stream": name])`).
/// Never put a secret (password, token, key, OTP) in a message or in metadata.
public struct Logger: Sendable {
    public var label: String
    public var level: LogLevel
    public var metadata: [(String, String)]
    private let sink: any LogSink

    public init(label: String, level: LogLevel = .info, sink: any LogSink = StandardErrorSink()) {
        self.label = label
        self.level = level
        self.metadata = []
        self.sink = sink
    }

    /// Returns a copy of this logger whose lines also carry `extra`; a `component` entry replaces the label.
    public func with(_ extra: KeyValuePairs<String, String>) -> Logger {
        var copy = self
        for (key, value) in extra {
            if key == "component" {
                copy.label = value
            } else {
                copy.metadata.append((key, value))
            }
        }
        return copy
    }

    public func log(_ level: LogLevel, _ message: String, _ extra: KeyValuePairs<String, String> = [:]) {
        guard level >= self.level else { return }
        var line = Logger.timestamp()
        line += " level=\(level.name) component=\(label) msg=\(Logger.quoted(message))"
        for (key, value) in metadata { line += " \(key)=\(Logger.quoted(value))" }
        for (key, value) in extra { line += " \(key)=\(Logger.quoted(value))" }
        sink.write(line: line)
    }

    public func trace(_ message: String, _ extra: KeyValuePairs<String, String> = [:]) { log(.trace, message, extra) }
    public func debug(_ message: String, _ extra: KeyValuePairs<String, String> = [:]) { log(.debug, message, extra) }
    public func info(_ message: String, _ extra: KeyValuePairs<String, String> = [:]) { log(.info, message, extra) }
    public func warning(_ message: String, _ extra: KeyValuePairs<String, String> = [:]) { log(.warning, message, extra) }
    public func error(_ message: String, _ extra: KeyValuePairs<String, String> = [:]) { log(.error, message, extra) }

    /// Quotes a value when it contains spaces, quotes, `=` or control characters, so each line splits on spaces.
    static func quoted(_ value: String) -> String {
        let needsQuotes = value.isEmpty || value.unicodeScalars.contains { scalar in
            scalar == " " || scalar == "\"" || scalar == "=" || scalar.value < 0x20 || scalar.value == 0x7F
        }
        guard needsQuotes else { return value }
        var escaped = "\""
        for scalar in value.unicodeScalars {
            switch scalar {
            case "\"": escaped += "\\\""
            case "\\": escaped += "\\\\"
            case "\n": escaped += "\\n"
            case "\r": escaped += "\\r"
            case "\t": escaped += "\\t"
            default:
                if scalar.value < 0x20 || scalar.value == 0x7F {
                    escaped += String(format: "\\x%02x", scalar.value)
                } else {
                    escaped.unicodeScalars.append(scalar)
                }
            }
        }
        return escaped + "\""
    }

    static func timestamp() -> String {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        var seconds = time_t(now.tv_sec)
        var parts = tm()
        gmtime_r(&seconds, &parts)
        return String(
            format: "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
            parts.tm_year + 1900, parts.tm_mon + 1, parts.tm_mday,
            parts.tm_hour, parts.tm_min, parts.tm_sec, Int(now.tv_nsec / 1_000_000)
        )
    }
}
