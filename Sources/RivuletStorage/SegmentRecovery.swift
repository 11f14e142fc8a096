import Foundation
import RivuletCore

/// Opens the segment files of a log directory at startup and checks every record.
///
/// The last segment may end in a torn write (records the writer had not synced when the machine stopped): it is
/// cut at the last valid record, with one warning. When valid records follow the damaged one, the cut bytes are
/// also saved beside the segment and the line is an error. Sealed segments were synced before the next one was
/// created, so any damage there is corruption of acknowledged data and fails the open.
struct SegmentRecovery {
    /// Bytes at most copied to a `.cut-<offset>` side file; a bound for a tail of garbage or preallocated zeros.
    static let maxSavedBytes: UInt64 = 128 << 20

    let logDirectory: String
    let logger: Logger

    func recover() throws(StorageError) -> [Segment] {
        let bases = try segmentBases()
        guard !bases.isEmpty else { return [try createFirstSegment()] }

        let buffer = ByteBuffer(capacity: SegmentScanner.chunkBytes)
        var segments: [Segment] = []
        var cutBytes: UInt64 = 0
        for (index, base) in bases.enumerated() {
            let path = logDirectory + "/" + Segment.fileName(base: base)
            let file = FileHandleBox(fd: try FileIO.open(path, O_RDWR), path: path)
            if let previous = segments.last, previous.end != base {
                throw .corrupt("segment file \(path) starts at position \(base) but the segment before it ends at \(previous.end): a segment file is missing or damaged")
            }
            let isLast = index == bases.count - 1
            let (size, cut) = try checkRecords(file, isLast: isLast, buffer: buffer)
            cutBytes += cut
            segments.append(Segment(base: base, size: size, file: file))
        }
        logger.info("log recovered", [
            "segments": String(segments.count), "first": String(segments[0].base),
            "end": String(segments[segments.count - 1].end), "cutBytes": String(cutBytes),
        ])
        return segments
    }

    /// Returns the bases of the segment files, sorted; other files in the directory are ignored.
    private func segmentBases() throws(StorageError) -> [UInt64] {
        let names: [String]
        do {
            names = try FileManager.default.contentsOfDirectory(atPath: logDirectory)
        } catch {
            throw .io("cannot list \(logDirectory): \(error.localizedDescription)")
        }
        var bases: [UInt64] = []
        for name in names {
            if let base = Segment.base(fromFileName: name) {
                bases.append(base)
            } else if !name.contains(".seg.cut-") {
                logger.warning("ignoring unexpected file in the log directory", ["file": logDirectory + "/" + name])
            }
        }
        return bases.sorted()
    }

    private func createFirstSegment() throws(StorageError) -> Segment {
        let path = logDirectory + "/" + Segment.fileName(base: 0)
        let fd = try FileIO.open(path, O_RDWR | O_CREAT | O_EXCL, mode: 0o600)
        try FileIO.syncDirectory(logDirectory)
        logger.info("log created", ["file": path])
        return Segment(base: 0, size: 0, file: FileHandleBox(fd: fd, path: path))
    }

    /// Verifies every record of one segment; returns its valid size and how many bytes were cut from its tail.
    private func checkRecords(_ file: FileHandleBox, isLast: Bool, buffer: ByteBuffer) throws(StorageError) -> (UInt64, UInt64) {
        let fileSize = try FileIO.fileSize(file.fd, path: file.path)
        let outcome: SegmentScanner.Outcome
        do {
            outcome = try SegmentScanner.scan(file, from: 0, to: fileSize, buffer: buffer) { _, _ in }
        } catch {
            throw error as? StorageError ?? .io("reading \(file.path) failed: \(error)")
        }
        guard case .stopped(let offset, let reason) = outcome else { return (fileSize, 0) }

        guard isLast else {
            throw .corrupt("sealed segment file \(file.path) is corrupt at offset \(offset) (\(reason)); records after it would be lost, so the log was not opened: restore the file or move the log directory aside")
        }
        let cutBytes = fileSize - offset
        guard try validRecordFollows(file, badRecordAt: offset, fileSize: fileSize) else {
            try cut(file, at: offset)
            logger.warning("cut a torn tail from the log", [
                "file": file.path, "offset": String(offset), "bytes": String(cutBytes), "reason": reason,
            ])
            return (offset, cutBytes)
        }
        // Valid records behind a damaged one: either the machine stopped while pages of one write reached the
        // disk out of order (nothing after the damage was acknowledged), or the disk damaged acknowledged data.
        // Recovery cannot tell which, so it keeps the cut bytes in a side file and reports an error.
        let savedPath = "\(file.path).cut-\(offset)"
        let saved = try FileIO.pread(file.fd, count: Int(min(cutBytes, Self.maxSavedBytes)), at: offset, path: file.path)
        try AtomicFile.write(path: savedPath, bytes: saved, mode: 0o600)
        try cut(file, at: offset)
        logger.error("cut the log at a damaged record followed by valid records; the cut bytes were saved", [
            "file": file.path, "offset": String(offset), "bytes": String(cutBytes), "reason": reason,
            "savedTo": savedPath, "savedBytes": String(saved.count),
        ])
        return (offset, fileSize - offset)
    }

    private func cut(_ file: FileHandleBox, at offset: UInt64) throws(StorageError) {
        try FileIO.truncate(file.fd, to: offset, path: file.path)
        try FileIO.dataSync(file.fd, path: file.path)
    }

    /// Returns whether the record after a damaged one, found through the damaged record's length field, is valid.
    /// A torn write leaves nothing valid behind it; a flipped bit in the middle of the log does.
    private func validRecordFollows(_ file: FileHandleBox, badRecordAt offset: UInt64, fileSize: UInt64) throws(StorageError) -> Bool {
        let header = try FileIO.pread(file.fd, count: RecordFormat.headerBytes, at: offset, path: file.path)
        guard header.count == RecordFormat.headerBytes, header[0] == RecordFormat.magic0, header[1] == RecordFormat.magic1 else {
            return false
        }
        let bodyBytes = UInt64(header[4]) | UInt64(header[5]) << 8 | UInt64(header[6]) << 16 | UInt64(header[7]) << 24
        let next = offset + UInt64(RecordFormat.headerBytes) + bodyBytes
        guard next < fileSize else { return false }

        let scratch = ByteBuffer(capacity: RecordFormat.headerBytes)
        var found = false
        do {
            _ = try SegmentScanner.scan(file, from: next, to: fileSize, buffer: scratch) { _, _ in
                found = true
                throw CancellationError()
            }
        } catch is CancellationError {
        } catch {
            throw error as? StorageError ?? .io("reading \(file.path) failed: \(error)")
        }
        return found
    }
}
