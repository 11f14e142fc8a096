import COpenSSL
import RivuletCore

/// RFC 6455 frame opcodes.
enum WebSocketOpcode: UInt8 {
    case continuation = 0x0
    case text = 0x1
    case binary = 0x2
    case close = 0x8
    case ping = 0x9
    case pong = 0xA

    var isControl: Bool { rawValue & 0x8 != 0 }
}

/// Close codes from RFC 6455 section 7.4.1 that the transport sends.
enum WebSocketCloseCode {
    static let normal: UInt16 = 1000
    static let goingAway: UInt16 = 1001
    static let protocolError: UInt16 = 1002
    static let invalidPayload: UInt16 = 1007
    static let messageTooBig: UInt16 = 1009

    /// True for codes a peer may put in a close frame (RFC 6455 section 7.4).
    static func isValidOnWire(_ code: UInt16) -> Bool {
        switch code {
        case 1000...1003, 1007...1011, 3000...4999: true
        default: false
        }
    }
}

/// One complete message or control frame, unmasked, with fragments joined.
enum WebSocketEvent: Equatable {
    case text([UInt8])
    case binary([UInt8])
    case ping([UInt8])
    case pong([UInt8])
    /// `code` is nil when the close frame had no payload.
    case close(code: UInt16?, reason: [UInt8])
}

/// A peer broke RFC 6455; the connection is failed with `closeCode`.
struct WebSocketProtocolError: Error, Equatable {
    var closeCode: UInt16
    var reason: String
}

/// An incremental RFC 6455 frame decoder that joins fragments and enforces the framing rules.
///
/// A server decodes with `requireMasked: true` (client frames must be masked); a client, such as a test,
/// decodes server frames with `requireMasked: false`.
struct WebSocketFrameDecoder {
    let maxFrameBytes: Int
    let maxMessageBytes: Int
    let requireMasked: Bool
    private var fragmentOpcode: WebSocketOpcode?
    private var fragments: [UInt8] = []
    private var textValidator = UTF8Validator()

    /// `maxFrameBytes` bounds the payload of each data frame, `maxMessageBytes` the joined fragments; both fail
    /// the connection with 1009. Without `maxFrameBytes` only the message bound applies.
    init(maxFrameBytes: Int? = nil, maxMessageBytes: Int, requireMasked: Bool) {
        self.maxFrameBytes = maxFrameBytes ?? maxMessageBytes
        self.maxMessageBytes = maxMessageBytes
        self.requireMasked = requireMasked
    }

    /// Consumes frames from `input` until one yields an event; nil means more bytes are needed.
    mutating func next(_ input: inout ByteQueue) throws(WebSocketProtocolError) -> WebSocketEvent? {
        while true {
            let maxPayloadBytes = min(maxFrameBytes, maxMessageBytes - fragments.count)
            guard let frame = try Self.readFrame(&input, maxPayloadBytes: maxPayloadBytes,
                                                  requireMasked: requireMasked) else {
                return nil
            }
            if let event = try assemble(frame) { return event }
        }
    }

    private mutating func assemble(
        _ frame: (fin: Bool, opcode: WebSocketOpcode, payload: [UInt8])
    ) throws(WebSocketProtocolError) -> WebSocketEvent? {
        switch frame.opcode {
        case .ping: return .ping(frame.payload)
        case .pong: return .pong(frame.payload)
        case .close: return try Self.closeEvent(frame.payload)
        case .continuation:
            guard let opcode = fragmentOpcode else {
                throw WebSocketProtocolError(closeCode: WebSocketCloseCode.protocolError,
                                             reason: "continuation frame without a message to continue")
            }
            try checkText(opcode, frame.payload, final: frame.fin)
            fragments.append(contentsOf: frame.payload)
            guard frame.fin else { return nil }
            let payload = fragments
            fragments = []
            fragmentOpcode = nil
            return opcode == .text ? .text(payload) : .binary(payload)
        case .text, .binary:
            guard fragmentOpcode == nil else {
                throw WebSocketProtocolError(closeCode: WebSocketCloseCode.protocolError,
                                             reason: "new message before the fragmented one finished")
            }
            textValidator = UTF8Validator()
            try checkText(frame.opcode, frame.payload, final: frame.fin)
            guard frame.fin else {
                fragmentOpcode = frame.opcode
                fragments = frame.payload
                return nil
            }
            return frame.opcode == .text ? .text(frame.payload) : .binary(frame.payload)
        }
    }

    /// Validates one fragment of a text message; `final` also requires the message to end on a character.
    private mutating func checkText(
        _ opcode: WebSocketOpcode, _ payload: [UInt8], final: Bool
    ) throws(WebSocketProtocolError) {
        guard opcode == .text else { return }
        guard textValidator.feed(payload), !final || textValidator.isComplete else {
            throw WebSocketProtocolError(closeCode: WebSocketCloseCode.invalidPayload, reason: "text message is not valid UTF-8")
        }
    }

