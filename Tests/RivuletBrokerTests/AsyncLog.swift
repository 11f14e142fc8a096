import Dispatch
import RivuletCore
import RivuletStorage
import Synchronization

/// A `RecordLog` that completes appends on its own writer queue, like the file log, and can fail appends
/// on request. Records go to a `MemoryLog`, so a new engine can recover from them.
final class AsyncLog: RecordLog {
    let base: MemoryLog
    private let writer = DispatchQueue(label: "test.async-log.writer")
    // Guards the failure switch.
    private let failing = Mutex(false)

    init(base: MemoryLog = MemoryLog()) {
        self.base = base
    }

    /// While set, appends fail with an I/O error and store nothing.
    func setFailing(_ value: Bool) {
        failing.withLock { $0 = value }
    }

    /// Holds appends queued from now on until `resume()`, like a writer stuck in a long fsync.
    func pause() {
        writer.suspend()
    }

    func resume() {
        writer.resume()
    }

    /// Blocks until every append queued so far has completed.
    func waitForWriter() {
        writer.sync {}
    }

    func append(_ records: [LogRecord], completion: @escaping @Sendable (Result<[LogPosition], StorageError>) -> Void) {
        let fail = failing.withLock { $0 }
        writer.async { [base] in
            if fail {
                completion(.failure(.io("injected failure")))
            } else {
                base.append(records, completion: completion)
            }
        }
    }

    func read(at position: LogPosition) throws(StorageError) -> LogRecord { try base.read(at: position) }
    func replay(from position: LogPosition, _ visit: (LogPosition, LogRecord) throws -> Void) throws {
        try base.replay(from: position, visit)
    }
    func latestCheckpoint() throws(StorageError) -> Checkpoint? { try base.latestCheckpoint() }
    func writeCheckpoint(_ checkpoint: Checkpoint) throws(StorageError) { try base.writeCheckpoint(checkpoint) }
    func releaseSegments(before position: LogPosition) { base.releaseSegments(before: position) }
    var endPosition: LogPosition { base.endPosition }
    var sizeBytes: Int { base.sizeBytes }
    func close() { base.close() }
}
