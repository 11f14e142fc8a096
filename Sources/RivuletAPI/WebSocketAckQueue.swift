import RivuletHTTP
import Synchronization

/// Sends producer acks in the order their frames arrived, whatever order the engine completes them in.
///
/// Each frame takes a ticket on the connection's thread, and completions fill tickets from any thread.
/// The first thread to find no drain running sends every ack that is ready in ticket order, outside the lock.
/// So a slow `sendText` never blocks a completion, and two threads never send out of order.
final class WebSocketAckQueue: Sendable {
    private struct State {
        var connection: (any WebSocketConnection)?
        var nextTicket: UInt64 = 0
        var nextToSend: UInt64 = 0
        var ready: [UInt64: [UInt8]] = [:]
        var draining = false
    }

    /// Guards the tickets, the finished acks waiting for earlier ones, and the drain flag.
    private let state = Mutex(State())

    func attach(_ connection: any WebSocketConnection) {
        state.withLock { $0.connection = connection }
    }

    /// Drops the connection; acks that complete later are discarded, as Pulsar drops them.
    func detach() {
        state.withLock { state in
            state.connection = nil
            state.ready = [:]
        }
    }

    /// Reserves the next position in the ack order.
    func takeTicket() -> UInt64 {
        state.withLock { state in
            defer { state.nextTicket += 1 }
            return state.nextTicket
        }
    }

    /// Reserves `count` consecutive positions in the ack order and returns the first.
    func takeTickets(_ count: Int) -> UInt64 {
        state.withLock { state in
            defer { state.nextTicket += UInt64(count) }
            return state.nextTicket
        }
    }

    /// Records the ack for `ticket` and sends every ack that is now in order. Callable from any thread.
    func complete(_ ticket: UInt64, frame: [UInt8]) {
        complete(firstTicket: ticket, frames: [frame])
    }

    /// Records the acks of the consecutive tickets from `firstTicket` and sends every ack that is now in order.
    /// Callable from any thread.
    func complete(firstTicket: UInt64, frames: [[UInt8]]) {
        guard !frames.isEmpty else { return }
        let start: (any WebSocketConnection, [[UInt8]])? = state.withLock { state in
            guard let connection = state.connection else { return nil }
            if firstTicket == state.nextToSend, !state.draining {
                // These are next in line and no drain is running, so send them without parking them in `ready`.
                state.nextToSend += UInt64(frames.count)
                state.draining = true
                return (connection, frames)
            }
            for (offset, frame) in frames.enumerated() { state.ready[firstTicket + UInt64(offset)] = frame }
            guard !state.draining else { return nil }
            state.draining = true
            return (connection, [])
        }
        guard let (connection, inOrder) = start else { return }
        if !inOrder.isEmpty { connection.sendTexts(inOrder) }
        while true {
            let batch: (any WebSocketConnection, [[UInt8]])? = state.withLock { state in
                var frames: [[UInt8]] = []
                while !state.ready.isEmpty, let frame = state.ready.removeValue(forKey: state.nextToSend) {
                    frames.append(frame)
                    state.nextToSend += 1
                }
                guard let connection = state.connection, !frames.isEmpty else {
                    state.draining = false
                    return nil
                }
                return (connection, frames)
            }
            guard let (connection, frames) = batch else { return }
            connection.sendTexts(frames)
        }
    }
}
