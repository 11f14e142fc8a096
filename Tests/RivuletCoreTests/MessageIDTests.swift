import Testing
@testable import RivuletCore

@Suite struct MessageIDTests {
    @Test func encodesPulsarLayout() {
        #expect(MessageID(streamId: 0, sequence: 3).encoded == "CAAQAw==")
    }

    @Test func parsesNewerLayoutWithBatchSize() {
        let id = MessageID(encoded: "CAMQADAA")
        #expect(id == MessageID(streamId: 3, sequence: 0))
    }

    @Test func parsesPartitionAndBatchFields() {
        #expect(MessageID(encoded: "CAwQBRgCMAA=") == MessageID(streamId: 12, sequence: 5))
        #expect(MessageID(encoded: "CAwQBSABMAM=") == MessageID(streamId: 12, sequence: 5))
    }

    @Test func roundTripsLargeValues() {
        let id = MessageID(streamId: 1 << 40, sequence: UInt64.max)
        #expect(MessageID(encoded: id.encoded) == id)
    }

    @Test func rejectsGarbage() {
        #expect(MessageID(encoded: "not base64!") == nil)
        #expect(MessageID(encoded: "CAA=") == nil)
        #expect(MessageID(encoded: "") == nil)
    }
}

@Suite struct Base64Tests {
    @Test func roundTripsEveryLength() {
        for length in 0..<20 {
            let bytes = (0..<length).map { UInt8(($0 * 37 + 11) & 0xFF) }
            #expect(Base64.decode(Base64.encode(bytes)) == bytes)
        }
    }

    @Test func acceptsMissingPadding() {
        #expect(Base64.decode("aGk") == Array("hi".utf8))
        #expect(Base64.decode("aGk=") == Array("hi".utf8))
    }

    @Test func noopIsValidAndStable() {
        let bytes = Base64.decode("noop")
        #expect(bytes == [0x9E, 0x8A, 0x29])
        #expect(Base64.encode(bytes ?? []) == "noop")
    }

    @Test func rejectsWhitespaceAndURLSafeAlphabet() {
        #expect(Base64.decode("aG k=") == nil)
        #expect(Base64.decode("a-_b") == nil)
        #expect(Base64.decode("a") == nil)
        #expect(Base64.decode("aG=k") == nil)
    }
}
