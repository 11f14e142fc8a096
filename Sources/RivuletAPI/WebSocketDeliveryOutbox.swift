import RivuletCore
import RivuletHTTP
import Synchronization

/// Sends deliveries to one consumer or reader socket, holding them until the socket is open.
///
/// The engine may deliver as soon as the consumer is attached, which happens before the upgrade response is
/// written, so frames that arrive before `attach` are buffered and flushed in order. The buffer is bounded by
/// the consumer's receive window, because nothing is acknowledged before the socket opens.
final class WebSocketDeliveryOutbox: Sendable {
    private struct State {
        var connection: (any WebSocketConnection)?
        var pending: [[UInt8]] = []
        /// A close the engine asked for before the socket opened.
        var pendingClose: (code: UInt16, reason: String)?
        var detached = false
    }

    /// Guards the connection, the frames waiting for it and the close waiting for it.
    private let state = Mutex(State())
    /// Shared with other sockets so fanned-out messages are encoded once; nil encodes every delivery.
    private let frameCache: DeliveryFrameCache?

    init(frameCache: DeliveryFrameCache? = nil) {
        self.frameCache = frameCache
    }

    /// Queues frames; sends them at once when the socket is open. Called from engine threads, one call at a time.
    func send(_ frames: [[UInt8]]) {
        let connection: (any WebSocketConnection)? = state.withLock { state in
            guard !state.detached else { return nil }
            guard let connection = state.connection else {
                state.pending.append(contentsOf: frames)
                return nil
            }
            return connection
        }
        guard let connection else { return }
        connection.sendTexts(frames)
    }

    func send(_ deliveries: [Delivery]) {
        send(frameCache?.frames(for: deliveries) ?? deliveries.map(PulsarDeliveryFrame.encode))
    }

    /// Closes the socket now, or right after the buffered frames once it opens.
    func close(code: UInt16, reason: String) {
        let connection: (any WebSocketConnection)? = state.withLock { state in
            guard !state.detached else { return nil }
            guard let connection = state.connection else {
                state.pendingClose = (code, reason)
                return nil
            }
            return connection
        }
        connection?.close(code: code, reason: truncatedCloseReason(reason))
    }

    /// Flushes buffered frames in order, then sends new frames directly.
    func attach(_ connection: any WebSocketConnection) {
        // Frames are sent outside the lock; new frames keep going to the buffer until it is found empty,
        // so nothing overtakes what was buffered earlier.
        while true {
            enum Step {
                case flush([[UInt8]])
                case done((code: UInt16, reason: String)?)
            }
            let step: Step = state.withLock { state in
                if state.pending.isEmpty {
                    state.connection = connection
                    return .done(state.pendingClose)
                }
                let frames = state.pending
                state.pending = []
                return .flush(frames)
            }
            switch step {
            case .flush(let frames):
                connection.sendTexts(frames)
            case .done(let close):
                if let close { connection.close(code: close.code, reason: truncatedCloseReason(close.reason)) }
                return
            }
        }
    }

    /// Drops the connection and everything still buffered; later frames are discarded.
    func detach() {
        state.withLock { state in
            state.detached = true
            state.connection = nil
            state.pending = []
        }
    }
}
