import Foundation

/// A value guarded by a glibc adaptive mutex (`PTHREAD_MUTEX_ADAPTIVE_NP`), for the log's hot queue lock.
///
/// In Swift 6.3.1 on Linux, `Synchronization.Mutex` takes a contended lock with `FUTEX_LOCK_PI` (seen with
/// strace), which makes every contended hand-off a trip through the kernel. In the append benchmark (8 producer
/// threads, 2 cores shared with other builds) runs with it swung between 2M and 30k records/s, while this mutex
/// stayed between 420k and 1.1M. An adaptive mutex lets a running thread take a free lock at once and spins
/// briefly before sleeping.
final class PosixMutex<Value>: @unchecked Sendable {
    private let mutex: UnsafeMutablePointer<pthread_mutex_t>
    // Only touched between lock and unlock.
    private var value: Value

    init(_ value: Value) {
        self.value = value
        mutex = .allocate(capacity: 1)
        var attributes = pthread_mutexattr_t()
        pthread_mutexattr_init(&attributes)
        pthread_mutexattr_settype(&attributes, Int32(PTHREAD_MUTEX_ADAPTIVE_NP))
        let status = pthread_mutex_init(mutex, &attributes)
        pthread_mutexattr_destroy(&attributes)
        precondition(status == 0, "pthread_mutex_init failed with \(status)")
    }

    deinit {
        pthread_mutex_destroy(mutex)
        mutex.deallocate()
    }

    func withLock<Result, Failure: Error>(_ body: (inout Value) throws(Failure) -> Result) throws(Failure) -> Result {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return try body(&value)
    }
}
