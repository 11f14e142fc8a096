import Glibc

/// Serializes responses. The transport owns the framing headers, so a service's own `Content-Length`,
/// `Transfer-Encoding`, `Connection` and `Date` are dropped and replaced.
enum HTTPResponseEncoder {
    private static let framingHeaders: Set<String> = ["content-length", "transfer-encoding", "connection", "date"]

    static func append(
        _ response: HTTPResponse, keepAlive: Bool, isHead: Bool, date: String, to output: inout ByteQueue
    ) {
        let bodyAllowed = !(100...199).contains(response.status) && response.status != 204 && response.status != 304
        var head = "HTTP/1.1 \(response.status) \(reasonPhrase(response.status))\r\n"
        var hasServer = false
        for (name, value) in response.headers where !framingHeaders.contains(name.lowercased()) {
            if name.lowercased() == "server" { hasServer = true }
            head += "\(sanitized(name)): \(sanitized(value))\r\n"
        }
        if !hasServer { head += "Server: rivulet\r\n" }
        head += "Date: \(date)\r\n"
        if bodyAllowed { head += "Content-Length: \(response.body.count)\r\n" }
        head += keepAlive ? "Connection: keep-alive\r\n\r\n" : "Connection: close\r\n\r\n"
        output.append(contentsOf: head.utf8)
        if bodyAllowed && !isHead {
            output.append(contentsOf: response.body)
        }
    }

    /// `101 Switching Protocols` for an accepted WebSocket handshake, plus the service's extra headers.
    static func appendUpgrade(acceptValue: String, headers: [(String, String)], to output: inout ByteQueue) {
        var head = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        head += "Sec-WebSocket-Accept: \(acceptValue)\r\n"
        let reserved: Set<String> = ["upgrade", "connection", "sec-websocket-accept", "content-length"]
        for (name, value) in headers where !reserved.contains(name.lowercased()) {
            head += "\(sanitized(name)): \(sanitized(value))\r\n"
        }
        head += "\r\n"
        output.append(contentsOf: head.utf8)
    }

    /// Header text with CR and LF replaced, so a value can never start a new header line.
    private static func sanitized(_ text: String) -> String {
        guard text.utf8.contains(where: { $0 == 0x0D || $0 == 0x0A }) else { return text }
        return String(text.map { $0 == "\r" || $0 == "\n" || $0 == "\r\n" ? " " : $0 })
    }

    static func reasonPhrase(_ status: Int) -> String {
        switch status {
        case 100: "Continue"
        case 101: "Switching Protocols"
        case 200: "OK"
        case 201: "Created"
        case 202: "Accepted"
        case 204: "No Content"
        case 301: "Moved Permanently"
        case 302: "Found"
        case 304: "Not Modified"
        case 400: "Bad Request"
        case 401: "Unauthorized"
        case 403: "Forbidden"
        case 404: "Not Found"
        case 405: "Method Not Allowed"
        case 408: "Request Timeout"
        case 409: "Conflict"
        case 411: "Length Required"
        case 412: "Precondition Failed"
        case 413: "Content Too Large"
        case 415: "Unsupported Media Type"
        case 422: "Unprocessable Content"
        case 426: "Upgrade Required"
        case 429: "Too Many Requests"
        case 431: "Request Header Fields Too Large"
        case 500: "Internal Server Error"
        case 501: "Not Implemented"
        case 502: "Bad Gateway"
        case 503: "Service Unavailable"
        case 505: "HTTP Version Not Supported"
        default: "Status \(status)"
        }
    }
}

/// The IMF-fixdate for the `Date` header, recomputed at most once per second.
struct HTTPDateCache {
    private var second: Int = -1
    private var text = ""

    private static let weekdays = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"]
    private static let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]

    mutating func current() -> String {
        var now = time(nil)
        guard now != second else { return text }
        second = now
        var parts = tm()
        gmtime_r(&now, &parts)
        text = "\(Self.weekdays[Int(parts.tm_wday)]), \(Self.twoDigits(parts.tm_mday)) \(Self.months[Int(parts.tm_mon)]) "
            + "\(parts.tm_year + 1900) \(Self.twoDigits(parts.tm_hour)):\(Self.twoDigits(parts.tm_min)):"
            + "\(Self.twoDigits(parts.tm_sec)) GMT"
        return text
    }

    private static func twoDigits(_ value: Int32) -> String {
        value < 10 ? "0\(value)" : "\(value)"
    }
}
