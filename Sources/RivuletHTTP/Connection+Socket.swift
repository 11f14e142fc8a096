import CLinux
import COpenSSL
import Glibc

/// The outcome of one read or write on the socket or TLS session.
enum SocketResult {
    case bytes(Int)
    case wouldBlock
    case endOfFile
    case failure(String)
}

extension Connection {
    /// Reads once into the loop's buffer, through TLS when the connection has a session.
    func receive() -> SocketResult {
        if let session = tlsSession, mode != .draining {
            return receiveTLS(session)
        }
        let count = loop.readBuffer.withUnsafeMutableBytes { buffer in
            read(fd, buffer.baseAddress, buffer.count)
        }
        if count > 0 { return .bytes(count) }
        if count == 0 { return .endOfFile }
        switch errno {
        case EAGAIN, EWOULDBLOCK: return .wouldBlock
        case EINTR: return receive()
        default: return .failure("read failed: \(SocketSupport.lastErrorText())")
        }
    }

    /// Writes once from the front of the output queue.
    func send() -> SocketResult {
        if let session = tlsSession {
            return sendTLS(session)
        }
        let count = output.withReadableBytes { buffer in
            Glibc.send(fd, buffer.baseAddress, buffer.count, Int32(MSG_NOSIGNAL))
        }
        if count >= 0 { return .bytes(count) }
        switch errno {
        case EAGAIN, EWOULDBLOCK: return .wouldBlock
        case EINTR: return send()
        default: return .failure("write failed: \(SocketSupport.lastErrorText())")
        }
    }

    private func receiveTLS(_ session: OpaquePointer) -> SocketResult {
        ERR_clear_error()
        tlsReadWantsWrite = false
        let count = loop.readBuffer.withUnsafeMutableBytes { buffer in
            SSL_read(session, buffer.baseAddress, Int32(buffer.count))
        }
        if count > 0 { return .bytes(Int(count)) }
        let error = SSL_get_error(session, count)
        switch error {
        case SSL_ERROR_WANT_READ:
            return .wouldBlock
        case SSL_ERROR_WANT_WRITE:
            tlsReadWantsWrite = true
            return .wouldBlock
        case SSL_ERROR_ZERO_RETURN:
            return .endOfFile
        case SSL_ERROR_SYSCALL where ERR_peek_error() == 0:
            return errno == 0 || errno == ECONNRESET ? .endOfFile : .failure("TLS read failed: \(SocketSupport.lastErrorText())")
        default:
            return .failure("TLS error: \(TLSContext.drainErrors())")
        }
    }

    private func sendTLS(_ session: OpaquePointer) -> SocketResult {
        ERR_clear_error()
        let count = output.withReadableBytes { buffer in
            SSL_write(session, buffer.baseAddress, Int32(min(buffer.count, Int(Int32.max))))
        }
        if count > 0 { return .bytes(Int(count)) }
        switch SSL_get_error(session, count) {
        case SSL_ERROR_WANT_WRITE, SSL_ERROR_WANT_READ:
            return .wouldBlock
        case SSL_ERROR_SYSCALL where ERR_peek_error() == 0:
            return .failure("TLS write failed: \(SocketSupport.lastErrorText())")
        default:
            return .failure("TLS error: \(TLSContext.drainErrors())")
        }
    }
}
