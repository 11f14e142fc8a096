import Foundation
import RivuletCore

/// The durable `RecordLog`: one shared log of numbered segment files under `<directory>/log`, written by one
/// writer thread with group commit, checked with CRC-32C and recovered at open.
///
/// `docs/on-disk-format.md` describes the files. All methods are thread-safe. `append` never does disk I/O on
/// the caller's thread, but `read`, `replay`, the checkpoint methods and `releaseSegments` do, so call them
/// from threads that may block. Dropping the last reference closes the log as `close()` does.
public final class SegmentedLog: RecordLog {
    public let directory: String
    public let options: LogOptions
    let logger: Logger
    let logDirectory: String
    let shared: LogState

    /// Opens the log in `directory`, creating the directory if missing, recovers it and starts the writer thread.
    ///
    /// Recovery cuts a torn tail of the last segment and logs a warning with what it cut. Throws
    /// `StorageError.io` when the directory is unusable or locked by another process, and `StorageError.corrupt`
    /// (naming the file and offset) when a record before the tail is damaged.
    public init(directory: String, options: LogOptions = LogOptions(), logger: Logger) throws(StorageError) {
        let problems = options.problems()
        guard problems.isEmpty else { throw .io("invalid log options: " + problems.joined(separator: "; ")) }
        self.directory = directory
        self.options = options
        self.logger = logger.with(["directory": directory])
        logDirectory = directory + "/log"

        try FileIO.makeDirectory(directory)
        let lockFile = try SegmentedLog.lockDirectory(directory)
        try FileIO.makeDirectory(logDirectory)
        let segments = try SegmentRecovery(logDirectory: logDirectory, logger: self.logger).recover()
        // Makes the entries of `log/` and `lock` durable when this open created them.
        try FileIO.syncDirectory(directory)

        shared = LogState(segments: segments, lockFile: lockFile)
        let writer = LogWriter(
            shared: shared, active: segments[segments.count - 1], options: options, logger: self.logger,
            logDirectory: logDirectory
        )
        let thread = Thread { writer.run() }
        thread.name = "rivulet-log-writer"
        thread.start()
    }

    deinit { close() }

    // MARK: Appending

    /// Queues `records` for the writer thread and returns at once. `completion` runs on the writer thread after
    /// the batch was written (and synced under `.always`), with one position per record.
    ///
    /// Rejections run `completion` on the caller's thread before `append` returns: `.closed` after `close()`,
    /// `.recordTooLarge` for a body over `maxRecordBytes`, `.io` once a write has failed. An empty list
    /// completes at once with no positions.
    public func append(_ records: [LogRecord], completion: @escaping @Sendable (Result<[LogPosition], StorageError>) -> Void) {
        if let large = records.first(where: { $0.body.count > options.maxRecordBytes }) {
            completion(.failure(.recordTooLarge(large.body.count)))
            return
        }
        // NOTE: the queue has no bound of its own; callers bound it with their in-flight limits (a producer's
        // pending messages, a subscription's unacked messages).
        var wakeWriter = false
        let rejection: StorageError? = shared.state.withLock { state in
            if state.closing { return .closed }
            if let failure = state.failure { return failure }
            if records.isEmpty { return nil }
            state.queue.append(PendingAppend(records: records, completion: completion))
            if state.writerWaiting {
                state.writerWaiting = false
                wakeWriter = true
            }
            return nil
        }
        if let rejection {
            completion(.failure(rejection))
        } else if records.isEmpty {
            completion(.success([]))
        } else if wakeWriter {
            shared.wake.signal()
        }
    }

    // MARK: Reading

    /// Reads the record at `position` with `pread`, verifying its checksum. Works for any record whose append
    /// completed. Throws `.corrupt` when no valid record starts there, `.io` when reading fails, `.closed`.
    public func read(at position: LogPosition) throws(StorageError) -> LogRecord {
        let segment = try segment(containing: position.rawValue)
        let offset = position.rawValue - segment.base
        let available = Int(segment.size - offset)
        var requested = min(available, 4096)
        while true {
            let bytes = try FileIO.pread(segment.file.fd, count: requested, at: offset, path: segment.file.path)
            let count = bytes.count
            let parsed = bytes.withUnsafeBytes { buffer -> Result<LogRecord, StorageError>? in
                switch RecordFormat.parse(UnsafeRawBufferPointer(rebasing: buffer[..<count])) {
                case .valid(let view):
                    return .success(view.makeRecord())
                case .incomplete(let totalBytes) where totalBytes <= available && count == requested && totalBytes > requested:
                    requested = totalBytes
                    return nil
                case .incomplete:
                    return .failure(.corrupt("record at position \(position) in \(segment.file.path) is cut short"))
                case .invalid(let reason):
                    return .failure(.corrupt("no valid record at position \(position) in \(segment.file.path): \(reason)"))
                }
            }
            if let parsed { return try parsed.get() }
        }
    }

    /// Visits every valid record at or after `position` in log order, up to the end written when the call
    /// started. Runs on the caller's thread. Throws `.corrupt` naming the file and offset of a damaged record,
    /// and rethrows what `visit` throws.
    public func replay(from position: LogPosition, _ visit: (LogPosition, LogRecord) throws -> Void) throws {
        let segments: [Segment] = try shared.state.withLock { (state) throws(StorageError) in
            guard !state.closed else { throw .closed }
            return state.segments
        }
        let buffer = ByteBuffer(capacity: SegmentScanner.chunkBytes)
        for segment in segments where segment.end > position.rawValue {
            try replay(segment, from: position, buffer: buffer, visit)
        }
    }

