import Foundation
import RivuletCore

/// The one thread that writes the log: it takes every queued append, encodes them into one reused buffer,
/// writes them with one `pwrite`, syncs as the fsync policy requires and then runs the completions.
///
/// Everything but `shared` belongs to the writer thread alone.
final class LogWriter: @unchecked Sendable {
    let shared: LogState
    let options: LogOptions
    let logger: Logger
    let logDirectory: String

    private var active: Segment
    private let buffer: ByteBuffer
    private var lastSync = ContinuousClock.now
    private var unsynced = false
    private var failure: StorageError?
    /// The positions of each append of the current group, reused between batches.
    private var groupPositions: [[LogPosition]] = []

    init(shared: LogState, active: Segment, options: LogOptions, logger: Logger, logDirectory: String) {
        self.shared = shared
        self.active = active
        self.options = options
        self.logger = logger
        self.logDirectory = logDirectory
        buffer = ByteBuffer(capacity: min(options.maxBatchBytes, 1 << 20) + RecordFormat.headerBytes)
    }

    func run() {
        shared.writerThread.store(UInt(bitPattern: Int(bitPattern: pthread_self())), ordering: .relaxed)
        var batch: [PendingAppend] = []
        while true {
            guard let closing = takeBatch(&batch) else { continue }
            if !batch.isEmpty { process(batch) }
            batch.removeAll(keepingCapacity: true)
            // Once `closing` was seen under the lock, appends are rejected, so the queue stays empty.
            if closing {
                stop()
                return
            }
        }
    }

    // MARK: Waiting for work

    /// Swaps the queue into `batch`; returns whether `close()` was called, or nil after waking up with no work.
    private func takeBatch(_ batch: inout [PendingAppend]) -> Bool? {
        let closing: Bool? = shared.state.withLock { state in
            if state.queue.isEmpty && !state.closing {
                state.writerWaiting = true
                return nil
            }
            swap(&state.queue, &batch)
            return state.closing
        }
        if closing == nil { waitForWork() }
        return closing
    }

    /// Blocks until an append or `close()` signals; under `.interval` wakes up in time to sync unsynced data.
    private func waitForWork() {
        guard unsynced, failure == nil, case .interval(let period) = options.fsync else {
            shared.wake.wait()
            return
        }
        let remaining = max(.zero, lastSync + period - ContinuousClock.now)
        let nanoseconds = remaining.components.seconds * 1_000_000_000 + remaining.components.attoseconds / 1_000_000_000
        if shared.wake.wait(timeout: .now() + .nanoseconds(Int(nanoseconds))) == .success { return }

        let signalPending = shared.state.withLock { state in
            if state.writerWaiting {
                state.writerWaiting = false
                return false
            }
            return true
        }
        // An appender cleared the flag after the timeout and will signal (or did): take that signal now so
        // the next wait does not return at once.
        if signalPending { shared.wake.wait() }
        syncIfDue()
    }

    // MARK: Writing

    private func process(_ batch: [PendingAppend]) {
        if let failure {
            fail(batch[...], with: failure)
            return
        }
        var groupStart = 0
        groupPositions.removeAll(keepingCapacity: true)
        var groupStartSegment = active.base
        var groupStartSize = active.size
        do throws(StorageError) {
            for index in batch.indices {
                groupPositions.append(try encode(batch[index].records))
                guard buffer.count >= options.maxBatchBytes || index == batch.count - 1 else { continue }
                try flush()
                try syncAfterWrite()
                shared.groupCount.add(1, ordering: .relaxed)
                complete(batch[groupStart...index], groupPositions)
                groupStart = index + 1
                groupStartSegment = active.base
                groupStartSize = active.size
                groupPositions.removeAll(keepingCapacity: true)
            }
        } catch {
            // Drop what the failed group may have written, so a restart does not replay records whose appends
            // failed. Best effort: the file system may refuse this too.
            buffer.removeAll()
            if active.base == groupStartSegment,
                (try? FileIO.truncate(active.file.fd, to: groupStartSize, path: active.file.path)) != nil
            {
                active.size = groupStartSize
                shared.state.withLock { $0.segments[$0.segments.count - 1].size = groupStartSize }
            }
            markFailed(error)
            fail(batch[groupStart...], with: error)
        }
    }

