import RivuletCore
import Synchronization

/// A `RecordLog` kept in memory, for tests of the layers above storage. Positions count records, not bytes.
public final class MemoryLog: RecordLog {
    private struct State {
        var records: [LogRecord] = []
        var firstIndex = 0
        var checkpoint: Checkpoint?
        var closed = false
    }

    private let state = Mutex(State())

    public init() {}

    public func append(_ records: [LogRecord], completion: @escaping @Sendable (Result<[LogPosition], StorageError>) -> Void) {
        let result: Result<[LogPosition], StorageError> = state.withLock { state in
            guard !state.closed else { return .failure(.closed) }
            let start = state.firstIndex + state.records.count
            state.records.append(contentsOf: records)
            return .success((0..<records.count).map { LogPosition(UInt64(start + $0)) })
        }
        completion(result)
    }

    public func read(at position: LogPosition) throws(StorageError) -> LogRecord {
        let record: LogRecord? = state.withLock { state in
            let index = Int(position.rawValue) - state.firstIndex
            return index >= 0 && index < state.records.count ? state.records[index] : nil
        }
        guard let record else { throw .corrupt("no record at position \(position)") }
        return record
    }

    public func replay(from position: LogPosition, _ visit: (LogPosition, LogRecord) throws -> Void) throws {
        let (first, records) = state.withLock { ($0.firstIndex, $0.records) }
        for (index, record) in records.enumerated() where first + index >= Int(position.rawValue) {
            try visit(LogPosition(UInt64(first + index)), record)
        }
    }

    public func latestCheckpoint() throws(StorageError) -> Checkpoint? {
        state.withLock { $0.checkpoint }
    }

    public func writeCheckpoint(_ checkpoint: Checkpoint) throws(StorageError) {
        state.withLock { $0.checkpoint = checkpoint }
    }

    public func releaseSegments(before position: LogPosition) {
        state.withLock { state in
            let drop = min(max(0, Int(position.rawValue) - state.firstIndex), state.records.count)
            state.records.removeFirst(drop)
            state.firstIndex += drop
        }
    }

    public var endPosition: LogPosition {
        state.withLock { LogPosition(UInt64($0.firstIndex + $0.records.count)) }
    }

    public var sizeBytes: Int {
        state.withLock { $0.records.reduce(0) { $0 + $1.body.count + 32 } }
    }

    public func close() {
        state.withLock { $0.closed = true }
    }
}