    private static func closeEvent(_ payload: [UInt8]) throws(WebSocketProtocolError) -> WebSocketEvent {
        if payload.isEmpty { return .close(code: nil, reason: []) }
        guard payload.count >= 2 else {
            throw WebSocketProtocolError(closeCode: WebSocketCloseCode.protocolError, reason: "close frame with a 1-byte payload")
        }
        let code = UInt16(payload[0]) << 8 | UInt16(payload[1])
        guard WebSocketCloseCode.isValidOnWire(code) else {
            throw WebSocketProtocolError(closeCode: WebSocketCloseCode.protocolError, reason: "invalid close code \(code)")
        }
        let reason = Array(payload[2...])
        guard UTF8Validation.isValid(reason) else {
            throw WebSocketProtocolError(closeCode: WebSocketCloseCode.invalidPayload, reason: "close reason is not valid UTF-8")
        }
        return .close(code: code, reason: reason)
    }

    /// Reads one whole frame, unmasked, or returns nil when it has not fully arrived.
    private static func readFrame(
        _ input: inout ByteQueue, maxPayloadBytes: Int, requireMasked: Bool
    ) throws(WebSocketProtocolError) -> (fin: Bool, opcode: WebSocketOpcode, payload: [UInt8])? {
        guard input.count >= 2 else { return nil }
        let first = input[0]
        let second = input[1]
        guard first & 0x70 == 0 else {
            throw WebSocketProtocolError(closeCode: WebSocketCloseCode.protocolError, reason: "reserved bits set")
        }
        guard let opcode = WebSocketOpcode(rawValue: first & 0x0F) else {
            throw WebSocketProtocolError(closeCode: WebSocketCloseCode.protocolError, reason: "reserved opcode")
        }
        let fin = first & 0x80 != 0
        let masked = second & 0x80 != 0
        guard masked == requireMasked else {
            let reason = requireMasked ? "client frame not masked" : "server frame masked"
            throw WebSocketProtocolError(closeCode: WebSocketCloseCode.protocolError, reason: reason)
        }

        var headerLength = 2
        var length = UInt64(second & 0x7F)
        if length == 126 {
            guard input.count >= 4 else { return nil }
            length = UInt64(input[2]) << 8 | UInt64(input[3])
            headerLength = 4
        } else if length == 127 {
            guard input.count >= 10 else { return nil }
            length = (2..<10).reduce(UInt64(0)) { $0 << 8 | UInt64(input[$1]) }
            guard length >> 63 == 0 else {
                throw WebSocketProtocolError(closeCode: WebSocketCloseCode.protocolError, reason: "payload length has the top bit set")
            }
            headerLength = 10
        }
        if opcode.isControl {
            guard fin else {
                throw WebSocketProtocolError(closeCode: WebSocketCloseCode.protocolError, reason: "fragmented control frame")
            }
            guard length <= 125 else {
                throw WebSocketProtocolError(closeCode: WebSocketCloseCode.protocolError, reason: "control frame longer than 125 bytes")
            }
        } else if length > UInt64(max(0, maxPayloadBytes)) {
            throw WebSocketProtocolError(closeCode: WebSocketCloseCode.messageTooBig, reason: "message too big")
        }

        let maskLength = masked ? 4 : 0
        let total = headerLength + maskLength + Int(length)
        guard input.count >= total else { return nil }
        let maskKey = masked ? Array(input.bytes(headerLength..<(headerLength + 4))) : []
        input.consume(headerLength + maskLength)
        var payload = input.read(Int(length))
        if masked { WebSocketMasking.apply(maskKey, to: &payload) }
        return (fin, opcode, payload)
    }
}

/// Frame encoding and the opening-handshake key.
enum WebSocketFrameEncoder {
    /// Appends one frame; `maskKey` (4 bytes) is for clients, servers send unmasked frames.
    static func append<Payload: Collection>(
        opcode: WebSocketOpcode, payload: Payload, fin: Bool = true, maskKey: [UInt8]? = nil, to output: inout ByteQueue
    ) where Payload.Element == UInt8 {
        output.append((fin ? 0x80 : 0) | opcode.rawValue)
        let maskBit: UInt8 = maskKey == nil ? 0 : 0x80
        let length = payload.count
        if length < 126 {
            output.append(maskBit | UInt8(length))
        } else if length <= 0xFFFF {
            output.append(maskBit | 126)
            output.append(UInt8(length >> 8))
            output.append(UInt8(length & 0xFF))
        } else {
            output.append(maskBit | 127)
            for shift in stride(from: 56, through: 0, by: -8) {
                output.append(UInt8(truncatingIfNeeded: UInt64(length) >> UInt64(shift)))
            }
        }
        if let maskKey {
            output.append(contentsOf: maskKey)
            var masked = Array(payload)
            WebSocketMasking.apply(maskKey, to: &masked)
            output.append(contentsOf: masked)
        } else {
            output.append(contentsOf: payload)
        }
    }

