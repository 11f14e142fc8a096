import CLinux
import Glibc
import RivuletCore
import Synchronization

/// State every loop of one server shares; immutable apart from the atomics.
final class ServerContext: Sendable {
    let configuration: HTTPServerConfiguration
    let service: any HTTPService
    let logger: Logger
    let tls: TLSContext?
    let openConnectionCount = Atomic<Int>(0)
    /// Open connections per remote host (the address without its port), for `maxConnectionsPerAddress`.
    let connectionsPerHost = Mutex<[String: Int]>([:])
    private let lastConnectionID = Atomic<UInt64>(0)

    init(configuration: HTTPServerConfiguration, service: any HTTPService, logger: Logger, tls: TLSContext?) {
        self.configuration = configuration
        self.service = service
        self.logger = logger
        self.tls = tls
    }

    func makeConnectionID() -> UInt64 {
        lastConnectionID.add(1, ordering: .relaxed).newValue
    }

    /// Counts one more connection from `host`, or returns false when the host already has the maximum.
    func reserveConnection(fromHost host: String) -> Bool {
        let limit = configuration.maxConnectionsPerAddress
        return connectionsPerHost.withLock { table in
            let open = table[host, default: 0]
            guard open < limit else { return false }
            table[host] = open + 1
            return true
        }
    }

    func releaseConnection(fromHost host: String) {
        connectionsPerHost.withLock { table in
            guard let open = table[host] else { return }
            // Dropping zero counts keeps the table as small as the set of hosts with open connections.
            table[host] = open > 1 ? open - 1 : nil
        }
    }
}

/// One epoll loop on one thread: its own listening socket, its connections, a timer heap and an inbox for
/// work posted from other threads.
///
/// Everything but `execute(_:)` and `isInLoop` runs on the loop thread only.
final class EventLoop: @unchecked Sendable {
    private static let listenerTag = UInt64.max
    private static let wakeTag = UInt64.max - 1

    let context: ServerContext
    let index: Int
    private let epollFD: Int32
    private let wakeFD: Int32
    private var listenFD: Int32
    /// Work from other threads, and whether the loop still takes it; the lock also keeps `wakeFD` open
    /// while a writer uses it.
    private let inbox = Mutex<(work: [@Sendable () -> Void], open: Bool)>(([], true))
    private let wakePending = Atomic<Bool>(false)
    private let threadID = Atomic<UInt>(0)

    private var connections: [UInt64: Connection] = [:]
    private var timers = DeadlineHeap()
    /// Connections touched in this pass; each gets one flush and one deadline update at the end of the pass.
    private var touched: [Connection] = []
    private var dateCache = HTTPDateCache()
    /// Connections that used up their read budget and still have input waiting in the kernel.
    private var pendingReads: [Connection] = []
    private(set) var now: UInt64 = monotonicNanoseconds()
    private var shutdownDeadline: UInt64?
    /// Set while accepting is paused because the process ran out of file descriptors.
    private var acceptPausedUntil: UInt64?
    /// When this loop last logged a connection refused by a limit, and how many it refused silently since.
    private var lastLimitWarningNanoseconds: UInt64 = 0
    private var unloggedLimitRejections = 0
    private var lastAcceptWarningAt: UInt64?
    var readBuffer = [UInt8](repeating: 0, count: 64 * 1024)

    init(context: ServerContext, index: Int, listenFD: Int32) throws(HTTPServerError) {
        self.context = context
        self.index = index
        self.listenFD = listenFD
        epollFD = epoll_create1(Int32(EPOLL_CLOEXEC))
        wakeFD = eventfd(0, Int32(EFD_NONBLOCK | EFD_CLOEXEC))
        guard epollFD >= 0, wakeFD >= 0 else {
            throw HTTPServerError("cannot create the event loop: \(SocketSupport.lastErrorText())")
        }
        register(listenFD, tag: Self.listenerTag, events: EPOLLIN.rawValue)
        register(wakeFD, tag: Self.wakeTag, events: EPOLLIN.rawValue)
    }

