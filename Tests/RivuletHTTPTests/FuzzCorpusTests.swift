import Foundation
import Testing
@testable import RivuletHTTP

/// Replays the fuzz seed corpus and every saved crash input with the property the fuzz targets check: the
/// parser and the decoder give the same result however the input is split.
struct FuzzCorpusTests {
    private static let fuzzDirectory = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("fuzz")

    /// Returns every file in `fuzz/corpus/<target>` and `fuzz/regressions/<target>`; the first byte of each
    /// is the fuzz target's control byte, which these tests skip.
    private static func inputs(_ target: String) -> [(name: String, bytes: ArraySlice<UInt8>)] {
        var found: [(String, ArraySlice<UInt8>)] = []
        for folder in ["corpus", "regressions"] {
            let directory = fuzzDirectory.appendingPathComponent(folder).appendingPathComponent(target)
            let names = (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
            for name in names.sorted() {
                guard let data = FileManager.default.contents(atPath: directory.appendingPathComponent(name).path),
                      !data.isEmpty else { continue }
                found.append(("\(folder)/\(name)", Array(data).dropFirst()))
            }
        }
        return found
    }

    private func parse(_ bytes: ArraySlice<UInt8>, pieceSize: Int) -> [String] {
        var parser = HTTPRequestParser(maxHeadBytes: 2048, maxBodyBytes: 4096)
        var input = ByteQueue()
        var results: [String] = []
        var offset = bytes.startIndex
        while offset < bytes.endIndex {
            let end = min(bytes.endIndex, offset + pieceSize)
            input.append(contentsOf: bytes[offset..<end])
            offset = end
            do throws(HTTPParseError) {
                while let request = try parser.parse(&input) {
                    let head = request.head
                    results.append("\(head.method) \(head.target) \(head.headers.fields.count) \(request.body)")
                }
            } catch {
                results.append("error \(error.status)")
                return results
            }
        }
        return results
    }

    private func decode(_ bytes: ArraySlice<UInt8>, pieceSize: Int, requireMasked: Bool) -> [String] {
        var decoder = WebSocketFrameDecoder(maxFrameBytes: 512, maxMessageBytes: 2048, requireMasked: requireMasked)
        var input = ByteQueue()
        var results: [String] = []
        var offset = bytes.startIndex
        while offset < bytes.endIndex {
            let end = min(bytes.endIndex, offset + pieceSize)
            input.append(contentsOf: bytes[offset..<end])
            offset = end
            do throws(WebSocketProtocolError) {
                while let event = try decoder.next(&input) { results.append("\(event)") }
            } catch {
                results.append("close \(error.closeCode)")
                return results
            }
        }
        return results
    }

    @Test func httpCorpusParsesTheSameInPieces() {
        let inputs = Self.inputs("http")
        #expect(!inputs.isEmpty, "no seed inputs found under \(Self.fuzzDirectory.path)")
        for (name, bytes) in inputs {
            let whole = parse(bytes, pieceSize: max(1, bytes.count))
            for pieceSize in [1, 2, 7] {
                #expect(parse(bytes, pieceSize: pieceSize) == whole, "\(name) split into \(pieceSize)-byte pieces")
            }
        }
    }

    @Test func webSocketCorpusDecodesTheSameInPieces() {
        let inputs = Self.inputs("websocket")
        #expect(!inputs.isEmpty, "no seed inputs found under \(Self.fuzzDirectory.path)")
        for (name, bytes) in inputs {
            for requireMasked in [true, false] {
                let whole = decode(bytes, pieceSize: max(1, bytes.count), requireMasked: requireMasked)
                for pieceSize in [1, 3, 16] {
                    #expect(decode(bytes, pieceSize: pieceSize, requireMasked: requireMasked) == whole,
                            "\(name) split into \(pieceSize)-byte pieces, requireMasked \(requireMasked)")
                }
            }
        }
    }

    @Test func httpSeedsCoverRequestsAndRejections() {
        let outcomes = Dictionary(uniqueKeysWithValues: Self.inputs("http").map { ($0.name, parse($0.bytes, pieceSize: 5)) })
        #expect(outcomes["corpus/pipelined"]?.count == 3)
        #expect(outcomes["corpus/chunked-trailers"] == ["POST /p 2 [104, 101, 108, 108, 111]"])
        #expect(outcomes["corpus/conflicting-length"] == ["error 400"])
        #expect(outcomes["corpus/bad-version"] == ["error 505"])
    }
}
