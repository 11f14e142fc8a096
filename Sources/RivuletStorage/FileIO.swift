import Foundation

/// Thin wrappers over POSIX file calls that retry interrupted and partial calls and turn failures into
/// `StorageError.io` messages naming the file and the operation.
enum FileIO {
    static func describe(_ code: Int32) -> String {
        String(cString: strerror(code))
    }

    static func failure(_ operation: String, _ path: String, _ code: Int32 = errno) -> StorageError {
        .io("\(operation) failed for \(path): \(describe(code)) (errno \(code))")
    }

    static func open(_ path: String, _ flags: Int32, mode: mode_t = 0o600) throws(StorageError) -> Int32 {
        guard let fd = try openIfExists(path, flags, mode: mode) else { throw failure("open", path, ENOENT) }
        return fd
    }

    /// Opens `path`, or returns nil if it does not exist (and `flags` do not create it).
    static func openIfExists(_ path: String, _ flags: Int32, mode: mode_t = 0o600) throws(StorageError) -> Int32? {
        while true {
            let fd = Foundation.open(path, flags | O_CLOEXEC, mode)
            if fd >= 0 { return fd }
            let code = errno
            if code == ENOENT { return nil }
            if code != EINTR { throw failure("open", path, code) }
        }
    }

    /// Writes all of `bytes` at `offset`.
    static func pwriteAll(_ fd: Int32, _ bytes: UnsafeRawBufferPointer, at offset: UInt64, path: String) throws(StorageError) {
        var written = 0
        while written < bytes.count {
            let result = Foundation.pwrite(fd, bytes.baseAddress! + written, bytes.count - written, off_t(offset) + off_t(written))
            if result < 0 {
                if errno == EINTR { continue }
                throw failure("write", path)
            }
            written += result
        }
    }

    /// Reads up to `count` bytes at `offset` into `destination`; returns fewer only at end of file.
    static func preadFully(
        _ fd: Int32, into destination: UnsafeMutableRawPointer, count: Int, at offset: UInt64, path: String
    ) throws(StorageError) -> Int {
        var done = 0
        while done < count {
            let result = Foundation.pread(fd, destination + done, count - done, off_t(offset) + off_t(done))
            if result < 0 {
                if errno == EINTR { continue }
                throw failure("read", path)
            }
            if result == 0 { break }
            done += result
        }
        return done
    }

    /// Reads up to `count` bytes at `offset` into a new array; it is shorter only at end of file.
    static func pread(_ fd: Int32, count: Int, at offset: UInt64, path: String) throws(StorageError) -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: count)
        let result = bytes.withUnsafeMutableBytes { buffer -> Result<Int, StorageError> in
            guard let base = buffer.baseAddress else { return .success(0) }
            return Result { () throws(StorageError) in try preadFully(fd, into: base, count: count, at: offset, path: path) }
        }
        let done = try result.get()
        if done < count { bytes.removeLast(count - done) }
        return bytes
    }

    static func pwriteAll(_ fd: Int32, _ bytes: [UInt8], at offset: UInt64, path: String) throws(StorageError) {
        let result = bytes.withUnsafeBytes { buffer -> Result<Void, StorageError> in
            Result { () throws(StorageError) in try pwriteAll(fd, buffer, at: offset, path: path) }
        }
        try result.get()
    }

    static func dataSync(_ fd: Int32, path: String) throws(StorageError) {
        while fdatasync(fd) != 0 {
            if errno != EINTR { throw failure("fdatasync", path) }
        }
    }

    static func fullSync(_ fd: Int32, path: String) throws(StorageError) {
        while fsync(fd) != 0 {
            if errno != EINTR { throw failure("fsync", path) }
        }
    }

    /// Makes a file creation, rename or removal in `directory` durable.
    static func syncDirectory(_ directory: String) throws(StorageError) {
        let fd = try open(directory, O_RDONLY | O_DIRECTORY)
        defer { Foundation.close(fd) }
        try fullSync(fd, path: directory)
    }

    static func fileSize(_ fd: Int32, path: String) throws(StorageError) -> UInt64 {
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw failure("fstat", path) }
        return UInt64(info.st_size)
    }

    static func truncate(_ fd: Int32, to size: UInt64, path: String) throws(StorageError) {
        while ftruncate(fd, off_t(size)) != 0 {
            if errno != EINTR { throw failure("ftruncate", path) }
        }
    }

    /// Creates `path` and its parents if missing, readable by the owner only because they hold message payloads;
    /// fails with a message naming the path if it is not a writable directory.
    static func makeDirectory(_ path: String) throws(StorageError) {
        do {
            try FileManager.default.createDirectory(
                atPath: path, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700]
            )
        } catch {
            throw .io("cannot create directory \(path): \(error.localizedDescription)")
        }
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw .io("\(path) exists but is not a directory")
        }
        guard access(path, W_OK | X_OK) == 0 else {
            throw .io("directory \(path) is not writable: \(describe(errno))")
        }
    }
}

/// An open file descriptor, closed when the last reference goes. Readers hold a reference while they read, so
/// releasing a segment never closes a descriptor under a concurrent `pread`.
final class FileHandleBox: Sendable {
    let fd: Int32
    let path: String

    init(fd: Int32, path: String) {
        self.fd = fd
        self.path = path
    }

    deinit { Foundation.close(fd) }
}