    var isShuttingDown: Bool { shutdownDeadline != nil }

    /// Returns the `Date` header value for the current second.
    func currentDate() -> String { dateCache.current() }

    /// True on this loop's own thread.
    var isInLoop: Bool {
        threadID.load(ordering: .acquiring) == UInt(pthread_self())
    }

    /// Runs `work` on the loop thread; callable from any thread. Work posted after the loop stopped is dropped.
    func execute(_ work: @escaping @Sendable () -> Void) {
        inbox.withLock { state in
            guard state.open else { return }
            state.work.append(work)
            if !wakePending.exchange(true, ordering: .acquiringAndReleasing) {
                var one: UInt64 = 1
                _ = write(wakeFD, &one, 8)
            }
        }
    }

    /// Runs `work` now when called on the loop thread, else posts it.
    func run(_ work: @escaping @Sendable () -> Void) {
        if isInLoop { work() } else { execute(work) }
    }

    /// Stops accepting and starts closing every connection. The loop exits once all are closed or the grace
    /// time is over. Loop thread only.
    func beginShutdown() {
        guard shutdownDeadline == nil else { return }
        shutdownDeadline = now.addingSaturated(context.configuration.closeHandshakeTimeout.nanoseconds)
            .addingSaturated(1_000_000_000)
        closeListener()
        for connection in Array(connections.values) {
            connection.beginShutdown()
            markTouched(connection)
        }
    }

    /// The loop body; returns after `beginShutdown` once no connection is left.
    func runLoop() {
        threadID.store(UInt(pthread_self()), ordering: .releasing)
        var events = [epoll_event](repeating: epoll_event(), count: 256)
        while true {
            let count = epoll_wait(epollFD, &events, Int32(events.count), nextTimeoutMilliseconds())
            now = monotonicNanoseconds()
            if count < 0 && errno != EINTR {
                context.logger.error("epoll_wait failed", ["loop": "\(index)", "error": SocketSupport.lastErrorText()])
                break
            }
            for slot in 0..<max(0, Int(count)) {
                dispatch(events[slot])
            }
            resumePendingReads()
            fireTimers()
            resumeAcceptingIfDue()
            finishPass()
            if let deadline = shutdownDeadline {
                if connections.isEmpty { break }
                if now >= deadline { closeAll(reason: "shutdown grace time over") }
            }
        }
        stop()
    }

    private func dispatch(_ event: epoll_event) {
        switch event.data.u64 {
        case Self.listenerTag:
            acceptConnections()
        case Self.wakeTag:
            drainInbox()
        case let id:
            guard let connection = connections[id] else { return }
            connection.handleEvents(event.events)
            markTouched(connection)
        }
    }

    /// Marks `connection` to read again in the next pass. Loop thread only.
    func continueReadingNextPass(_ connection: Connection) {
        pendingReads.append(connection)
    }

    private func resumePendingReads() {
        guard !pendingReads.isEmpty else { return }
        let batch = pendingReads
        pendingReads = []
        for connection in batch where !connection.isClosed {
            connection.readAvailable()
            markTouched(connection)
        }
    }

    private func drainInbox() {
        var counter: UInt64 = 0
        _ = read(wakeFD, &counter, 8)
        wakePending.store(false, ordering: .releasing)
        let work = inbox.withLock { state in
            let taken = state.work
            state.work = []
            return taken
        }
        for item in work { item() }
    }

    /// Flushes and re-arms the deadline of each connection touched in this pass.
    private func finishPass() {
        // Work run during a flush (such as resuming a paused reader) may touch more connections.
        while !touched.isEmpty {
            let batch = touched
            touched = []
            for connection in batch {
                connection.isTouched = false
                guard !connection.isClosed else { continue }
                connection.flush()
                guard !connection.isClosed else { continue }
                schedule(connection)
            }
        }
    }

    /// Queues `connection` for the end-of-pass flush. Loop thread only.
    func markTouched(_ connection: Connection) {
        guard !connection.isTouched else { return }
        connection.isTouched = true
        touched.append(connection)
    }

