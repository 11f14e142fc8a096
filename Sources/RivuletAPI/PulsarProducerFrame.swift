import RivuletCore

/// A decoded publish frame: what to hand the engine, and the client's `context` to echo in the ack.
struct PulsarPublishFrame {
    var request: PublishRequest
    var context: String?
}

/// Why a publish frame was rejected; each case maps to one Pulsar `send-error:N` result.
enum PulsarPublishFrameError: Error, Equatable {
    /// The frame is not a JSON object of the publish shape (`send-error:3`); the context cannot be known.
    case malformed(String)
    /// The frame parsed but a field is unusable (`send-error:7`): missing or invalid payload, bad eventTime.
    case invalidField(String, context: String?)
}

extension PulsarPublishFrame {
    /// Decodes a producer text frame. `nowMillis` turns `deliverAfterMs` into an absolute delivery time.
    ///
    /// Fields follow Pulsar's `ProducerMessage`: scalars are coerced to strings where a string is expected,
    /// unknown members (`replicationClusters`, `sequenceId`, ...) are skipped whatever their type, and when a
    /// member repeats the last one wins.
    static func decode(_ text: [UInt8], nowMillis: Int64) -> Result<PulsarPublishFrame, PulsarPublishFrameError> {
        var fields = RawFields()
        do {
            try fields.scan(text)
        } catch {
            return .failure(.malformed("invalid JSON at byte \(error.offset): \(error.message)"))
        }
        return fields.makeFrame(nowMillis: nowMillis)
    }
}

/// The members of a publish frame as read, before validation. Validation waits for the whole frame, so a
/// `send-error:7` can carry a context that comes after the payload.
private struct RawFields {
    var payload: [UInt8]?
    var properties: [(String, String)] = []
    var context: String?
    var key: String?
    var eventTime: [UInt8]?
    var deliverAt: Int64 = 0
    var deliverAfterMs: Int64 = 0

    mutating func scan(_ text: [UInt8]) throws(PulsarJSONError) {
        var scanner = PulsarJSONScanner(text)
        guard scanner.atObjectStart() else {
            throw PulsarJSONError(message: "a publish frame must be a JSON object", offset: 0)
        }
        try scanner.beginObject()
        var first = true
        while let name = try scanner.nextMemberKey(first: &first) {
            if name.equalsASCII("payload") {
                payload = try Self.stringField(&scanner, "'payload' must be a string")
            } else if name.equalsASCII("properties") {
                properties = try Self.readProperties(&scanner)
            } else if name.equalsASCII("context") {
                context = try Self.stringField(&scanner, "'context' must be a string").map { String(decoding: $0, as: UTF8.self) }
            } else if name.equalsASCII("key") {
                key = try Self.stringField(&scanner, "'key' must be a string").map { String(decoding: $0, as: UTF8.self) }
            } else if name.equalsASCII("eventTime") {
                eventTime = try Self.stringField(&scanner, "'eventTime' must be a string")
            } else if name.equalsASCII("deliverAt") {
                deliverAt = try Self.longField(&scanner, "deliverAt")
            } else if name.equalsASCII("deliverAfterMs") {
                deliverAfterMs = try Self.longField(&scanner, "deliverAfterMs")
            } else {
                try scanner.skipValue()
            }
        }
        try scanner.expectEnd()
    }

    func makeFrame(nowMillis: Int64) -> Result<PulsarPublishFrame, PulsarPublishFrameError> {
        guard let payload else {
            return .failure(.invalidField("payload is missing: send it as standard base64", context: context))
        }
        guard let bytes = Base64.decodeArray(payload) else {
            return .failure(.invalidField("payload is not valid standard base64", context: context))
        }
        var eventMillis: Int64 = 0
        if let eventTime {
            guard let parsed = PulsarTimestamp.parse(eventTime) else {
                let shown = String(decoding: eventTime.prefix(64), as: UTF8.self)
                return .failure(.invalidField(
                    "eventTime '\(shown)' is invalid: use ISO-8601 with an offset, e.g. 2024-05-01T10:00:00.123Z",
                    context: context))
            }
            eventMillis = parsed
        }
        var deliverAtMillis: Int64 = deliverAt > 0 ? deliverAt : 0
        if deliverAfterMs > 0 {
            deliverAtMillis = nowMillis.addingReportingOverflow(deliverAfterMs).overflow ? Int64.max : nowMillis + deliverAfterMs
        }
        let request = PublishRequest(
            payload: bytes, key: key, properties: properties, eventTime: eventMillis, deliverAt: deliverAtMillis)
        return .success(PulsarPublishFrame(request: request, context: context))
    }