    private func replay(
        _ segment: Segment, from position: LogPosition, buffer: ByteBuffer, _ visit: (LogPosition, LogRecord) throws -> Void
    ) throws {
        // Checkpoint positions are record boundaries, so the scan starts there. Any other position inside the
        // segment fails to parse, and then the scan restarts from the segment's first record.
        let start = position.rawValue > segment.base ? position.rawValue - segment.base : 0
        var outcome = try SegmentScanner.scan(segment.file, from: start, to: segment.size, buffer: buffer) { offset, view in
            try visit(LogPosition(segment.base + offset), view.makeRecord())
        }
        if start > 0, case .stopped(let offset, _) = outcome, offset == start {
            outcome = try SegmentScanner.scan(segment.file, from: 0, to: segment.size, buffer: buffer) { offset, view in
                if segment.base + offset >= position.rawValue {
                    try visit(LogPosition(segment.base + offset), view.makeRecord())
                }
            }
        }
        if case .stopped(let offset, let reason) = outcome {
            throw StorageError.corrupt("segment file \(segment.file.path) is corrupt at offset \(offset) (\(reason)): restore the file from a backup")
        }
    }

    func segment(containing position: UInt64) throws(StorageError) -> Segment {
        try shared.state.withLock { (state) throws(StorageError) -> Segment in
            guard !state.closed else { throw .closed }
            let segments = state.segments
            var low = 0
            var high = segments.count
            while low < high {
                let middle = (low + high) / 2
                if segments[middle].base <= position { low = middle + 1 } else { high = middle }
            }
            guard low > 0, position < segments[low - 1].end else {
                let first = segments.first?.base ?? 0
                let end = segments.last?.end ?? 0
                throw .corrupt("no record at position \(position): the log contains positions \(first) to \(end)")
            }
            return segments[low - 1]
        }
    }

    // MARK: Space and state

    /// Deletes sealed segments that end at or before `position` (never the active one) and syncs the directory.
    /// Failures are logged, not thrown: a segment that could not be deleted is only wasted space.
    public func releaseSegments(before position: LogPosition) {
        let released: [Segment] = shared.state.withLock { state in
            var count = 0
            while count < state.segments.count - 1 && state.segments[count].end <= position.rawValue { count += 1 }
            let released = Array(state.segments[..<count])
            state.segments.removeFirst(count)
            return released
        }
        guard !released.isEmpty else { return }
        for segment in released where unlink(segment.file.path) != 0 {
            logger.warning("deleting a released segment failed", ["file": segment.file.path, "error": FileIO.describe(errno)])
        }
        do throws(StorageError) {
            try FileIO.syncDirectory(logDirectory)
        } catch {
            logger.warning("syncing the log directory after releasing segments failed", ["error": "\(error)"])
        }
        logger.info("segments released", ["count": String(released.count), "before": String(position.rawValue)])
    }

    /// The end of the records written so far: the position the next record gets unless appends are queued.
    public var endPosition: LogPosition {
        shared.state.withLock { state in
            LogPosition(state.closed ? state.endAtClose : state.segments[state.segments.count - 1].end)
        }
    }

    /// The position of the first record still held: the base of the oldest segment not yet released.
    public var startPosition: LogPosition {
        shared.state.withLock { LogPosition($0.segments.first?.base ?? $0.endAtClose) }
    }

    /// Everything before this position is on stable storage; under `.always` it equals `endPosition` between
    /// batches.
    public var syncedPosition: LogPosition {
        shared.state.withLock { LogPosition($0.syncedEnd) }
    }

    /// Bytes held by the segment files (the checkpoint file is not counted).
    public var sizeBytes: Int {
        shared.state.withLock { state in
            state.closed ? state.sizeAtClose : state.segments.reduce(0) { $0 + Int($1.size) }
        }
    }

    /// Rejects new appends, waits until the writer has written, synced and completed every queued append,
    /// then closes the files and releases the directory. Called from a completion (on the writer thread), it
    /// returns at once and the writer stops after the current batch. Safe to call more than once.
    public func close() {
        let wakeWriter: Bool = shared.state.withLock { state in
            state.closing = true
            guard state.writerWaiting else { return false }
            state.writerWaiting = false
            return true
        }
        if wakeWriter { shared.wake.signal() }
        let current = UInt(bitPattern: Int(bitPattern: pthread_self()))
        guard shared.writerThread.load(ordering: .relaxed) != current else { return }
        shared.stopped.wait()
        shared.stopped.signal()
    }

    // MARK: Directory lock

    /// Takes an exclusive `flock` on `<directory>/lock`, so two processes never write one log.
    private static func lockDirectory(_ directory: String) throws(StorageError) -> FileHandleBox {
        let path = directory + "/lock"
        let fd = try FileIO.open(path, O_RDWR | O_CREAT, mode: 0o600)
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            let code = errno
            Foundation.close(fd)
            if code == EWOULDBLOCK {
                throw .io("data directory \(directory) is in use by another log (lock file \(path)); stop the other process first")
            }
            throw FileIO.failure("flock", path, code)
        }
        return FileHandleBox(fd: fd, path: path)
    }
}
