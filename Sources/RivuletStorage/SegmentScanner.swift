/// Reads the records of one segment file in order, with large sequential reads into a reused buffer.
enum SegmentScanner {
    enum Outcome: Equatable {
        /// Every byte up to the end was a valid record.
        case complete
        /// The record at `offset` is torn or corrupt; `reason` describes the damage.
        case stopped(offset: UInt64, reason: String)
    }

    static let chunkBytes = 1 << 20

    /// Visits each valid record of `file` between byte offsets `start` and `end` and stops at the first invalid
    /// one. Throws what `visit` throws, and `StorageError.io` when reading fails.
    static func scan(
        _ file: FileHandleBox, from start: UInt64, to end: UInt64, buffer: ByteBuffer,
        visit: (_ offset: UInt64, _ record: RecordFormat.View) throws -> Void
    ) throws -> Outcome {
        buffer.removeAll()
        var bufferOffset = start
        var consumed = 0

        while true {
            let recordOffset = bufferOffset + UInt64(consumed)
            let parsed = RecordFormat.parse(UnsafeRawBufferPointer(rebasing: buffer.bytes[consumed...]))
            switch parsed {
            case .valid(let view):
                try visit(recordOffset, view)
                consumed += view.totalBytes
            case .invalid(let reason):
                return .stopped(offset: recordOffset, reason: reason)
            case .incomplete(let totalBytes):
                if recordOffset == end { return .complete }
                if recordOffset + UInt64(totalBytes) > end {
                    let reason = buffer.count - consumed < RecordFormat.headerBytes ? "header cut short" : "record cut short"
                    return .stopped(offset: recordOffset, reason: reason)
                }
                buffer.removeFirst(consumed)
                bufferOffset = recordOffset
                consumed = 0
                let requested = max(totalBytes - buffer.count, chunkBytes)
                let readable = Int(min(UInt64(requested), end - bufferOffset - UInt64(buffer.count)))
                let destination = buffer.reserveAppend(readable)
                let fileOffset = bufferOffset + UInt64(buffer.count - readable)
                let count = try FileIO.preadFully(file.fd, into: destination, count: readable, at: fileOffset, path: file.path)
                buffer.removeLast(readable - count)
                if count < readable {
                    return .stopped(offset: recordOffset, reason: "file ends at \(fileOffset + UInt64(count)), before its expected size")
                }
            }
        }
    }
}
