import Testing
@testable import RivuletHTTP

struct HTTPRequestParserTests {
    private func makeParser(maxHead: Int = 64 * 1024, maxBody: Int = 1024 * 1024) -> HTTPRequestParser {
        HTTPRequestParser(maxHeadBytes: maxHead, maxBodyBytes: maxBody)
    }

    /// Feeds `text` in one piece and returns every request it completes.
    private func parseAll(_ text: String, parser: inout HTTPRequestParser) throws -> [ParsedRequest] {
        var input = ByteQueue()
        input.append(contentsOf: text.utf8)
        var requests: [ParsedRequest] = []
        while let request = try parser.parse(&input) { requests.append(request) }
        return requests
    }

    private func parseError(_ text: String, maxHead: Int = 64 * 1024, maxBody: Int = 1024 * 1024) -> HTTPParseError? {
        var parser = makeParser(maxHead: maxHead, maxBody: maxBody)
        do {
            _ = try parseAll(text, parser: &parser)
            return nil
        } catch let error as HTTPParseError {
            return error
        } catch {
            return nil
        }
    }

    @Test func byteAtATimeGivesOneRequest() throws {
        let text = "POST /a%2Fb?x=1 HTTP/1.1\r\nHost: example\r\nContent-Length: 5\r\nX-Test:  spaced \r\n\r\nhello"
        var parser = makeParser()
        var input = ByteQueue()
        var results: [ParsedRequest] = []
        for (index, byte) in text.utf8.enumerated() {
            input.append(byte)
            if let request = try parser.parse(&input) {
                results.append(request)
                #expect(index == text.utf8.count - 1)
            }
        }
        try #require(results.count == 1)
        let head = results[0].head
        #expect(head.method == "POST")
        #expect(head.target == "/a%2Fb?x=1")
        #expect(head.headers["x-test"] == "spaced")
        #expect(head.keepAlive)
        #expect(results[0].body == Array("hello".utf8))
        #expect(input.isEmpty)
    }

    @Test func chunkedBodyByteAtATime() throws {
        let text = "POST /c HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n4;ext=1\r\nWiki\r\n5\r\npedia\r\n0\r\nTrailer: x\r\n\r\n"
        var parser = makeParser()
        var input = ByteQueue()
        var results: [ParsedRequest] = []
        for byte in text.utf8 {
            input.append(byte)
            if let request = try parser.parse(&input) { results.append(request) }
        }
        try #require(results.count == 1)
        #expect(results[0].body == Array("Wikipedia".utf8))
    }

    @Test func pipelinedRequestsComeOutInOrder() throws {
        let text = "GET /one HTTP/1.1\r\n\r\n"
            + "POST /two HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n"
            + "POST /three HTTP/1.1\r\nContent-Length: 2\r\n\r\nxy"
            + "GET /four HTTP/1.1\r\n"
        var parser = makeParser()
        let requests = try parseAll(text, parser: &parser)
        #expect(requests.map(\.head.target) == ["/one", "/two", "/three"])
        #expect(requests[1].body == Array("abc".utf8))
        #expect(requests[2].body == Array("xy".utf8))
        #expect(!parser.isIdle)
    }

    @Test func randomSplitsGiveSameRequests() throws {
        let text = "GET /a HTTP/1.1\r\nHost: h\r\n\r\n"
            + "POST /b HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n1a\r\nabcdefghijklmnopqrstuvwxyz\r\n0\r\nT: 1\r\n\r\n"
            + "PUT /c%2Fd HTTP/1.1\r\nContent-Length: 3\r\n\r\nxyz"
        let bytes = Array(text.utf8)
        var whole = makeParser()
        let expected = try parseAll(text, parser: &whole)
        try #require(expected.count == 3)

        // A fixed-seed linear congruential generator keeps the splits reproducible.
        var seed: UInt64 = 0x9E37_79B9_7F4A_7C15
        for _ in 0..<200 {
            var parser = makeParser()
            var input = ByteQueue()
            var results: [ParsedRequest] = []
            var offset = 0
            while offset < bytes.count {
                seed = seed &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
                let length = min(Int(seed >> 59) + 1, bytes.count - offset)
                input.append(contentsOf: bytes[offset..<(offset + length)])
                offset += length
                while let request = try parser.parse(&input) { results.append(request) }
            }
            #expect(results == expected)
        }
    }

    @Test func contentLengthWithTransferEncodingRejected() {
        let text = "POST / HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n"
        #expect(parseError(text)?.status == 400)
    }

