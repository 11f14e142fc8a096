import Testing
@testable import RivuletHTTP

struct WebSocketFrameTests {
    private let key: [UInt8] = [0x37, 0xFA, 0x21, 0x3D]

    private func decodeAll(_ bytes: [UInt8], maxMessageBytes: Int = 1 << 20) throws -> [WebSocketEvent] {
        var decoder = WebSocketFrameDecoder(maxMessageBytes: maxMessageBytes, requireMasked: true)
        var input = ByteQueue()
        input.append(contentsOf: bytes)
        var events: [WebSocketEvent] = []
        while let event = try decoder.next(&input) { events.append(event) }
        return events
    }

    private func closeCode(_ bytes: [UInt8], maxMessageBytes: Int = 1 << 20) -> UInt16? {
        do {
            _ = try decodeAll(bytes, maxMessageBytes: maxMessageBytes)
            return nil
        } catch let error as WebSocketProtocolError {
            return error.closeCode
        } catch {
            return nil
        }
    }

    private func frame(_ opcode: WebSocketOpcode, _ payload: [UInt8], fin: Bool = true, masked: Bool = true) -> [UInt8] {
        var output = ByteQueue()
        WebSocketFrameEncoder.append(opcode: opcode, payload: payload, fin: fin, maskKey: masked ? key : nil, to: &output)
        return Array(output.bytes(0..<output.count))
    }

    @Test func acceptKeyMatchesRFC6455Example() {
        #expect(WebSocketFrameEncoder.acceptValue(forKey: "dGhlIHNhbXBsZSBub25jZQ==") == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=")
    }

    @Test func maskedHelloMatchesRFC6455Example() throws {
        let expected: [UInt8] = [0x81, 0x85, 0x37, 0xFA, 0x21, 0x3D, 0x7F, 0x9F, 0x4D, 0x51, 0x58]
        #expect(frame(.text, Array("Hello".utf8)) == expected)
        #expect(try decodeAll(expected) == [.text(Array("Hello".utf8))])
    }

    @Test func maskingTwiceRestoresPayload() {
        let original = (0..<1003).map { UInt8(truncatingIfNeeded: $0 * 7) }
        var payload = original
        WebSocketMasking.apply(key, to: &payload)
        #expect(payload != original)
        #expect(payload[9] == original[9] ^ key[1])
        WebSocketMasking.apply(key, to: &payload)
        #expect(payload == original)
    }

    @Test func extendedLengthsRoundTrip() throws {
        for size in [125, 126, 65535, 65536] {
            let payload = [UInt8](repeating: 0x61, count: size)
            #expect(try decodeAll(frame(.binary, payload)) == [.binary(payload)])
        }
    }

    @Test func fragmentsAreJoinedAroundControlFrames() throws {
        let bytes = frame(.text, Array("Hel".utf8), fin: false) + frame(.ping, [1, 2])
            + frame(.continuation, Array("lo".utf8), fin: false) + frame(.continuation, [], fin: true)
        #expect(try decodeAll(bytes) == [.ping([1, 2]), .text(Array("Hello".utf8))])
    }

    @Test func byteAtATimeDecoding() throws {
        let bytes = frame(.binary, [9, 8, 7], fin: false) + frame(.continuation, [6]) + frame(.close, [0x03, 0xE8, 0x6F, 0x6B])
        var decoder = WebSocketFrameDecoder(maxMessageBytes: 100, requireMasked: true)
        var input = ByteQueue()
        var events: [WebSocketEvent] = []
        for byte in bytes {
            input.append(byte)
            while let event = try decoder.next(&input) { events.append(event) }
        }
        #expect(events == [.binary([9, 8, 7, 6]), .close(code: 1000, reason: Array("ok".utf8))])
    }

    @Test func invalidUTF8TextGets1007() {
        #expect(closeCode(frame(.text, [0xC3, 0x28])) == 1007)
        #expect(closeCode(frame(.text, [0xED, 0xA0, 0x80])) == 1007)
        #expect(closeCode(frame(.text, [0xF0, 0x9F], fin: false) + frame(.continuation, [0x98])) == 1007)
        #expect(closeCode(frame(.close, [0x03, 0xE8, 0xFF])) == 1007)
    }

