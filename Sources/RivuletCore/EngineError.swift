/// Failures the stream engine reports to the API layer, which maps each to an HTTP status and an `errorNum`.
public enum EngineError: Error, Sendable, Equatable {
    case streamNotFound(String)
    case streamExists(String)
    case subscriptionNotFound(String)
    /// A subscription or stream still has connected consumers or producers (HTTP 412).
    case subscriptionHasConsumers(String)
    case streamHasClients(String)
    /// Exclusive subscription taken, or the requested type differs from the live subscription's (HTTP 409).
    case consumerBusy(String)
    /// A producer with the same name is connected to the stream (HTTP 409).
    case producerBusy(String)
    case invalidArgument(String)
    /// Cumulative acks on Shared or Key_Shared subscriptions.
    case notAllowed(String)
    case payloadTooLarge(String)
    /// The engine is closing or its storage failed; acknowledged data is safe, new work is refused.
    case unavailable(String)
    case storageFailure(String)

    /// The human-readable message, naming the value involved.
    public var message: String {
        switch self {
        case .streamNotFound(let text), .streamExists(let text), .subscriptionNotFound(let text),
            .subscriptionHasConsumers(let text), .streamHasClients(let text), .consumerBusy(let text),
            .producerBusy(let text), .invalidArgument(let text), .notAllowed(let text),
            .payloadTooLarge(let text), .unavailable(let text), .storageFailure(let text):
            text
        }
    }
}
