import RivuletCore
import Synchronization

/// The ordered queue of events for one sink, so that the sink is called outside the engine's locks, in order,
/// and never from two threads at once.
///
/// Events are enqueued while the stream lock is held (lock order: stream state, then outbox) and delivered by
/// `drain()`, which callers invoke after releasing every engine lock. Whichever thread finds the outbox idle
/// delivers everything queued, including what other threads add meanwhile.
final class SinkOutbox: Sendable {
    private enum Event {
        case deliver([Delivery])
        case closed(String)
    }

    private struct State {
        var events: [Event] = []
        var draining = false
        var closed = false
    }

    let sink: any DeliverySink
    // Guards the queued events and whether a thread is delivering them.
    private let state = Mutex(State())

    init(sink: any DeliverySink) {
        self.sink = sink
    }

    func enqueue(_ deliveries: [Delivery]) {
        guard !deliveries.isEmpty else { return }
        state.withLock { state in
            guard !state.closed else { return }
            if case .deliver(let queued)? = state.events.last {
                state.events[state.events.count - 1] = .deliver(queued + deliveries)
            } else {
                state.events.append(.deliver(deliveries))
            }
        }
    }

    /// Queues the final `engineClosed`; nothing after it reaches the sink.
    func enqueueClose(reason: String) {
        state.withLock { state in
            guard !state.closed else { return }
            state.closed = true
            state.events.append(.closed(reason))
        }
    }

    /// Stops further deliveries without telling the sink (the client closed it).
    func detach() {
        state.withLock { state in
            state.closed = true
            state.events.removeAll()
        }
    }

    /// Delivers queued events unless another thread already is; call with no engine lock held.
    func drain() {
        var batch = state.withLock { state -> [Event]? in
            guard !state.draining, !state.events.isEmpty else { return nil }
            state.draining = true
            return takeAll(&state)
        }
        while let events = batch {
            for event in events {
                switch event {
                case .deliver(let deliveries): sink.deliver(deliveries)
                case .closed(let reason): sink.engineClosed(reason: reason)
                }
            }
            batch = state.withLock { state -> [Event]? in
                guard !state.events.isEmpty else {
                    state.draining = false
                    return nil
                }
                return takeAll(&state)
            }
        }
    }

    private func takeAll(_ state: inout State) -> [Event] {
        let events = state.events
        state.events.removeAll()
        return events
    }
}
