// libFuzzer entry point for the HTTP/1.1 request parser. scripts/fuzz builds RivuletHTTP with -enable-testing and
// coverage instrumentation, then links this file against it; a fatalError here is a finding.
@testable import RivuletHTTP

/// The requests or error from parsing one input, in a form two runs can compare.
private struct ParseOutcome: Equatable {
    var requests: [String] = []
    var errorStatus: Int?
}

/// Parses `bytes` fed in pieces of `pieceSize` bytes (the whole input when it is 0).
private func parseAll(_ bytes: ArraySlice<UInt8>, pieceSize: Int) -> ParseOutcome {
    var parser = HTTPRequestParser(maxHeadBytes: 2048, maxBodyBytes: 4096)
    var input = ByteQueue()
    var outcome = ParseOutcome()
    var offset = bytes.startIndex
    while offset < bytes.endIndex {
        let end = pieceSize == 0 ? bytes.endIndex : min(bytes.endIndex, offset + pieceSize)
        input.append(contentsOf: bytes[offset..<end])
        offset = end
        do {
            while let request = try parser.parse(&input) {
                let head = request.head
                let headers = head.headers.map { "\($0.name)=\($0.value)" }.joined(separator: "|")
                outcome.requests.append("\(head.method) \(head.target) 1.\(head.minorVersion) \(headers) \(request.body)")
            }
        } catch {
            outcome.errorStatus = error.status
            return outcome
        }
    }
    return outcome
}

@_cdecl("LLVMFuzzerTestOneInput")
public func httpParserFuzzTestOneInput(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    guard size > 0 else { return 0 }
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    // The first byte picks the piece size, so the corpus also covers requests that arrive in fragments.
    let pieceSize = Int(bytes[0] % 17) + 1
    let body = bytes[1...]
    let whole = parseAll(body, pieceSize: 0)
    let pieces = parseAll(body, pieceSize: pieceSize)
    // The parser promises the same requests however the bytes are split.
    if whole != pieces {
        fatalError("split-dependent parse: whole=\(whole) pieces(\(pieceSize))=\(pieces)")
    }
    return 0
}
