// libFuzzer entry point for the WebSocket frame decoder and UTF-8 validator. scripts/fuzz builds RivuletHTTP with -enable-testing and
// coverage instrumentation, then links this file against it; a fatalError here is a finding.
@testable import RivuletHTTP

/// The events or error from decoding one input, in a form two runs can compare.
private struct DecodeOutcome: Equatable {
    var events: [WebSocketEvent] = []
    var error: WebSocketProtocolError?
}

/// Decodes `bytes` fed in pieces of `pieceSize` bytes (the whole input when it is 0).
private func decodeAll(_ bytes: ArraySlice<UInt8>, pieceSize: Int, requireMasked: Bool) -> DecodeOutcome {
    var decoder = WebSocketFrameDecoder(maxFrameBytes: 512, maxMessageBytes: 2048, requireMasked: requireMasked)
    var input = ByteQueue()
    var outcome = DecodeOutcome()
    var offset = bytes.startIndex
    while offset < bytes.endIndex {
        let end = pieceSize == 0 ? bytes.endIndex : min(bytes.endIndex, offset + pieceSize)
        input.append(contentsOf: bytes[offset..<end])
        offset = end
        do {
            while let event = try decoder.next(&input) { outcome.events.append(event) }
        } catch {
            outcome.error = error
            return outcome
        }
    }
    return outcome
}

@_cdecl("LLVMFuzzerTestOneInput")
public func webSocketFrameFuzzTestOneInput(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    guard size > 0 else { return 0 }
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    // The first byte picks the piece size and whether frames must be masked (server side) or unmasked (client side).
    let pieceSize = Int(bytes[0] & 0x0F) + 1
    let requireMasked = bytes[0] & 0x80 == 0
    let frames = bytes[1...]
    let whole = decodeAll(frames, pieceSize: 0, requireMasked: requireMasked)
    let pieces = decodeAll(frames, pieceSize: pieceSize, requireMasked: requireMasked)
    if whole != pieces {
        fatalError("split-dependent decode: whole=\(whole) pieces(\(pieceSize))=\(pieces)")
    }

    // The streaming validator must agree with the standard library's UTF-8 decoding.
    let expected = String(validating: frames, as: UTF8.self) != nil
    if UTF8Validation.isValid(frames) != expected {
        fatalError("UTF-8 validator disagrees with the standard library on \(Array(frames))")
    }
    return 0
}
