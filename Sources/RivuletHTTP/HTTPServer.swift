import Dispatch
import Foundation
import RivuletCore
import Synchronization

/// An HTTP/1.1 and WebSocket server: one epoll loop per thread, each with its own `SO_REUSEPORT` listener.
///
/// Lifecycle: `init` (loads TLS files), `start()` (binds and starts the loop threads), `shutdown()` (stops
/// accepting, finishes responses, closes WebSockets with 1001 and joins the threads). All methods are
/// thread-safe; `shutdown()` must not be called from a loop thread, because it waits for those threads.
public final class HTTPServer: Sendable {
    private enum State {
        case idle
        case running(loops: [EventLoop], finished: [DispatchSemaphore], port: Int)
        case stopped(port: Int)
    }

    public let configuration: HTTPServerConfiguration
    private let context: ServerContext
    /// Lifecycle state; guards against double start and makes `shutdown()` idempotent.
    private let state = Mutex<State>(.idle)

    /// Creates a server; with `configuration.tls` set, loads the certificate and key now.
    /// Throws `HTTPServerError` naming the TLS file that is missing or invalid.
    public init(configuration: HTTPServerConfiguration, service: any HTTPService, logger: Logger) throws {
        self.configuration = configuration
        let tls = try configuration.tls.map { configuration throws(HTTPServerError) in try TLSContext(configuration) }
        context = ServerContext(configuration: configuration, service: service, logger: logger, tls: tls)
    }

    /// The port the listeners are bound to after `start()` (the kernel's pick when the configured port is 0);
    /// 0 before.
    public var boundPort: Int {
        state.withLock { state in
            switch state {
            case .idle: 0
            case .running(_, _, let port), .stopped(let port): port
            }
        }
    }

    /// Binds one listener per loop and starts the loop threads. Throws `HTTPServerError` naming `host:port`
    /// when the address cannot be resolved or bound (for example, when it is in use).
    public func start() throws {
        try state.withLock { state throws(HTTPServerError) in
            guard case .idle = state else { throw HTTPServerError("server already started or shut down: create a new HTTPServer") }
            // A peer that resets mid-write would otherwise kill the process with SIGPIPE from inside SSL_write.
            signal(SIGPIPE, SIG_IGN)
            let listeners = try bindListeners()
            var loops: [EventLoop] = []
            do throws(HTTPServerError) {
                for (index, fd) in listeners.fds.enumerated() {
                    loops.append(try EventLoop(context: context, index: index, listenFD: fd))
                }
            } catch {
                for fd in listeners.fds.dropFirst(loops.count) { Glibc.close(fd) }
                throw error
            }
            let finished = loops.map { startThread(for: $0) }
            state = .running(loops: loops, finished: finished, port: listeners.port)
            context.logger.info("listening", [
                "host": configuration.host, "port": "\(listeners.port)", "tls": "\(configuration.tls != nil)",
                "loops": "\(loops.count)",
            ])
        }
    }

    /// Stops accepting, lets in-flight requests finish and close handshakes run (bounded by
    /// `closeHandshakeTimeout`), then joins the loop threads. Calling it again, or before `start()`, does nothing.
    public func shutdown() {
        let running = state.withLock { state -> (loops: [EventLoop], finished: [DispatchSemaphore])? in
            guard case .running(let loops, let finished, let port) = state else {
                if case .idle = state { state = .stopped(port: 0) }
                return nil
            }
            state = .stopped(port: port)
            return (loops, finished)
        }
        guard let running else { return }
        for loop in running.loops {
            loop.execute { loop.beginShutdown() }
        }
        guard !running.loops.contains(where: { $0.isInLoop }) else {
            context.logger.warning("shutdown called on an event-loop thread; not waiting for the loops")
            return
        }
        for semaphore in running.finished { semaphore.wait() }
        context.logger.info("stopped", ["host": configuration.host])
    }

    deinit {
        shutdown()
    }

    private func bindListeners() throws(HTTPServerError) -> (fds: [Int32], port: Int) {
        let host = configuration.host
        guard (0...65535).contains(configuration.port) else {
            throw HTTPServerError("invalid port \(configuration.port): use 0 to 65535")
        }
        let display = host.contains(":") ? "[\(host)]:\(configuration.port)" : "\(host):\(configuration.port)"
        let addresses = try SocketSupport.resolve(host: host, port: configuration.port)

        var lastError = HTTPServerError("cannot listen on \(display)")
        for address in addresses {
            do throws(HTTPServerError) {
                if configuration.port != 0 {
                    try SocketSupport.checkAddressFree(address: address, display: display)
                }
                let first = try SocketSupport.makeListener(address: address, display: display)
                let port = SocketSupport.port(of: SocketSupport.localAddress(of: first))
                var fds = [first]
                do throws(HTTPServerError) {
                    for _ in 1..<configuration.loopCount {
                        fds.append(try SocketSupport.makeListener(address: SocketSupport.withPort(address, port), display: display))
                    }
                } catch {
                    for fd in fds { Glibc.close(fd) }
                    throw error
                }
                return (fds, port)
            } catch {
                lastError = error
            }
        }
        throw lastError
    }

    private func startThread(for loop: EventLoop) -> DispatchSemaphore {
        let finished = DispatchSemaphore(value: 0)
        let thread = Thread {
            loop.runLoop()
            finished.signal()
        }
        thread.name = "rivulet-loop-\(loop.index)"
        thread.stackSize = 4 * 1024 * 1024
        thread.start()
        return finished
    }
}
