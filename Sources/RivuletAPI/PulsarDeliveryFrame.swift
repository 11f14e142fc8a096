import RivuletCore

/// Frames the server sends on consumer and reader sockets.
enum PulsarDeliveryFrame {
    /// Encodes one message in Jackson's key order: messageId, payload, properties (always present),
    /// publishTime, redeliveryCount, then eventTime when non-zero and key when set.
    static func encode(_ delivery: Delivery) -> [UInt8] {
        let message = delivery.message
        var writer = PulsarJSONWriter(capacity: message.payload.count * 4 / 3 + 160)
        writer.addMessageID("messageId", message.id)
        writer.addBase64("payload", message.payload)
        writer.addStringMap("properties", message.properties)
        writer.addTimestamp("publishTime", epochMillis: message.publishTime)
        writer.addInteger("redeliveryCount", delivery.redeliveryCount)
        if message.eventTime != 0 {
            writer.addTimestamp("eventTime", epochMillis: message.eventTime)
        }
        if let key = message.key {
            writer.addString("key", key)
        }
        return writer.finish()
    }

    /// `{"endOfTopic":false}`: streams are never terminated, so the end is never reached.
    static func endOfTopic(_ reached: Bool) -> [UInt8] {
        var writer = PulsarJSONWriter(capacity: 24)
        writer.addBool("endOfTopic", reached)
        return writer.finish()
    }

    /// `{"result":"error","errorMsg":...,"messageId":...}`: a consumer command the engine rejected.
    /// Pulsar has no such frame (it has no cumulative ack); the shape mirrors the producer's failure ack.
    static func commandError(message: String, messageId: String?) -> [UInt8] {
        var writer = PulsarJSONWriter()
        writer.addString("result", "error")
        writer.addString("errorMsg", message)
        if let messageId { writer.addString("messageId", messageId) }
        return writer.finish()
    }
}
