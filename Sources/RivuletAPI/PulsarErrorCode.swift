/// Pulsar's `WebSocketError` codes. They appear as `send-error:N` in producer acks and, shifted to 4000 + N,
/// as close codes, because RFC 6455 forbids the bare codes below 1000 that Pulsar itself sends.
enum PulsarErrorCode: Int, CaseIterable {
    case failedToCreateProducer = 1
    case failedToSubscribe = 2
    case failedToDeserializeFromJSON = 3
    case failedToSerializeToJSON = 4
    case authenticationError = 5
    case notAuthorizedError = 6
    case payloadEncodingError = 7
    case unknownError = 8

    /// Pulsar's description of the code, sent as the close reason.
    var description: String {
        switch self {
        case .failedToCreateProducer: "Failed to create producer"
        case .failedToSubscribe: "Failed to subscribe"
        case .failedToDeserializeFromJSON: "Failed to de-serialize from JSON"
        case .failedToSerializeToJSON: "Failed to serialize to JSON"
        case .authenticationError: "Failed to authenticate"
        case .notAuthorizedError: "Not authorized"
        case .payloadEncodingError: "Failed to encode or decode the payload"
        case .unknownError: "Unknown error"
        }
    }

    /// The WebSocket close code: 4000 + N.
    var closeCode: UInt16 { UInt16(4000 + rawValue) }
}

/// Close reasons must fit in 123 bytes of UTF-8; this cuts at a character boundary.
func truncatedCloseReason(_ reason: String) -> String {
    guard reason.utf8.count > 123 else { return reason }
    var result = ""
    for character in reason {
        guard result.utf8.count + character.utf8.count <= 123 else { break }
        result.append(character)
    }
    return result
}
