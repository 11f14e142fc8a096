import CLinux
import Glibc

/// Listening sockets and peer addresses; thin wrappers over the socket calls.
enum SocketSupport {
    /// Resolves `host` with `getaddrinfo` into passive TCP addresses, in the resolver's order.
    static func resolve(host: String, port: Int) throws(HTTPServerError) -> [[UInt8]] {
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV
        var result: UnsafeMutablePointer<addrinfo>?
        let status = getaddrinfo(host, String(port), &hints, &result)
        guard status == 0, let first = result else {
            throw HTTPServerError("cannot resolve listen host '\(host)': \(String(cString: gai_strerror(status)))")
        }
        defer { freeaddrinfo(first) }

        var addresses: [[UInt8]] = []
        var cursor: UnsafeMutablePointer<addrinfo>? = first
        while let entry = cursor {
            if let address = entry.pointee.ai_addr {
                let bytes = UnsafeRawBufferPointer(start: address, count: Int(entry.pointee.ai_addrlen))
                addresses.append(Array(bytes))
            }
            cursor = entry.pointee.ai_next
        }
        guard !addresses.isEmpty else { throw HTTPServerError("listen host '\(host)' resolved to no address") }
        // IPv4 first, so "localhost" listens where most clients connect even when the resolver lists ::1 first.
        // NOTE: only the first address that binds is served; a name with both families gets one of them.
        let isIPv4 = { (address: [UInt8]) in address.withUnsafeBytes { Int32($0.load(as: sockaddr.self).sa_family) == AF_INET } }
        return addresses.filter(isIPv4) + addresses.filter { !isIPv4($0) }
    }

    /// Creates a non-blocking listening socket on `address` with `SO_REUSEPORT`, so each loop can have its own.
    static func makeListener(address: [UInt8], display: String) throws(HTTPServerError) -> Int32 {
        let family = address.withUnsafeBytes { Int32($0.load(as: sockaddr.self).sa_family) }
        let fd = socket(family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw HTTPServerError("cannot create a socket for \(display): \(lastErrorText())") }
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, socklen_t(MemoryLayout<Int32>.size))
        if family == AF_INET6 {
            setsockopt(fd, Int32(IPPROTO_IPV6), IPV6_V6ONLY, &one, socklen_t(MemoryLayout<Int32>.size))
        }
        let bound = address.withUnsafeBytes { buffer in
            bind(fd, buffer.baseAddress!.assumingMemoryBound(to: sockaddr.self), socklen_t(buffer.count))
        }
        guard bound == 0, listen(fd, 4096) == 0 else {
            let reason = lastErrorText()
            close(fd)
            throw HTTPServerError("cannot listen on \(display): \(reason)")
        }
        return fd
    }

    /// Throws when another socket is bound to `address`, even one with `SO_REUSEPORT`. Without this check a
    /// second server of the same user would share the port silently.
    static func checkAddressFree(address: [UInt8], display: String) throws(HTTPServerError) {
        let family = address.withUnsafeBytes { Int32($0.load(as: sockaddr.self).sa_family) }
        let fd = socket(family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw HTTPServerError("cannot create a socket for \(display): \(lastErrorText())") }
        defer { close(fd) }
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        if family == AF_INET6 {
            setsockopt(fd, Int32(IPPROTO_IPV6), IPV6_V6ONLY, &one, socklen_t(MemoryLayout<Int32>.size))
        }
        let bound = address.withUnsafeBytes { buffer in
            bind(fd, buffer.baseAddress!.assumingMemoryBound(to: sockaddr.self), socklen_t(buffer.count))
        }
        guard bound == 0 else { throw HTTPServerError("cannot listen on \(display): \(lastErrorText())") }
    }

    /// Returns the local address of `fd` as raw sockaddr bytes.
    static func localAddress(of fd: Int32) -> [UInt8] {
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        _ = withUnsafeMutablePointer(to: &storage) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        return withUnsafeBytes(of: &storage) { Array($0.prefix(Int(length))) }
    }

    static func port(of address: [UInt8]) -> Int {
        address.withUnsafeBytes { buffer in
            let family = Int32(buffer.load(as: sockaddr.self).sa_family)
            let networkPort = family == AF_INET6
                ? buffer.load(as: sockaddr_in6.self).sin6_port
                : buffer.load(as: sockaddr_in.self).sin_port
            return Int(UInt16(bigEndian: networkPort))
        }
    }

    static func withPort(_ address: [UInt8], _ port: Int) -> [UInt8] {
        var copy = address
        // sin_port and sin6_port share offset 2 in sockaddr_in and sockaddr_in6.
        copy[2] = UInt8(port >> 8)
        copy[3] = UInt8(port & 0xFF)
        return copy
    }

    /// `ip:port` for IPv4 and `[ip]:port` for IPv6.
    static func describe(_ address: UnsafeRawBufferPointer) -> String {
        let family = Int32(address.load(as: sockaddr.self).sa_family)
        var text = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN) + 1)
        if family == AF_INET6 {
            var in6 = address.load(as: sockaddr_in6.self)
            inet_ntop(AF_INET6, &in6.sin6_addr, &text, socklen_t(text.count))
            return "[\(text.asString)]:\(UInt16(bigEndian: in6.sin6_port))"
        }
        var in4 = address.load(as: sockaddr_in.self)
        inet_ntop(AF_INET, &in4.sin_addr, &text, socklen_t(text.count))
        return "\(text.asString):\(UInt16(bigEndian: in4.sin_port))"
    }

    /// Returns the host part of a `describe` result: `ip` from `ip:port`, `ipv6` from `[ipv6]:port`.
    static func host(of remoteAddress: String) -> String {
        if remoteAddress.hasPrefix("["), let close = remoteAddress.firstIndex(of: "]") {
            return String(remoteAddress[remoteAddress.index(after: remoteAddress.startIndex)..<close])
        }
        guard let colon = remoteAddress.lastIndex(of: ":") else { return remoteAddress }
        return String(remoteAddress[..<colon])
    }

    static func describe(_ address: [UInt8]) -> String {
        address.withUnsafeBytes { describe($0) }
    }

    static func lastErrorText() -> String {
        String(cString: strerror(errno))
    }
}

/// Monotonic time in nanoseconds, for deadlines.
func monotonicNanoseconds() -> UInt64 {
    var now = timespec()
    clock_gettime(CLOCK_MONOTONIC, &now)
    return UInt64(now.tv_sec) * 1_000_000_000 + UInt64(now.tv_nsec)
}

extension Array where Element == CChar {
    /// The bytes before the first NUL, decoded as UTF-8.
    fileprivate var asString: String {
        String(decoding: prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
