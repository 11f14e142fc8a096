/// One client frame on a consumer or reader socket, as Pulsar's consumer handler dispatches it.
enum PulsarConsumerCommand: Equatable {
    /// `{"messageId":...}`; any type other than the known ones, or none, is an individual ack.
    case acknowledge(messageId: String)
    /// `{"messageId":...,"ackType":"cumulative"}`.
    case acknowledgeCumulative(messageId: String)
    case negativeAcknowledge(messageId: String)
    /// `{"type":"permit","permitMessages":N}`.
    case permit(count: Int)
    case unsubscribe
    case isEndOfTopic
    /// A frame that carries no usable command (the old SDKs' `"noop"` keep-alive, a missing messageId);
    /// the text gives the reason for the debug log.
    case ignored(String)

    /// Decodes a text frame. It returns `.ignored` instead of failing, so a bad frame cannot close the socket.
    static func decode(_ text: [UInt8]) -> PulsarConsumerCommand {
        var fields = CommandFields()
        do {
            try fields.scan(text)
        } catch {
            return .ignored("not a JSON object: \(error.message)")
        }
        return fields.command
    }
}

private struct CommandFields {
    var type: String?
    var messageId: String?
    var ackType: String?
    var permitMessages: PulsarJSONScalar?

    mutating func scan(_ text: [UInt8]) throws(PulsarJSONError) {
        var scanner = PulsarJSONScanner(text)
        guard scanner.atObjectStart() else { throw PulsarJSONError(message: "expected an object", offset: 0) }
        try scanner.beginObject()
        var first = true
        while let name = try scanner.nextMemberKey(first: &first) {
            if name.equalsASCII("type") {
                type = try Self.text(&scanner)
            } else if name.equalsASCII("messageId") {
                messageId = try Self.text(&scanner)
            } else if name.equalsASCII("ackType") {
                ackType = try Self.text(&scanner)
            } else if name.equalsASCII("permitMessages") {
                permitMessages = try scanner.readScalarOrSkip()
            } else {
                try scanner.skipValue()
            }
        }
        try scanner.expectEnd()
    }

    var command: PulsarConsumerCommand {
        switch type {
        case "permit":
            guard let text = permitMessages?.coercedText, let count = Int(String(decoding: text, as: UTF8.self)), count > 0 else {
                return .ignored("permit without a positive integer permitMessages")
            }
            return .permit(count: count)
        case "unsubscribe":
            return .unsubscribe
        case "isEndOfTopic":
            return .isEndOfTopic
        case "negativeAcknowledge":
            guard let messageId else { return .ignored("negativeAcknowledge without messageId") }
            return .negativeAcknowledge(messageId: messageId)
        default:
            guard let messageId else { return .ignored("frame without messageId") }
            if ackType?.lowercased() == "cumulative" { return .acknowledgeCumulative(messageId: messageId) }
            return .acknowledge(messageId: messageId)
        }
    }

    private static func text(_ scanner: inout PulsarJSONScanner) throws(PulsarJSONError) -> String? {
        try scanner.readScalarOrSkip()?.coercedText.map { String(decoding: $0, as: UTF8.self) }
    }
}
