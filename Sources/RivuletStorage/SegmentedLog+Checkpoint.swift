import Foundation

/// The checkpoint file: a fixed header with its own CRC-32C, then the state bytes.
///
/// ```
/// offset  size  field
///      0     4  magic "RVCP"
///      4     1  format version (1)
///      5     3  reserved, zero
///      8     8  position, little-endian
///     16     8  state length in bytes, little-endian
///     24     4  CRC-32C of bytes 0..<24 and of the state, little-endian
///     28     4  reserved, zero
///     32     n  state
/// ```
enum CheckpointFormat {
    static let magic: [UInt8] = Array("RVCP".utf8)
    static let version: UInt8 = 1
    static let headerBytes = 32

    struct DecodingFailure: Error {
        var reason: String
    }

    static func encode(_ checkpoint: Checkpoint) -> [UInt8] {
        var bytes = magic + [version, 0, 0, 0]
        append(checkpoint.position.rawValue, to: &bytes)
        append(UInt64(checkpoint.state.count), to: &bytes)
        let crc = checksum(header: bytes, state: checkpoint.state)
        append(UInt64(crc), to: &bytes)
        bytes += checkpoint.state
        return bytes
    }

    /// Returns the checkpoint, or the reason the bytes are not a valid one.
    static func decode(_ bytes: [UInt8]) -> Result<Checkpoint, DecodingFailure> {
        guard bytes.count >= headerBytes else { return .failure(DecodingFailure(reason: "file is \(bytes.count) bytes, shorter than the header")) }
        guard Array(bytes[0..<4]) == magic else { return .failure(DecodingFailure(reason: "bad magic")) }
        guard bytes[4] == version else { return .failure(DecodingFailure(reason: "unknown format version \(bytes[4])")) }
        let position = load(bytes, at: 8)
        let stateBytes = load(bytes, at: 16)
        guard stateBytes == UInt64(bytes.count - headerBytes) else {
            return .failure(DecodingFailure(reason: "state length \(stateBytes) does not match the file size \(bytes.count)"))
        }
        let state = Array(bytes[headerBytes...])
        guard UInt32(truncatingIfNeeded: load(bytes, at: 24)) == checksum(header: Array(bytes[0..<24]), state: state) else {
            return .failure(DecodingFailure(reason: "checksum mismatch"))
        }
        return .success(Checkpoint(position: LogPosition(position), state: state))
    }

    private static func checksum(header: [UInt8], state: [UInt8]) -> UInt32 {
        var crc = header.withUnsafeBytes { CRC32C.update(CRC32C.start, $0) }
        crc = state.withUnsafeBytes { CRC32C.update(crc, $0) }
        return CRC32C.finish(crc)
    }

    private static func append(_ value: UInt64, to bytes: inout [UInt8]) {
        for shift in stride(from: 0, to: 64, by: 8) { bytes.append(UInt8(truncatingIfNeeded: value >> UInt64(shift))) }
    }

    private static func load(_ bytes: [UInt8], at offset: Int) -> UInt64 {
        (0..<8).reduce(UInt64(0)) { $0 | UInt64(bytes[offset + $1]) << UInt64(8 * $1) }
    }
}

extension SegmentedLog {
    var checkpointPath: String { directory + "/checkpoint" }

    /// Writes `<directory>/checkpoint` atomically. Under `.interval` and `.never` it first syncs the active
    /// segment, so a checkpoint never points past data that a crash could lose.
    /// Throws `.io` naming the file, `.closed` after `close()`.
    public func writeCheckpoint(_ checkpoint: Checkpoint) throws(StorageError) {
        let active: Segment = try shared.state.withLock { (state) throws(StorageError) in
            guard !state.closed, let active = state.segments.last else { throw .closed }
            return active
        }
        if options.fsync != .always { try FileIO.dataSync(active.file.fd, path: active.file.path) }
        try AtomicFile.write(path: checkpointPath, bytes: CheckpointFormat.encode(checkpoint), mode: 0o600)
        logger.debug("checkpoint written", ["position": String(checkpoint.position.rawValue)])
    }

    /// Reads and verifies `<directory>/checkpoint`; nil when there is none.
    ///
    /// A damaged checkpoint is only a lost shortcut while the log still starts at position 0: then this logs a
    /// warning and returns nil, so the caller replays the whole log. Once segments were released, it throws
    /// `.corrupt` naming the file. A checkpoint past the end of the log also throws `.corrupt`.
    public func latestCheckpoint() throws(StorageError) -> Checkpoint? {
        let (first, end): (UInt64, UInt64) = try shared.state.withLock { (state) throws(StorageError) in
            guard !state.closed, let first = state.segments.first, let last = state.segments.last else { throw .closed }
            return (first.base, last.end)
        }
        guard let bytes = try AtomicFile.read(path: checkpointPath) else { return nil }
        switch CheckpointFormat.decode(bytes) {
        case .success(let checkpoint):
            guard checkpoint.position.rawValue <= end else {
                throw .corrupt("checkpoint file \(checkpointPath) points to position \(checkpoint.position), past the end of the log at \(end)")
            }
            return checkpoint
        case .failure(let failure) where first == 0:
            logger.warning("ignoring a damaged checkpoint; the whole log will be replayed", ["file": checkpointPath, "reason": failure.reason])
            return nil
        case .failure(let failure):
            throw .corrupt("checkpoint file \(checkpointPath) is damaged (\(failure.reason)) and the log before position \(first) was released, so the state cannot be rebuilt: restore the file from a backup")
        }
    }
}
