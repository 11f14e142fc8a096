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

    @Test func appendedTextMatchesEncoded() {
        for (streamId, sequence) in [(0, 0), (0, 3), (127, 128), (300, 70_000), (UInt64.max, UInt64.max)] as [(UInt64, UInt64)] {
            let id = MessageID(streamId: streamId, sequence: sequence)
            var output = Array("x".utf8)
            id.appendEncoded(to: &output)
            #expect(String(decoding: output, as: UTF8.self) == "x" + id.encoded)
        }
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

    @Test func appendMatchesEncodeForEveryLength() {
        let source: [UInt8] = [0x00, 0xFF, 0x10, 0x80, 0x7F, 0xFE, 0x01, 0x55, 0xAA]
        for length in 0...source.count {
            let bytes = Array(source.prefix(length))
            var output: [UInt8] = [0x2A]
            Base64.appendEncoded(bytes, to: &output)
            #expect(output == [0x2A] + Base64.encodeToBytes(bytes))
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