    /// Appends the encoded records to the buffer, rolling to a new segment where the active one is full.
    private func encode(_ records: [LogRecord]) throws(StorageError) -> [LogPosition] {
        var positions: [LogPosition] = []
        positions.reserveCapacity(records.count)
        for record in records {
            let recordBytes = RecordFormat.encodedBytes(record)
            let used = active.size + UInt64(buffer.count)
            if used > 0 && used + UInt64(recordBytes) > UInt64(options.segmentBytes) {
                try flush()
                try roll()
            }
            positions.append(LogPosition(active.end + UInt64(buffer.count)))
            RecordFormat.encode(record, at: buffer.reserveAppend(recordBytes))
        }
        return positions
    }

    /// Writes the buffer at the end of the active segment with one call and publishes the new size to readers.
    private func flush() throws(StorageError) {
        guard buffer.count > 0 else { return }
        try checkInjectedFailure("write")
        try FileIO.pwriteAll(active.file.fd, buffer.bytes, at: active.size, path: active.file.path)
        active.size += UInt64(buffer.count)
        buffer.removeAll()
        unsynced = true
        let size = active.size
        shared.state.withLock { state in
            state.segments[state.segments.count - 1].size = size
        }
    }

    /// Seals the active segment (synced, so a later segment never exists beside a torn earlier one) and
    /// starts the next at the position where the sealed one ends.
    private func roll() throws(StorageError) {
        try sync()
        let base = active.end
        let path = logDirectory + "/" + Segment.fileName(base: base)
        let fd = try FileIO.open(path, O_RDWR | O_CREAT | O_EXCL, mode: 0o600)
        let next = Segment(base: base, size: 0, file: FileHandleBox(fd: fd, path: path))
        try FileIO.syncDirectory(logDirectory)
        active = next
        shared.state.withLock { $0.segments.append(next) }
        logger.debug("segment rolled", ["file": path, "base": String(base)])
    }

    private func syncAfterWrite() throws(StorageError) {
        switch options.fsync {
        case .always: try sync()
        case .interval: syncIfDue()
        case .never: break
        }
    }

    /// Under `.interval`, syncs once the period since the last sync has passed. A failure here cannot fail
    /// completions that already ran, so it stops the log for later appends.
    private func syncIfDue() {
        guard unsynced, failure == nil, case .interval(let period) = options.fsync else { return }
        guard ContinuousClock.now - lastSync >= period else { return }
        do throws(StorageError) {
            try sync()
        } catch {
            markFailed(error)
        }
    }

    private func sync() throws(StorageError) {
        try checkInjectedFailure("fdatasync")
        let started = ContinuousClock.now
        try FileIO.dataSync(active.file.fd, path: active.file.path)
        lastSync = .now
        let elapsed = (lastSync - started).components
        shared.syncCount.add(1, ordering: .relaxed)
        shared.syncNanoseconds.add(Int(elapsed.seconds) * 1_000_000_000 + Int(elapsed.attoseconds / 1_000_000_000), ordering: .relaxed)
        unsynced = false
        let end = active.end
        shared.state.withLock { $0.syncedEnd = end }
    }

    private func checkInjectedFailure(_ operation: String) throws(StorageError) {
        let code = shared.injectedErrno.exchange(0, ordering: .relaxed)
        if code != 0 { throw FileIO.failure(operation, active.file.path, code) }
    }

    // MARK: Completing

    private func complete(_ group: ArraySlice<PendingAppend>, _ positions: [[LogPosition]]) {
        for (append, appendPositions) in zip(group, positions) {
            append.completion(.success(appendPositions))
        }
    }

    private func fail(_ group: ArraySlice<PendingAppend>, with error: StorageError) {
        for append in group {
            append.completion(.failure(error))
        }
    }

    private func markFailed(_ error: StorageError) {
        guard failure == nil else { return }
        let stopped = StorageError.io("the log stopped accepting appends after an I/O error: \(error)")
        failure = stopped
        shared.state.withLock { $0.failure = stopped }
        logger.error("log write failed; appends are rejected until restart", ["error": "\(error)", "file": active.file.path])
    }

    /// Syncs whatever the policy left unsynced, then releases the files and the directory lock.
    private func stop() {
        if unsynced && failure == nil {
            do throws(StorageError) {
                try sync()
            } catch {
                logger.error("final sync at close failed", ["error": "\(error)", "file": active.file.path])
            }
        }
        shared.state.withLock { state in
            state.endAtClose = state.segments.last?.end ?? 0
            state.sizeAtClose = state.segments.reduce(0) { $0 + Int($1.size) }
            state.segments.removeAll()
            state.lockFile = nil
            state.closed = true
        }
        logger.info("log closed", ["end": String(active.end)])
        shared.stopped.signal()
    }
}