    @Test func invalidUTF8FailsOnFirstBadFragment() throws {
        var decoder = WebSocketFrameDecoder(maxMessageBytes: 1 << 20, requireMasked: true)
        var input = ByteQueue()
        input.append(contentsOf: frame(.text, [0x61, 0xFF], fin: false))
        #expect(throws: WebSocketProtocolError(closeCode: 1007, reason: "text message is not valid UTF-8")) {
            _ = try decoder.next(&input)
        }
    }

    @Test func characterSplitAcrossFragmentsIsValid() throws {
        let bytes = frame(.text, [0xF0, 0x9F], fin: false) + frame(.continuation, [0x98], fin: false)
            + frame(.continuation, [0x80])
        #expect(try decodeAll(bytes) == [.text([0xF0, 0x9F, 0x98, 0x80])])
    }

    @Test func unmaskedClientFrameGets1002() {
        #expect(closeCode(frame(.text, Array("hi".utf8), masked: false)) == 1002)
    }

    @Test func framingViolationsGet1002() {
        var reservedBit = frame(.text, [0x61])
        reservedBit[0] |= 0x40
        #expect(closeCode(reservedBit) == 1002)
        var reservedOpcode = frame(.text, [0x61])
        reservedOpcode[0] = 0x83
        #expect(closeCode(reservedOpcode) == 1002)
        #expect(closeCode(frame(.ping, [UInt8](repeating: 0, count: 126))) == 1002)
        #expect(closeCode(frame(.ping, [], fin: false)) == 1002)
        #expect(closeCode(frame(.continuation, [0x61])) == 1002)
        #expect(closeCode(frame(.text, [0x61], fin: false) + frame(.text, [0x62])) == 1002)
        #expect(closeCode(frame(.close, [0x03])) == 1002)
        #expect(closeCode(frame(.close, [0x03, 0xED])) == 1002)
    }

    @Test func oversizeMessageGets1009() {
        #expect(closeCode(frame(.binary, [UInt8](repeating: 0, count: 101)), maxMessageBytes: 100) == 1009)
        let fragments = frame(.binary, [UInt8](repeating: 0, count: 60), fin: false)
            + frame(.continuation, [UInt8](repeating: 0, count: 60))
        #expect(closeCode(fragments, maxMessageBytes: 100) == 1009)
        // A 2^62-byte length is rejected from the header alone.
        let huge: [UInt8] = [0x82, 0xFF, 0x40, 0, 0, 0, 0, 0, 0, 0] + key
        #expect(closeCode(huge, maxMessageBytes: 100) == 1009)
    }

    @Test func closePayloadTruncatesReasonAtCharacterBoundary() {
        let payload = WebSocketFrameEncoder.closePayload(code: 1001, reason: String(repeating: "é", count: 100))
        #expect(payload.count == 2 + 122)
        #expect(payload[0] == 0x03)
        #expect(payload[1] == 0xE9)
        #expect(UTF8Validation.isValid(payload[2...]))
    }

    @Test func utf8ValidationRejectsOverlongAndOutOfRange() {
        #expect(UTF8Validation.isValid(Array("héllo wörld €𝄞".utf8)))
        #expect(!UTF8Validation.isValid([0xC0, 0xAF]))
        #expect(!UTF8Validation.isValid([0xE0, 0x80, 0xAF]))
        #expect(!UTF8Validation.isValid([0xF4, 0x90, 0x80, 0x80]))
        #expect(!UTF8Validation.isValid([0xE2, 0x82]))
    }

    @Test func frameLimitAppliesToEachFragment() throws {
        var decoder = WebSocketFrameDecoder(maxFrameBytes: 4, maxMessageBytes: 100, requireMasked: true)
        var input = ByteQueue()
        input.append(contentsOf: frame(.text, Array("abcd".utf8), fin: false) + frame(.continuation, Array("efgh".utf8)))
        #expect(try decoder.next(&input) == .text(Array("abcdefgh".utf8)))

        input.append(contentsOf: frame(.binary, [1, 2, 3, 4, 5]))
        #expect(throws: WebSocketProtocolError(closeCode: 1009, reason: "message too big")) {
            _ = try decoder.next(&input)
        }
    }
}
