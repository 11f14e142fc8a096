/// Settings of a `SegmentedLog`, every default in `init`.
public struct LogOptions: Sendable, Equatable {
    /// A segment is sealed and a new one started once the next record would make it larger than this.
    /// A record larger than this gets a segment of its own. At least 4096.
    public var segmentBytes: Int
    /// When an append's completion may run; `.always` (fdatasync per group-committed batch) by default.
    public var fsync: FsyncPolicy
    /// The largest record body accepted; larger appends fail with `StorageError.recordTooLarge`. At most 1 GiB.
    public var maxRecordBytes: Int
    /// The writer writes, syncs and completes the appends it has encoded once they reach this many bytes, so
    /// one fdatasync never covers much more than this. A single append larger than this is still written whole.
    public var maxBatchBytes: Int

    public init(
        segmentBytes: Int = 64 << 20,
        fsync: FsyncPolicy = .always,
        maxRecordBytes: Int = 16 << 20,
        maxBatchBytes: Int = 4 << 20
    ) {
        self.segmentBytes = segmentBytes
        self.fsync = fsync
        self.maxRecordBytes = maxRecordBytes
        self.maxBatchBytes = maxBatchBytes
    }

    /// Returns a description of every invalid setting, or an empty list.
    func problems() -> [String] {
        var problems: [String] = []
        if segmentBytes < 4096 { problems.append("segmentBytes \(segmentBytes) is below 4096") }
        if maxRecordBytes < 0 || maxRecordBytes > RecordFormat.maxBodyBytes {
            problems.append("maxRecordBytes \(maxRecordBytes) is outside 0...\(RecordFormat.maxBodyBytes)")
        }
        if maxBatchBytes < 1 { problems.append("maxBatchBytes \(maxBatchBytes) is below 1") }
        if case .interval(let period) = fsync, period <= .zero { problems.append("fsync interval must be positive") }
        return problems
    }
}