    private func acceptConnections() {
        while listenFD >= 0 {
            var storage = sockaddr_storage()
            var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
            let fd = withUnsafeMutablePointer(to: &storage) { pointer in
                pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    accept4(listenFD, $0, &length, Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue))
                }
            }
            guard fd >= 0 else {
                switch errno {
                case EAGAIN, EWOULDBLOCK: return
                case EINTR, ECONNABORTED: continue
                case EMFILE, ENFILE, ENOBUFS, ENOMEM:
                    pauseAccepting(error: SocketSupport.lastErrorText())
                    return
                default:
                    context.logger.warning("accept failed", ["loop": "\(index)", "error": SocketSupport.lastErrorText()])
                    return
                }
            }
            let remote = withUnsafeBytes(of: &storage) { SocketSupport.describe(UnsafeRawBufferPointer(rebasing: $0.prefix(Int(length)))) }
            adopt(fd: fd, remoteAddress: remote)
        }
    }

    private func adopt(fd: Int32, remoteAddress: String) {
        let limit = context.configuration.maxConnections
        guard context.openConnectionCount.add(1, ordering: .relaxed).newValue <= limit else {
            context.openConnectionCount.subtract(1, ordering: .relaxed)
            close(fd)
            warnConnectionRejected(remoteAddress: remoteAddress, reason: "max connections reached (--max-connections)")
            return
        }
        let host = SocketSupport.host(of: remoteAddress)
        guard context.reserveConnection(fromHost: host) else {
            context.openConnectionCount.subtract(1, ordering: .relaxed)
            close(fd)
            warnConnectionRejected(
                remoteAddress: remoteAddress, reason: "max connections per address reached (--max-connections-per-address)")
            return
        }
        var one: Int32 = 1
        setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))

        var session: OpaquePointer?
        if let tls = context.tls {
            guard let created = tls.makeSession(fd: fd) else {
                context.openConnectionCount.subtract(1, ordering: .relaxed)
                context.releaseConnection(fromHost: host)
                close(fd)
                context.logger.debug("connection rejected", ["remote": remoteAddress, "reason": "TLS session failed"])
                return
            }
            session = created
        }
        let connection = Connection(
            loop: self, fd: fd, id: context.makeConnectionID(), remoteAddress: remoteAddress, tlsSession: session)
        connections[connection.id] = connection
        register(fd, tag: connection.id, events: EPOLLIN.rawValue | EPOLLOUT.rawValue | EPOLLRDHUP.rawValue | EPOLLET.rawValue)
        markTouched(connection)
    }

    /// Logs a connection refused by a limit at warning, at most once per 10 seconds per loop, with the count of
    /// refusals since the last line, so a flood cannot flood the log.
    private func warnConnectionRejected(remoteAddress: String, reason: String) {
        let now = monotonicNanoseconds()
        guard now &- lastLimitWarningNanoseconds >= 10_000_000_000 else {
            unloggedLimitRejections += 1
            return
        }
        context.logger.warning("connection rejected", [
            "remote": remoteAddress, "reason": reason, "unlogged_rejections": String(unloggedLimitRejections),
        ])
        lastLimitWarningNanoseconds = now
        unloggedLimitRejections = 0
    }

    /// Takes the level-triggered listener out of epoll for 100 ms, so a full descriptor table does not spin the
    /// loop. Pending connections wait in the kernel backlog meanwhile.
    private func pauseAccepting(error: String) {
        guard acceptPausedUntil == nil, listenFD >= 0 else { return }
        epoll_ctl(epollFD, EPOLL_CTL_DEL, listenFD, nil)
        acceptPausedUntil = now + 100_000_000
        if lastAcceptWarningAt.map({ now - $0 > 10_000_000_000 }) ?? true {
            lastAcceptWarningAt = now
            context.logger.warning("accept paused", [
                "loop": "\(index)", "error": error, "connections": "\(connections.count)",
            ])
        }
    }

    private func resumeAcceptingIfDue() {
        guard let until = acceptPausedUntil, now >= until else { return }
        acceptPausedUntil = nil
        guard listenFD >= 0 else { return }
        register(listenFD, tag: Self.listenerTag, events: EPOLLIN.rawValue)
        acceptConnections()
    }

    /// Forgets a closed connection. Loop thread only.
    func remove(_ connection: Connection) {
        connections.removeValue(forKey: connection.id)
        context.openConnectionCount.subtract(1, ordering: .relaxed)
        context.releaseConnection(fromHost: SocketSupport.host(of: connection.remoteAddress))
    }

    private func register(_ fd: Int32, tag: UInt64, events: UInt32) {
        var event = epoll_event()
        event.events = events
        event.data.u64 = tag
        epoll_ctl(epollFD, EPOLL_CTL_ADD, fd, &event)
    }

    // MARK: Deadlines

    /// Files the connection's current deadline. An earlier deadline gets a new heap entry; a later one reuses
    /// the pending entry, which re-files itself when it fires early, so the heap keeps about one entry per
    /// connection.
    func schedule(_ connection: Connection) {
        connection.deadline = connection.computeDeadline()
        guard let deadline = connection.deadline else { return }
        if let scheduled = connection.scheduledDeadline, scheduled <= deadline { return }
        connection.scheduledDeadline = deadline
        timers.push(deadline: deadline, id: connection.id)
    }

    private func fireTimers() {
        while let top = timers.peek(), top.deadline <= now {
            timers.pop()
            guard let connection = connections[top.id], connection.scheduledDeadline == top.deadline else { continue }
            connection.scheduledDeadline = nil
            if let deadline = connection.deadline, deadline <= now {
                connection.handleDeadline()
            }
            markTouched(connection)
        }
    }

    private func nextTimeoutMilliseconds() -> Int32 {
        guard touched.isEmpty && pendingReads.isEmpty else { return 0 }
        var next = timers.peek()?.deadline
        for deadline in [shutdownDeadline, acceptPausedUntil].compactMap({ $0 }) {
            next = min(next ?? deadline, deadline)
        }
        guard let next else { return -1 }
        let current = monotonicNanoseconds()
        guard next > current else { return 0 }
        return Int32(min((next - current + 999_999) / 1_000_000, 60_000))
    }

    // MARK: Stopping

    private func closeListener() {
        guard listenFD >= 0 else { return }
        if acceptPausedUntil == nil {
            epoll_ctl(epollFD, EPOLL_CTL_DEL, listenFD, nil)
        }
        acceptPausedUntil = nil
        close(listenFD)
        listenFD = -1
    }

    private func closeAll(reason: String) {
        for connection in Array(connections.values) {
            connection.closeNow(reason: reason)
        }
    }

    private func stop() {
        closeListener()
        closeAll(reason: "event loop stopped")
        inbox.withLock { state in
            state.open = false
            state.work = []
            close(wakeFD)
        }
        close(epollFD)
    }
}

/// A binary min-heap of (deadline, connection id).
struct DeadlineHeap {
    private var entries: [(deadline: UInt64, id: UInt64)] = []

    var count: Int { entries.count }

    func peek() -> (deadline: UInt64, id: UInt64)? { entries.first }

    mutating func push(deadline: UInt64, id: UInt64) {
        entries.append((deadline, id))
        var child = entries.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            guard entries[child].deadline < entries[parent].deadline else { break }
            entries.swapAt(child, parent)
            child = parent
        }
    }

    mutating func pop() {
        guard !entries.isEmpty else { return }
        entries.swapAt(0, entries.count - 1)
        entries.removeLast()
        var parent = 0
        while true {
            let left = 2 * parent + 1
            let right = left + 1
            var smallest = parent
            if left < entries.count && entries[left].deadline < entries[smallest].deadline { smallest = left }
            if right < entries.count && entries[right].deadline < entries[smallest].deadline { smallest = right }
            guard smallest != parent else { return }
            entries.swapAt(parent, smallest)
            parent = smallest
        }
    }
}