    @Test func oversizeHeadGets431() {
        let text = "GET / HTTP/1.1\r\nX-Big: " + String(repeating: "a", count: 2000) + "\r\n\r\n"
        #expect(parseError(text, maxHead: 1024) == .headTooLarge)
        #expect(parseError("GET /" + String(repeating: "a", count: 2000), maxHead: 1024)?.status == 431)
    }

    @Test func oversizeBodyGets413() {
        #expect(parseError("POST / HTTP/1.1\r\nContent-Length: 2000\r\n\r\n", maxBody: 1000) == .bodyTooLarge)
        let chunked = "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3e8\r\n" + String(repeating: "a", count: 1000)
            + "\r\n1\r\n"
        #expect(parseError(chunked, maxBody: 1000)?.status == 413)
    }

    @Test(arguments: [
        "GET /\r\n\r\n",
        "GET  / HTTP/1.1\r\n\r\n",
        "GET / HTTP/1.1 \r\n\r\n",
        "G(T / HTTP/1.1\r\n\r\n",
        "GET relative HTTP/1.1\r\n\r\n",
        "GET / HTTP/1.1\r\nBad Name: x\r\n\r\n",
        "GET / HTTP/1.1\r\nName : x\r\n\r\n",
        "GET / HTTP/1.1\r\nNo-Colon\r\n\r\n",
        "GET / HTTP/1.1\r\nA: b\r\n folded\r\n\r\n",
        "GET / HTTP/1.1\r\nA: b\u{1}c\r\n\r\n",
        "POST / HTTP/1.1\r\nContent-Length: 1x\r\n\r\n",
        "POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
        "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
    ])
    func malformedRequestGets400(text: String) {
        #expect(parseError(text)?.status == 400)
    }

    @Test func unknownVersionGets505AndUnknownCodingGets501() {
        #expect(parseError("GET / HTTP/2.0\r\n\r\n") == .versionNotSupported)
        #expect(parseError("POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n")?.status == 501)
    }

    @Test func keepAliveFollowsVersionAndConnectionHeader() throws {
        var parser = makeParser()
        let requests = try parseAll(
            "GET /a HTTP/1.0\r\n\r\nGET /b HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\nGET /c HTTP/1.1\r\nConnection: close\r\n\r\n",
            parser: &parser)
        #expect(requests.map(\.head.keepAlive) == [false, true, false])
    }

    @Test func leadingEmptyLinesAreSkipped() throws {
        var parser = makeParser()
        let requests = try parseAll("\r\n\r\nGET /x HTTP/1.1\r\n\r\n", parser: &parser)
        #expect(requests.map(\.head.target) == ["/x"])
    }

    @Test func expectContinueIsReported() throws {
        var parser = makeParser()
        var input = ByteQueue()
        input.append(contentsOf: "PUT /u HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n".utf8)
        #expect(try parser.parse(&input) == nil)
        #expect(parser.pendingContinue)
        input.append(contentsOf: "ok".utf8)
        let request = try #require(try parser.parse(&input))
        #expect(request.body == Array("ok".utf8))
        #expect(!parser.pendingContinue)
    }

    @Test func webSocketHandshakeIsClassified() throws {
        let base = "GET /ws HTTP/1.1\r\nUpgrade: WebSocket\r\nConnection: keep-alive, Upgrade\r\n"
        let key = "dGhlIHNhbXBsZSBub25jZQ=="
        var parser = makeParser()
        let valid = try parseAll(base + "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: \(key)\r\n\r\n", parser: &parser)
        #expect(valid.first?.head.webSocket == .valid(key: key))

        let oldVersion = try parseAll(base + "Sec-WebSocket-Version: 8\r\nSec-WebSocket-Key: \(key)\r\n\r\n", parser: &parser)
        #expect(oldVersion.first?.head.webSocket == .unsupportedVersion)

        let noKey = try parseAll(base + "Sec-WebSocket-Version: 13\r\n\r\n", parser: &parser)
        guard case .invalid = noKey.first?.head.webSocket else {
            Issue.record("a handshake without a key must be invalid")
            return
        }
        let plain = try parseAll("GET / HTTP/1.1\r\n\r\n", parser: &parser)
        #expect(plain.first?.head.webSocket == WebSocketHandshake.none)
    }
}

extension ParsedRequest: Equatable {
    public static func == (lhs: ParsedRequest, rhs: ParsedRequest) -> Bool {
        lhs.head.target == rhs.head.target && lhs.body == rhs.body
    }
}
