import Dispatch
import Synchronization

/// One segment file: records from `base` (a global log position) to `base + size`.
struct Segment {
    let base: UInt64
    /// Bytes written so far; grows only for the active (last) segment.
    var size: UInt64
    let file: FileHandleBox

    var end: UInt64 { base + size }

    static func fileName(base: UInt64) -> String {
        let digits = String(base)
        return String(repeating: "0", count: max(0, 20 - digits.count)) + digits + ".seg"
    }

    /// Parses `00000000000000001234.seg`; nil for any other name.
    static func base(fromFileName name: String) -> UInt64? {
        guard name.hasSuffix(".seg") else { return nil }
        let digits = name.dropLast(4)
        guard digits.count == 20, digits.allSatisfy({ $0 >= "0" && $0 <= "9" }) else { return nil }
        return UInt64(digits)
    }
}

/// Appends waiting for the writer thread.
struct PendingAppend {
    var records: [LogRecord]
    var completion: @Sendable (Result<[LogPosition], StorageError>) -> Void
}

/// State shared by callers and the writer thread, guarded by `state`. No code holds the lock across I/O, and
/// no other lock is taken while it is held.
final class LogState: Sendable {
    struct Guarded {
        /// Sorted by base; the last one is the active segment the writer appends to. Empty once closed.
        var segments: [Segment]
        var queue: [PendingAppend] = []
        /// The writer is blocked on `wake`; the thread that clears this flag must signal `wake` exactly once.
        var writerWaiting = false
        /// `close()` was called: appends fail with `.closed`, the writer drains the queue and stops.
        var closing = false
        /// The writer stopped and the files are closed.
        var closed = false
        /// The first I/O failure; every later append fails with it.
        var failure: StorageError?
        /// Everything before this position is on stable storage.
        var syncedEnd: UInt64
        /// `endPosition` and `sizeBytes` as they were at close.
        var endAtClose: UInt64 = 0
        var sizeAtClose = 0
        /// The directory lock, released when the writer stops.
        var lockFile: FileHandleBox?
    }

    let state: PosixMutex<Guarded>
    let wake = DispatchSemaphore(value: 0)
    /// Signalled once when the writer thread stops; each waiter signals it again for the next.
    let stopped = DispatchSemaphore(value: 0)
    /// The writer thread's `pthread_self()`, so `close()` called from a completion does not wait for itself.
    let writerThread = Atomic<UInt>(0)
    /// Test hook: when not zero, the writer's next write or sync fails with this errno without touching the file.
    let injectedErrno = Atomic<Int32>(0)
    /// Counters for statistics: groups written, fdatasync calls and the time spent in them.
    let groupCount = Atomic<Int>(0)
    let syncCount = Atomic<Int>(0)
    let syncNanoseconds = Atomic<Int>(0)

    init(segments: [Segment], lockFile: FileHandleBox) {
        state = PosixMutex(Guarded(segments: segments, syncedEnd: segments.last?.end ?? 0, lockFile: lockFile))
    }
}
