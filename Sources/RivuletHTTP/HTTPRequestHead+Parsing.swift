import RivuletCore

extension HTTPRequestParser {
    /// Parses a request line and header fields; `bytes` ends with the blank line.
    static func parseHead(_ bytes: ArraySlice<UInt8>) throws(HTTPParseError) -> HTTPRequestHead {
        var lines = bytes.split(separator: 0x0A, omittingEmptySubsequences: false).map { line in
            line.last == 0x0D ? line.dropLast() : line
        }
        while let last = lines.last, last.isEmpty { lines.removeLast() }
        guard let requestLine = lines.first else { throw .badRequest("missing request line") }

        var head = try parseRequestLine(requestLine)
        for line in lines.dropFirst() {
            let (name, value) = try parseHeaderLine(line)
            head.headers.add(name: name, value: value)
        }

        let connectionTokens = tokens(of: "Connection", in: head.headers)
        if head.minorVersion == 1 {
            head.keepAlive = !connectionTokens.contains("close")
            head.expectsContinue = head.headers["Expect"]?.trimmed().lowercased() == "100-continue"
        } else {
            head.keepAlive = connectionTokens.contains("keep-alive") && !connectionTokens.contains("close")
        }
        head.webSocket = webSocketHandshake(head, connectionTokens: connectionTokens)
        return head
    }

    /// Returns the declared body length, nil when absent. Repeated equal values (`5, 5`) count as one, and
    /// differing values are rejected.
    static func contentLength(_ headers: HTTPHeaders) throws(HTTPParseError) -> Int? {
        var length: Int?
        for (name, value) in headers where name.lowercased() == "content-length" {
            for part in value.split(separator: ",", omittingEmptySubsequences: false) {
                let digits = part.trimmed()
                guard !digits.isEmpty, digits.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) else {
                    throw .badRequest("invalid Content-Length")
                }
                guard let parsed = Int(digits) else { throw .bodyTooLarge }
                guard length == nil || length == parsed else { throw .badRequest("conflicting Content-Length values") }
                length = parsed
            }
        }
        return length
    }

    private static func parseRequestLine(_ line: ArraySlice<UInt8>) throws(HTTPParseError) -> HTTPRequestHead {
        let parts = line.split(separator: 0x20, omittingEmptySubsequences: false)
        guard parts.count == 3 else { throw .badRequest("malformed request line") }
        let (method, target, version) = (parts[0], parts[1], parts[2])

        guard !method.isEmpty, method.allSatisfy(isTokenByte) else { throw .badRequest("invalid method") }
        guard !target.isEmpty, target.allSatisfy({ $0 > 0x20 && $0 < 0x7F }) else {
            throw .badRequest("invalid request target")
        }
        let isAsterisk = target.count == 1 && target.first == UInt8(ascii: "*")
        guard target.first == UInt8(ascii: "/") || isAsterisk else {
            throw .badRequest("request target must be an absolute path")
        }

        let minorVersion: Int
        switch Array(version) {
        case Array("HTTP/1.1".utf8): minorVersion = 1
        case Array("HTTP/1.0".utf8): minorVersion = 0
        case let other where other.count == 8 && other.starts(with: Array("HTTP/".utf8))
            && isDigit(other[5]) && other[6] == UInt8(ascii: ".") && isDigit(other[7]):
            throw .versionNotSupported
        default:
            throw .badRequest("invalid HTTP version")
        }

        return HTTPRequestHead(
            method: String(decoding: method, as: UTF8.self),
            target: String(decoding: target, as: UTF8.self),
            minorVersion: minorVersion,
            headers: HTTPHeaders(),
            keepAlive: minorVersion == 1,
            expectsContinue: false,
            webSocket: .none
        )
    }

    private static func parseHeaderLine(_ line: ArraySlice<UInt8>) throws(HTTPParseError) -> (String, String) {
        guard let first = line.first, first != 0x20, first != 0x09 else {
            throw .badRequest("folded header lines are not allowed")
        }
        guard let colon = line.firstIndex(of: UInt8(ascii: ":")) else { throw .badRequest("header line without colon") }
        let name = line[line.startIndex..<colon]
        guard !name.isEmpty, name.allSatisfy(isTokenByte) else { throw .badRequest("invalid header name") }

        var value = line[(colon + 1)...]
        while let byte = value.first, byte == 0x20 || byte == 0x09 { value = value.dropFirst() }
        while let byte = value.last, byte == 0x20 || byte == 0x09 { value = value.dropLast() }
        guard value.allSatisfy({ $0 == 0x09 || ($0 >= 0x20 && $0 != 0x7F) }) else {
            throw .badRequest("invalid character in header value")
        }
        return (String(decoding: name, as: UTF8.self), String(decoding: value, as: UTF8.self))
    }

    private static func webSocketHandshake(
        _ head: HTTPRequestHead, connectionTokens: Set<String>
    ) -> WebSocketHandshake {
        guard tokens(of: "Upgrade", in: head.headers).contains("websocket") else { return .none }
        guard head.method == "GET", head.minorVersion == 1 else {
            return .invalid("WebSocket upgrade needs GET and HTTP/1.1")
        }
        guard connectionTokens.contains("upgrade") else { return .invalid("Connection header lacks 'upgrade'") }
        guard head.headers["Sec-WebSocket-Version"]?.trimmed() == "13" else { return .unsupportedVersion }
        guard let key = head.headers["Sec-WebSocket-Key"]?.trimmed(), Base64.decode(key)?.count == 16 else {
            return .invalid("missing or invalid Sec-WebSocket-Key")
        }
        return .valid(key: key)
    }

    /// Lower-cased comma-separated tokens of every field named `name`.
    private static func tokens(of name: String, in headers: HTTPHeaders) -> Set<String> {
        var result = Set<String>()
        let lowered = name.lowercased()
        for (field, value) in headers where field.lowercased() == lowered {
            for token in value.split(separator: ",") {
                result.insert(token.trimmed().lowercased())
            }
        }
        return result
    }

    private static func isDigit(_ byte: UInt8) -> Bool { byte >= 0x30 && byte <= 0x39 }

    /// RFC 9110 `tchar`.
    private static func isTokenByte(_ byte: UInt8) -> Bool {
        switch byte {
        case 0x30...0x39, 0x41...0x5A, 0x61...0x7A: true
        case UInt8(ascii: "!"), UInt8(ascii: "#"), UInt8(ascii: "$"), UInt8(ascii: "%"), UInt8(ascii: "&"),
            UInt8(ascii: "'"), UInt8(ascii: "*"), UInt8(ascii: "+"), UInt8(ascii: "-"), UInt8(ascii: "."),
            UInt8(ascii: "^"), UInt8(ascii: "_"), UInt8(ascii: "`"), UInt8(ascii: "|"), UInt8(ascii: "~"):
            true
        default: false
        }
    }
}

extension StringProtocol {
    /// The text without leading and trailing spaces and tabs.
    func trimmed() -> String {
        var slice = Substring(self)
        while let first = slice.first, first == " " || first == "\t" { slice = slice.dropFirst() }
        while let last = slice.last, last == " " || last == "\t" { slice = slice.dropLast() }
        return String(slice)
    }
}