    /// The payload of a close frame: the code, then at most 123 bytes of reason cut at a character boundary.
    static func closePayload(code: UInt16, reason: String) -> [UInt8] {
        var payload = [UInt8(code >> 8), UInt8(code & 0xFF)]
        var reasonBytes = 0
        for scalar in reason.unicodeScalars {
            let width = String(scalar).utf8.count
            guard reasonBytes + width <= 123 else { break }
            payload.append(contentsOf: String(scalar).utf8)
            reasonBytes += width
        }
        return payload
    }

    /// `Sec-WebSocket-Accept` for a `Sec-WebSocket-Key`: base64 of SHA-1 over the key and the RFC 6455 GUID.
    static func acceptValue(forKey key: String) -> String {
        let input = Array((key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").utf8)
        var digest = [UInt8](repeating: 0, count: Int(EVP_MAX_MD_SIZE))
        var digestLength: UInt32 = 0
        let status = input.withUnsafeBytes { source in
            EVP_Digest(source.baseAddress, source.count, &digest, &digestLength, EVP_sha1(), nil)
        }
        precondition(status == 1, "EVP_Digest with SHA-1 failed")
        return Base64.encode(digest.prefix(Int(digestLength)))
    }
}

/// XOR masking from RFC 6455 section 5.3; applying it twice restores the payload.
enum WebSocketMasking {
    static func apply(_ key: [UInt8], to payload: inout [UInt8]) {
        precondition(key.count == 4, "a mask key has 4 bytes")
        let count = payload.count
        payload.withUnsafeMutableBytes { buffer in
            guard let base = buffer.baseAddress else { return }
            // Eight bytes at a time: the key repeats every 4 bytes, so a doubled key covers one word.
            var wordKey: UInt64 = 0
            withUnsafeMutableBytes(of: &wordKey) { keyBytes in
                for index in 0..<8 { keyBytes[index] = key[index % 4] }
            }
            var offset = 0
            while offset + 8 <= count {
                let word = base.loadUnaligned(fromByteOffset: offset, as: UInt64.self)
                base.storeBytes(of: word ^ wordKey, toByteOffset: offset, as: UInt64.self)
                offset += 8
            }
            while offset < count {
                buffer[offset] ^= key[offset % 4]
                offset += 1
            }
        }
    }
}

/// Strict UTF-8 validation per RFC 3629: no overlong forms, no surrogates, nothing above U+10FFFF.
///
/// The validator is streaming, so a fragmented text message is checked fragment by fragment and fails on the
/// first invalid byte rather than after the last fragment.
struct UTF8Validator {
    /// Continuation bytes still expected for the current character.
    private var remaining = 0
    /// Allowed range of the next continuation byte; narrower than 0x80...0xBF right after some lead bytes.
    private var lowerBound: UInt8 = 0x80
    private var upperBound: UInt8 = 0xBF

    /// True when the bytes so far end on a character boundary.
    var isComplete: Bool { remaining == 0 }

    /// Checks more bytes; returns false at the first byte that cannot be valid UTF-8.
    mutating func feed<Bytes: Sequence>(_ bytes: Bytes) -> Bool where Bytes.Element == UInt8 {
        if let valid = bytes.withContiguousStorageIfAvailable({ feed(contiguous: $0) }) { return valid }
        for byte in bytes where !step(byte) { return false }
        return true
    }

    /// Checks contiguous bytes, skipping runs of ASCII eight bytes at a time between characters.
    private mutating func feed(contiguous bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        guard let base = bytes.baseAddress else { return true }
        let raw = UnsafeRawPointer(base)
        var index = 0
        while index < bytes.count {
            if remaining == 0 {
                while index + 8 <= bytes.count, raw.loadUnaligned(fromByteOffset: index, as: UInt64.self) & 0x8080_8080_8080_8080 == 0 {
                    index += 8
                }
                guard index < bytes.count else { break }
            }
            guard step(bytes[index]) else { return false }
            index += 1
        }
        return true
    }

    /// Checks one byte; returns false when it cannot continue valid UTF-8.
    @inline(__always)
    private mutating func step(_ byte: UInt8) -> Bool {
        if remaining > 0 {
            guard byte >= lowerBound && byte <= upperBound else { return false }
            remaining -= 1
            lowerBound = 0x80
            upperBound = 0xBF
            return true
        }
        if byte < 0x80 { return true }
        switch byte {
        case 0xC2...0xDF: remaining = 1
        case 0xE0: remaining = 2; lowerBound = 0xA0
        case 0xE1...0xEC, 0xEE...0xEF: remaining = 2
        case 0xED: remaining = 2; upperBound = 0x9F
        case 0xF0: remaining = 3; lowerBound = 0x90
        case 0xF1...0xF3: remaining = 3
        case 0xF4: remaining = 3; upperBound = 0x8F
        default: return false
        }
        return true
    }
}

enum UTF8Validation {
    static func isValid<Bytes: Sequence>(_ bytes: Bytes) -> Bool where Bytes.Element == UInt8 {
        var validator = UTF8Validator()
        return validator.feed(bytes) && validator.isComplete
    }
}
