import RivuletCore

/// Kinds of records in the shared log. Raw values are stored on disk: never renumber them.
public enum RecordType: UInt8, Sendable {
    /// A published message; the body is `MessageRecordCodec`'s encoding.
    case message = 1
    /// A subscription cursor change (acks, created, deleted); the body belongs to the broker.
    case cursor = 2
    /// A catalog change (streams, subscriptions, TTL); the body belongs to the broker.
    case catalog = 3
    /// A stream and all its records are dead.
    case streamDeletion = 4
}

/// One record of the shared log, as the layers above see it.
public struct LogRecord: Sendable, Equatable {
    public var type: RecordType
    public var streamId: UInt64
    /// The message sequence for `.message`; free for other types.
    public var sequence: UInt64
    /// Epoch milliseconds.
    public var timestamp: Int64
    public var body: [UInt8]

    public init(type: RecordType, streamId: UInt64, sequence: UInt64, timestamp: Int64, body: [UInt8]) {
        self.type = type
        self.streamId = streamId
        self.sequence = sequence
        self.timestamp = timestamp
        self.body = body
    }
}

/// The byte position of a record in the whole log (segment base position plus offset), increasing forever.
public struct LogPosition: Hashable, Comparable, Sendable, CustomStringConvertible {
    public var rawValue: UInt64

    public init(_ rawValue: UInt64) { self.rawValue = rawValue }

    public static let zero = LogPosition(0)

    public static func < (lhs: LogPosition, rhs: LogPosition) -> Bool { lhs.rawValue < rhs.rawValue }

    public var description: String { String(rawValue) }
}

/// A snapshot of the state built from the log up to `position`; replay resumes at `position`.
public struct Checkpoint: Sendable, Equatable {
    public var position: LogPosition
    public var state: [UInt8]

    public init(position: LogPosition, state: [UInt8]) {
        self.position = position
        self.state = state
    }
}

/// When a producer's `ok` may be sent.
public enum FsyncPolicy: Sendable, Equatable {
    /// fdatasync before completing each group-committed batch (the default).
    case always
    /// fdatasync at most this often; completion does not wait for it.
    case interval(Duration)
    /// Leave flushing to the operating system.
    case never

    /// Parses `always`, `never` or `interval=<duration>` where the duration is `250ms`, `1s`, `2m` or bare milliseconds.
    public init?(parsing text: String) {
        switch text {
        case "always": self = .always
        case "never": self = .never
        default:
            guard text.hasPrefix("interval="), let duration = FsyncPolicy.parseDuration(String(text.dropFirst(9))),
                duration > .zero
            else { return nil }
            self = .interval(duration)
        }
    }

    static func parseDuration(_ text: String) -> Duration? {
        let units: [(String, Int64)] = [("ms", 1), ("s", 1000), ("m", 60_000)]
        for (suffix, millisecondsPerUnit) in units where text.hasSuffix(suffix) {
            guard let value = Int64(text.dropLast(suffix.count)) else { return nil }
            return .milliseconds(value * millisecondsPerUnit)
        }
        return Int64(text).map { .milliseconds($0) }
    }
}

/// Failures of the durable log.
public enum StorageError: Error, Sendable, Equatable, CustomStringConvertible {
    case io(String)
    case corrupt(String)
    case closed
    case recordTooLarge(Int)

    public var description: String {
        switch self {
        case .io(let message): message
        case .corrupt(let message): "corrupt log: \(message)"
        case .closed: "the log is closed"
        case .recordTooLarge(let bytes): "record of \(bytes) bytes exceeds the maximum record size"
        }
    }
}

/// An append-only log shared by every stream, with group commit and recovery.
///
/// Implementations: `SegmentedLog` (files) and `MemoryLog` (tests). All methods are thread-safe.
public protocol RecordLog: AnyObject, Sendable {
    /// Appends `records` in order; `completion` runs on the writer thread once they are durable under the
    /// fsync policy, with one position per record. Records appended by one caller keep their order.
    func append(_ records: [LogRecord], completion: @escaping @Sendable (Result<[LogPosition], StorageError>) -> Void)
    /// Reads one record written earlier.
    func read(at position: LogPosition) throws(StorageError) -> LogRecord
    /// Visits every valid record at or after `position` in log order. Recovery already cut any torn tail.
    func replay(from position: LogPosition, _ visit: (LogPosition, LogRecord) throws -> Void) throws
    /// The newest checkpoint, if any.
    func latestCheckpoint() throws(StorageError) -> Checkpoint?
    /// Writes a checkpoint atomically (temporary file, fsync, rename, directory fsync).
    func writeCheckpoint(_ checkpoint: Checkpoint) throws(StorageError)
    /// Deletes whole segments that end at or before `position`; the caller promises it needs nothing there.
    func releaseSegments(before position: LogPosition)
    /// The position the next appended record will get.
    var endPosition: LogPosition { get }
    /// Bytes on disk (or in memory) held by the log.
    var sizeBytes: Int { get }
    /// Completes pending appends and closes files.
    func close()
}