    /// Reads a string member. Numbers and booleans are taken as their text, null as absent, and a container is an error.
    static func stringField(
        _ scanner: inout PulsarJSONScanner, _ message: @autoclosure () -> String
    ) throws(PulsarJSONError) -> [UInt8]? {
        let start = scanner.index
        guard let scalar = try scanner.readScalarOrSkip() else {
            throw PulsarJSONError(message: message(), offset: start)
        }
        return scalar.coercedText
    }

    /// Reads a long member: an integer, or a string containing one, as Jackson coerces both. Null reads as 0.
    static func longField(_ scanner: inout PulsarJSONScanner, _ name: String) throws(PulsarJSONError) -> Int64 {
        let start = scanner.index
        let invalid = PulsarJSONError(message: "'\(name)' must be an integer number of milliseconds", offset: start)
        guard let scalar = try scanner.readScalarOrSkip() else { throw invalid }
        switch scalar {
        case .null:
            return 0
        case .number(let text), .string(let text):
            let string = String(decoding: text, as: UTF8.self)
            if let value = Int64(string) { return value }
            // Jackson accepts a fractional number for a long and truncates it.
            if case .number = scalar, let value = Double(string), value.isFinite, abs(value) < 9.2e18 {
                return Int64(value)
            }
            throw invalid
        case .bool:
            throw invalid
        }
    }

    /// Reads the `properties` object, coercing values to strings and dropping null values.
    static func readProperties(_ scanner: inout PulsarJSONScanner) throws(PulsarJSONError) -> [(String, String)] {
        let start = scanner.index
        guard scanner.atObjectStart() else {
            if try scanner.readScalarOrSkip() == .null { return [] }
            throw PulsarJSONError(message: "'properties' must be an object of strings", offset: start)
        }
        try scanner.beginObject()
        var result: [(String, String)] = []
        var first = true
        while let nameBytes = try scanner.nextMemberKey(first: &first) {
            let name = String(decoding: nameBytes, as: UTF8.self)
            guard let value = try stringField(&scanner, "'properties.\(name)' must be a string") else { continue }
            let text = String(decoding: value, as: UTF8.self)
            if let existing = result.firstIndex(where: { $0.0 == name }) {
                result[existing].1 = text
            } else {
                result.append((name, text))
            }
        }
        return result
    }
}

/// The frames a producer socket receives back.
enum PulsarProducerAck {
    /// `{"result":"ok","messageId":...,"context":...,"errorCode":0,"schemaVersion":0}`; context only when the
    /// frame had one. The two trailing zeros are what Pulsar 2.7 and later write in every ack.
    static func ok(messageId: MessageID, context: String?) -> [UInt8] {
        var writer = PulsarJSONWriter()
        writer.addString("result", "ok")
        writer.addMessageID("messageId", messageId)
        if let context { writer.addString("context", context) }
        writer.addInteger("errorCode", 0)
        writer.addInteger("schemaVersion", 0)
        return writer.finish()
    }

    /// `{"result":"send-error:N","errorMsg":...,"context":...,"errorCode":0,"schemaVersion":0}`.
    static func failure(code: Int, message: String, context: String?) -> [UInt8] {
        var writer = PulsarJSONWriter()
        writer.addString("result", "send-error:\(code)")
        writer.addString("errorMsg", message)
        if let context { writer.addString("context", context) }
        writer.addInteger("errorCode", 0)
        writer.addInteger("schemaVersion", 0)
        return writer.finish()
    }

    /// Builds the ack for a rejected frame.
    static func failure(_ error: PulsarPublishFrameError) -> [UInt8] {
        switch error {
        case .malformed(let message):
            failure(code: PulsarErrorCode.failedToDeserializeFromJSON.rawValue, message: message, context: nil)
        case .invalidField(let message, let context):
            failure(code: PulsarErrorCode.payloadEncodingError.rawValue, message: message, context: context)
        }
    }
}
