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

    /// Records the ack for `ticket` and sends every ack that is now in order. Callable from any thread.
    func complete(_ ticket: UInt64, frame: [UInt8]) {
        let mayDrain = state.withLock { state -> Bool in
            guard state.connection != nil else { return false }
            state.ready[ticket] = frame
            guard !state.draining else { return false }
            state.draining = true
            return true
        }
        guard mayDrain else { return }
        while true {
            let batch: (any WebSocketConnection, [[UInt8]])? = state.withLock { state in
                var frames: [[UInt8]] = []
                while let frame = state.ready.removeValue(forKey: state.nextToSend) {
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
