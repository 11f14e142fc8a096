import RivuletCore
import Testing

@testable import RivuletAPI

@Suite struct PulsarProducerFrameTests {
    static let now: Int64 = 1_700_000_000_000

    private func decode(_ text: String) -> Result<PulsarPublishFrame, PulsarPublishFrameError> {
        PulsarPublishFrame.decode(Array(text.utf8), nowMillis: Self.now)
    }

    private func frame(_ text: String) throws -> PulsarPublishFrame {
        try decode(text).get()
    }

    @Test func minimalFrame() throws {
        let frame = try frame(#"{"payload":"SGVsbG8="}"#)
        #expect(frame.request.payload == Array("Hello".utf8))
        #expect(frame.context == nil)
        #expect(frame.request.key == nil)
        #expect(frame.request.properties.isEmpty)
        #expect(frame.request.eventTime == 0)
        #expect(frame.request.deliverAt == 0)
    }

    @Test func allFieldsWithWhitespaceAndUnknowns() throws {
        let text = """
             {
               "replicationClusters" : ["c1", {"deep": [1, 2, {"x": null}]}],
               "payload" : "aGk=",
               "properties" : {"k" : "v", "n" : 5, "f" : 1.50, "b" : true, "z" : null},
               "context" : "7",
               "sequenceId": 12, "extra": {"a": [[[]]], "b": "}"},
               "key" : "order-42",
               "eventTime" : "2024-05-01T10:00:00.123Z",
               "deliverAt" : 1714557600000
             }\t\n
            """
        let frame = try frame(text)
        #expect(frame.request.payload == Array("hi".utf8))
        #expect(frame.request.properties.map { $0.0 } == ["k", "n", "f", "b"])
        #expect(frame.request.properties.map { $0.1 } == ["v", "5", "1.50", "true"])
        #expect(frame.context == "7")
        #expect(frame.request.key == "order-42")
        #expect(frame.request.eventTime == 1_714_557_600_123)
        #expect(frame.request.deliverAt == 1_714_557_600_000)
    }

    @Test func scalarContextIsCoercedToString() throws {
        #expect(try frame(#"{"payload":"","context":5}"#).context == "5")
        #expect(try frame(#"{"payload":"","context":true}"#).context == "true")
        #expect(try frame(#"{"payload":"","context":null}"#).context == nil)
    }

    @Test func emptyPayloadPublishesEmptyMessage() throws {
        #expect(try frame(#"{"payload":""}"#).request.payload.isEmpty)
    }

    @Test func noopKeepAliveIsAnOrdinaryMessage() throws {
        let payload = try frame(#"{"payload":"noop"}"#).request.payload
        #expect(payload == [0x9E, 0x8A, 0x29])
        #expect(Base64.encode(payload) == "noop")
    }

    @Test func escapesInStringsAreDecoded() throws {
        let text = #"{"payload":"a\/b+","context":"q\"\\\/\b\f\n\r\t\u0041\u00e9\u20ac\ud83d\ude00","key":"caf\u00E9"}"#
        let frame = try frame(text)
        #expect(frame.request.payload == Base64.decode("a/b+"))
        #expect(frame.context == "q\"\\/\u{08}\u{0C}\n\r\tAé€😀")
        #expect(frame.request.key == "café")
    }

    @Test func rawUnicodePassesThrough() throws {
        let frame = try frame(#"{"payload":"","properties":{"名前":"値 😀"},"key":"ключ"}"#)
        #expect(frame.request.properties.first?.0 == "名前")
        #expect(frame.request.properties.first?.1 == "値 😀")
        #expect(frame.request.key == "ключ")
    }

    @Test func loneSurrogateBecomesReplacementCharacter() throws {
        #expect(try frame(#"{"payload":"","context":"a\ud800b"}"#).context == "a\u{FFFD}b")
        #expect(try frame(#"{"payload":"","context":"\udc00"}"#).context == "\u{FFFD}")
        #expect(try frame(#"{"payload":"","context":"\ud800\u0041"}"#).context == "\u{FFFD}A")
    }

    @Test func repeatedMembersKeepTheLast() throws {
        let frame = try frame(#"{"payload":"YQ==","payload":"Yg==","properties":{"k":"1","k":"2"}}"#)
        #expect(frame.request.payload == Array("b".utf8))
        #expect(frame.request.properties.count == 1)
        #expect(frame.request.properties.first?.1 == "2")
    }

    @Test func deliverAfterOverridesDeliverAt() throws {
        let frame = try frame(#"{"payload":"","deliverAt":5,"deliverAfterMs":1500}"#)
        #expect(frame.request.deliverAt == Self.now + 1500)
        #expect(try self.frame(#"{"payload":"","deliverAt":"1714557600000"}"#).request.deliverAt == 1_714_557_600_000)
        #expect(try self.frame(#"{"payload":"","deliverAt":-3,"deliverAfterMs":0}"#).request.deliverAt == 0)
    }

    @Test func eventTimeWithOffset() throws {
        #expect(try frame(#"{"payload":"","eventTime":"2024-05-01T12:00:00+02:00"}"#).request.eventTime == 1_714_557_600_000)
        #expect(try frame(#"{"payload":"","eventTime":"2024-05-01T10:00Z"}"#).request.eventTime == 1_714_557_600_000)
    }

    @Test(arguments: [
        #"{"payload":"not base64!","context":"c1"}"#,
        #"{"payload":"SGVsbG8=\n","context":"c1"}"#,
        #"{"payload":"SGV-bG8_","context":"c1"}"#,
        #"{"context":"c1"}"#,
        #"{"payload":null,"context":"c1"}"#,
        #"{"payload":"","eventTime":"2024-05-01T10:00:00","context":"c1"}"#,
        #"{"payload":"","eventTime":"2024-02-30T10:00:00Z","context":"c1"}"#,
        #"{"payload":"","eventTime":"yesterday","context":"c1"}"#,
        #"{"context":"c1","payload":"a"}"#,
    ])
    func invalidFieldIsSendError7WithContext(_ text: String) {
        guard case .failure(.invalidField(_, let context)) = decode(text) else {
            Issue.record("expected send-error:7 for \(text)")
            return
        }
        #expect(context == "c1")
    }

    @Test(arguments: [
        "", "noop", #""noop""#, "[]", "42", "null", #"{"payload":"aGk=""#, #"{"payload":"aGk=",}"#,
        #"{"payload":"aGk="} x"#, #"{payload:"aGk="}"#, #"{"payload":'aGk='}"#, "{\"payload\":\"a\u{01}\"}",
        #"{"payload":"aGk=","properties":["a"]}"#, #"{"payload":"aGk=","properties":{"k":{"x":1}}}"#,
        #"{"payload":{"x":1}}"#, #"{"payload":"aGk=","context":[1]}"#, #"{"payload":"aGk=","n":01}"#,
        #"{"payload":"aGk=","n":1.}"#, #"{"payload":"aGk=","n":tru}"#, #"{"payload":"\x"}"#,
        #"{"payload":"\u12"}"#, #"{"payload":"aGk=","deliverAt":true}"#, #"{"payload":"aGk=","deliverAt":"soon"}"#,
        #"{"payload":"aGk=","skip":[1,2,]}"#, #"{"payload":"aGk=","skip":{"a" 1}}"#,
    ])
    func malformedFrameIsSendError3(_ text: String) {
        guard case .failure(.malformed) = decode(text) else {
            Issue.record("expected send-error:3 for \(text)")
            return
        }
    }

    @Test func deepNestingIsRejectedWithoutCrashing() {
        let deep = #"{"payload":"","x":"# + String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000) + "}"
        guard case .failure(.malformed) = decode(deep) else {
            Issue.record("expected send-error:3 for deep nesting")
            return
        }
        let allowed = #"{"payload":"","x":"# + String(repeating: "[", count: 500) + String(repeating: "]", count: 500) + "}"
        #expect(throws: Never.self) { _ = try decode(allowed).get() }
    }

    @Test func acksHaveExactBytes() {
        #expect(String(decoding: PulsarProducerAck.ok(messageId: MessageID(streamId: 0, sequence: 3), context: "1"), as: UTF8.self)
                == #"{"result":"ok","messageId":"CAAQAw==","context":"1","errorCode":0,"schemaVersion":0}"#)
        #expect(String(decoding: PulsarProducerAck.ok(messageId: MessageID(streamId: 0, sequence: 3), context: nil), as: UTF8.self)
                == #"{"result":"ok","messageId":"CAAQAw==","errorCode":0,"schemaVersion":0}"#)
        #expect(String(decoding: PulsarProducerAck.failure(.malformed("bad")), as: UTF8.self)
                == #"{"result":"send-error:3","errorMsg":"bad","errorCode":0,"schemaVersion":0}"#)
        #expect(String(decoding: PulsarProducerAck.failure(.invalidField("no \"payload\"", context: "c")), as: UTF8.self)
                == #"{"result":"send-error:7","errorMsg":"no \"payload\"","context":"c","errorCode":0,"schemaVersion":0}"#)
    }
}
