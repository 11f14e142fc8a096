import Foundation

/// Small files replaced all at once: a reader sees the old content or the new, never a mix, even after a crash.
public enum AtomicFile {
    /// Writes `bytes` to `path` through `path.tmp`: write, fsync, rename over `path`, fsync the directory.
    /// Throws `StorageError.io` naming the file; on failure the old content of `path` is untouched.
    public static func write(path: String, bytes: [UInt8], mode: mode_t = 0o600) throws(StorageError) {
        let temporary = path + ".tmp"
        let fd = try FileIO.open(temporary, O_WRONLY | O_CREAT | O_TRUNC, mode: mode)
        do throws(StorageError) {
            try FileIO.pwriteAll(fd, bytes, at: 0, path: temporary)
            // O_CREAT applies the umask; the caller asked for exactly `mode`.
            guard fchmod(fd, mode) == 0 else { throw FileIO.failure("fchmod", temporary) }
            try FileIO.fullSync(fd, path: temporary)
        } catch {
            Foundation.close(fd)
            unlink(temporary)
            throw error
        }
        Foundation.close(fd)
        guard rename(temporary, path) == 0 else {
            let failure = FileIO.failure("rename to \(path)", temporary)
            unlink(temporary)
            throw failure
        }
        try FileIO.syncDirectory(directoryName(of: path))
    }

    /// Returns the content of `path`, or nil if it does not exist. Throws `StorageError.io` for other failures.
    public static func read(path: String) throws(StorageError) -> [UInt8]? {
        guard let fd = try FileIO.openIfExists(path, O_RDONLY) else { return nil }
        defer { Foundation.close(fd) }
        let size = Int(try FileIO.fileSize(fd, path: path))
        // A file that shrank between fstat and read is returned as it is now.
        let bytes = try FileIO.pread(fd, count: size, at: 0, path: path)
        return bytes
    }

    static func directoryName(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        return slash == path.startIndex ? "/" : String(path[..<slash])
    }
}
