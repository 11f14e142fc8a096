import COpenSSL
import Glibc

/// A server `SSL_CTX` with the certificate chain and key loaded; shared read-only by every loop after `init`.
final class TLSContext: @unchecked Sendable {
    let context: OpaquePointer

    /// Loads the PEM files; throws naming the file that is missing, unreadable or does not match.
    init(_ configuration: TLSConfiguration) throws(HTTPServerError) {
        for (role, path) in [("certificate", configuration.certificatePath), ("private key", configuration.privateKeyPath)] {
            guard access(path, R_OK) == 0 else {
                let reason = String(cString: strerror(errno))
                throw HTTPServerError("cannot read TLS \(role) file '\(path)': \(reason)")
            }
        }
        guard let context = SSL_CTX_new(TLS_server_method()) else {
            throw HTTPServerError("cannot create a TLS context: \(TLSContext.drainErrors())")
        }
        self.context = context
        _ = rivulet_ssl_ctx_set_min_tls12(context)
        _ = rivulet_ssl_ctx_set_server_options(context)
        // Partial writes and a movable buffer let one SSL_write take the whole output queue and retry from
        // wherever the queue's storage is after it grew.
        let mode = SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER | SSL_MODE_RELEASE_BUFFERS
        _ = rivulet_ssl_ctx_set_mode(context, Int(mode))

        guard SSL_CTX_use_certificate_chain_file(context, configuration.certificatePath) == 1 else {
            throw HTTPServerError(
                "cannot load TLS certificate file '\(configuration.certificatePath)': \(TLSContext.drainErrors())")
        }
        guard SSL_CTX_use_PrivateKey_file(context, configuration.privateKeyPath, SSL_FILETYPE_PEM) == 1 else {
            throw HTTPServerError(
                "cannot load TLS private key file '\(configuration.privateKeyPath)': \(TLSContext.drainErrors())")
        }
        guard SSL_CTX_check_private_key(context) == 1 else {
            throw HTTPServerError(
                "TLS private key '\(configuration.privateKeyPath)' does not match certificate "
                    + "'\(configuration.certificatePath)': \(TLSContext.drainErrors())")
        }
    }

    deinit {
        SSL_CTX_free(context)
    }

    /// Creates a server-side session on `fd`; nil when OpenSSL cannot allocate one.
    func makeSession(fd: Int32) -> OpaquePointer? {
        guard let session = SSL_new(context) else { return nil }
        guard SSL_set_fd(session, fd) == 1 else {
            SSL_free(session)
            return nil
        }
        SSL_set_accept_state(session)
        return session
    }

    /// Returns the calling thread's queued OpenSSL errors as one line, oldest first, and clears the queue.
    static func drainErrors() -> String {
        var messages: [String] = []
        while case let code = ERR_get_error(), code != 0 {
            var buffer = [CChar](repeating: 0, count: 256)
            ERR_error_string_n(code, &buffer, buffer.count)
            messages.append(String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))
        }
        return messages.isEmpty ? "unknown OpenSSL error" : messages.joined(separator: "; ")
    }
}
