import Foundation

/// A failed file operation on the accounts file, the JWT secret or the initial password file.
public struct AuthFileError: Error, Sendable, CustomStringConvertible {
    public var path: String
    public var operation: String
    public var errorNumber: Int32

    public var description: String {
        "\(operation) '\(path)' failed: \(String(cString: strerror(errorNumber)))"
    }
}

/// Owner-only files written atomically: `.tmp`, fsync, rename, fsync of the directory.
enum SecureFile {
    /// Replaces `path` with `bytes` (mode 0600) so that a crash leaves either the old or the new content.
    static func writeAtomically(_ bytes: [UInt8], to path: String) throws(AuthFileError) {
        let temporaryPath = path + ".tmp"
        let descriptor = open(temporaryPath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else { throw AuthFileError(path: temporaryPath, operation: "open", errorNumber: errno) }
        do throws(AuthFileError) {
            // open() keeps the mode of an existing leftover .tmp, so set it again.
            guard fchmod(descriptor, 0o600) == 0 else { throw AuthFileError(path: temporaryPath, operation: "chmod", errorNumber: errno) }
            try writeAll(bytes, to: descriptor, path: temporaryPath)
            guard fsync(descriptor) == 0 else { throw AuthFileError(path: temporaryPath, operation: "fsync", errorNumber: errno) }
        } catch {
            close(descriptor)
            unlink(temporaryPath)
            throw error
        }
        close(descriptor)
        guard rename(temporaryPath, path) == 0 else {
            let failure = AuthFileError(path: path, operation: "rename", errorNumber: errno)
            unlink(temporaryPath)
            throw failure
        }
        try syncDirectory(of: path)
    }

    /// Returns the file's bytes, or nil when it does not exist.
    static func read(_ path: String) throws(AuthFileError) -> [UInt8]? {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else {
            if errno == ENOENT { return nil }
            throw AuthFileError(path: path, operation: "open", errorNumber: errno)
        }
        defer { close(descriptor) }
        var contents = [UInt8]()
        var chunk = [UInt8](repeating: 0, count: 65_536)
        while true {
            let count = chunk.withUnsafeMutableBytes { Foundation.read(descriptor, $0.baseAddress, $0.count) }
            if count == 0 { return contents }
            if count < 0 {
                if errno == EINTR { continue }
                throw AuthFileError(path: path, operation: "read", errorNumber: errno)
            }
            contents.append(contentsOf: chunk[0..<count])
        }
    }

    /// Removes group and other permissions from an existing file; returns true when it had any.
    static func restrictToOwner(_ path: String) throws(AuthFileError) -> Bool {
        var status = stat()
        guard stat(path, &status) == 0 else {
            if errno == ENOENT { return false }
            throw AuthFileError(path: path, operation: "stat", errorNumber: errno)
        }
        guard status.st_mode & 0o077 != 0 else { return false }
        guard chmod(path, status.st_mode & 0o700) == 0 else { throw AuthFileError(path: path, operation: "chmod", errorNumber: errno) }
        return true
    }

    /// Creates `path` and any missing parents with mode 0700; an existing directory is left as it is.
    static func createDirectory(_ path: String) throws(AuthFileError) {
        if mkdir(path, 0o700) == 0 || errno == EEXIST { return }
        guard errno == ENOENT else { throw AuthFileError(path: path, operation: "mkdir", errorNumber: errno) }
        let parent = (path as NSString).deletingLastPathComponent
        guard !parent.isEmpty, parent != path else { throw AuthFileError(path: path, operation: "mkdir", errorNumber: ENOENT) }
        try createDirectory(parent)
        guard mkdir(path, 0o700) == 0 || errno == EEXIST else {
            throw AuthFileError(path: path, operation: "mkdir", errorNumber: errno)
        }
    }

    private static func writeAll(_ bytes: [UInt8], to descriptor: Int32, path: String) throws(AuthFileError) {
        var offset = 0
        while offset < bytes.count {
            let written = bytes.withUnsafeBytes { buffer in
                Foundation.write(descriptor, buffer.baseAddress! + offset, buffer.count - offset)
            }
            if written < 0 {
                if errno == EINTR { continue }
                throw AuthFileError(path: path, operation: "write", errorNumber: errno)
            }
            offset += written
        }
    }

    private static func syncDirectory(of path: String) throws(AuthFileError) {
        let directory = (path as NSString).deletingLastPathComponent
        let descriptor = open(directory.isEmpty ? "." : directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard descriptor >= 0 else { throw AuthFileError(path: directory, operation: "open", errorNumber: errno) }
        defer { close(descriptor) }
        guard fsync(descriptor) == 0 else { throw AuthFileError(path: directory, operation: "fsync", errorNumber: errno) }
    }
}
