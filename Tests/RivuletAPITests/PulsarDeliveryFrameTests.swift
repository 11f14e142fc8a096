import RivuletCore
import Testing

@testable import RivuletAPI

@Suite struct PulsarDeliveryFrameTests {
    private func text(_ delivery: Delivery) -> String {
        String(decoding: PulsarDeliveryFrame.encode(delivery), as: UTF8.self)
    }

    @Test func minimalDeliveryExactBytes() {
        let delivery = Delivery(
            message: StoredMessage(id: MessageID(streamId: 0, sequence: 3), publishTime: 1_635_548_498_967, payload: Array("hi".utf8)),
            redeliveryCount: 0)
        #expect(text(delivery)
                == #"{"messageId":"CAAQAw==","payload":"aGk=","properties":{},"publishTime":"2021-10-29T23:01:38.967Z","redeliveryCount":0}"#)
    }

    @Test func fullDeliveryExactBytes() {
        let message = StoredMessage(
            id: MessageID(streamId: 3, sequence: 0), publishTime: 1_714_557_600_840, eventTime: 1_714_557_600_000,
            key: "k\"1", properties: [("b", "2"), ("a", "line\nbreak\u{01}")], payload: [0xFF, 0x00])
        let expected = #"{"messageId":"CAMQAA==","payload":"/wA=","properties":{"b":"2","a":"line\nbreak\u0001"},"#
            + #""publishTime":"2024-05-01T10:00:00.84Z","redeliveryCount":2,"eventTime":"2024-05-01T10:00:00Z","key":"k\"1"}"#
        #expect(text(Delivery(message: message, redeliveryCount: 2)) == expected)
    }

    @Test func messageIdIsTheEngineEncoding() {
        let id = MessageID(streamId: 1 << 40, sequence: 987_654_321)
        let delivery = Delivery(message: StoredMessage(id: id, publishTime: 0, payload: []), redeliveryCount: 0)
        #expect(text(delivery).hasPrefix(#"{"messageId":"\#(id.encoded)","payload":"","#))
    }

    @Test func nonASCIIAndSlashAreNotEscaped() {
        let message = StoredMessage(id: MessageID(streamId: 0, sequence: 1), publishTime: 0, key: "a/é😀", payload: [])
        #expect(text(Delivery(message: message, redeliveryCount: 0)).hasSuffix(#","key":"a/é😀"}"#))
    }

    @Test func endOfTopicIsBoolean() {
        #expect(String(decoding: PulsarDeliveryFrame.endOfTopic(false), as: UTF8.self) == #"{"endOfTopic":false}"#)
    }
}

@Suite struct PulsarTimestampTests {
    @Test(arguments: [
        (Int64(0), "1970-01-01T00:00:00Z"),
        (Int64(1_635_548_498_967), "2021-10-29T23:01:38.967Z"),
        (Int64(1_714_557_600_840), "2024-05-01T10:00:00.84Z"),
        (Int64(1_714_557_600_800), "2024-05-01T10:00:00.8Z"),
        (Int64(1_709_164_800_001), "2024-02-29T00:00:00.001Z"),
        (Int64(-1), "1969-12-31T23:59:59.999Z"),
        (Int64(253_402_300_799_000), "9999-12-31T23:59:59Z"),
    ])
    func formatsUTC(_ millis: Int64, _ expected: String) {
        #expect(PulsarTimestamp.format(epochMillis: millis) == expected)
    }

    @Test(arguments: [
        ("2024-05-01T10:00:00.123Z", Int64(1_714_557_600_123)),
        ("2024-05-01t10:00:00.1z", Int64(1_714_557_600_100)),
        ("2024-05-01T10:00:00.123456789Z", Int64(1_714_557_600_123)),
        ("2024-05-01T12:00:00+02:00", Int64(1_714_557_600_000)),
        ("2024-05-01T05:30:00-04:30", Int64(1_714_557_600_000)),
        ("2024-05-01T10:00+00:00:30", Int64(1_714_557_570_000)),
        ("2024-02-29T00:00:00Z", Int64(1_709_164_800_000)),
        ("1969-12-31T23:59:59.999Z", Int64(-1)),
    ])
    func parsesOffsetDateTime(_ text: String, _ expected: Int64) {
        #expect(PulsarTimestamp.parse(Array(text.utf8)) == expected)
    }

    @Test(arguments: [
        "2024-05-01T10:00:00", "2024-05-01 10:00:00Z", "2023-02-29T00:00:00Z", "2024-13-01T00:00:00Z",
        "2024-05-01T24:00:00Z", "2024-05-01T10:00:60Z", "2024-05-01T10:00:00.Z", "2024-05-01T10:00:00.1234567890Z",
        "2024-05-01T10:00:00+19:00", "2024-05-01T10:00:00+0200", "2024-5-01T10:00:00Z", "2024-05-01", "",
        "2024-05-01T10:00:00Z ",
    ])
    func rejectsInvalidText(_ text: String) {
        #expect(PulsarTimestamp.parse(Array(text.utf8)) == nil)
    }

    @Test func roundTripsEveryDayOfFourYears() {
        var millis: Int64 = 1_577_836_800_000
        for _ in 0..<(366 * 4) {
            let text = PulsarTimestamp.format(epochMillis: millis)
            #expect(PulsarTimestamp.parse(Array(text.utf8)) == millis)
            millis += 86_400_000 + 1_234
        }
    }
}
