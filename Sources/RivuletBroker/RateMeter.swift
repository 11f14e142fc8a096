/// Counts messages and bytes in one-second buckets over the last few seconds, for Pulsar-style rates.
///
/// The five buckets are stored inline, not in arrays: every stream, subscription and producer carries
/// meters, and three arrays per meter cost about 240 heap bytes each, which dominated an idle stream's memory.
struct RateMeter {
    static let windowSeconds: Int64 = 5

    private struct Bucket {
        var second: Int64 = -1
        var count = 0
        var bytes = 0
    }

    private var buckets = (Bucket(), Bucket(), Bucket(), Bucket(), Bucket())
    private(set) var totalCount = 0
    private(set) var totalBytes = 0

    private subscript(slot: Int) -> Bucket {
        get {
            switch slot {
            case 0: buckets.0
            case 1: buckets.1
            case 2: buckets.2
            case 3: buckets.3
            default: buckets.4
            }
        }
        set {
            switch slot {
            case 0: buckets.0 = newValue
            case 1: buckets.1 = newValue
            case 2: buckets.2 = newValue
            case 3: buckets.3 = newValue
            default: buckets.4 = newValue
            }
        }
    }

    mutating func record(count: Int = 1, bytes: Int, now: Int64) {
        let second = now / 1000
        let slot = Int(second % RateMeter.windowSeconds)
        var bucket = self[slot]
        if bucket.second != second {
            bucket = Bucket(second: second, count: 0, bytes: 0)
        }
        bucket.count += count
        bucket.bytes += bytes
        self[slot] = bucket
        totalCount += count
        totalBytes += bytes
    }

    /// Returns messages per second and bytes per second over the buckets of the window, the current one included.
    func rates(now: Int64) -> (messages: Double, bytes: Double) {
        let second = now / 1000
        var messages = 0
        var bytes = 0
        for slot in 0..<Int(RateMeter.windowSeconds) {
            let bucket = self[slot]
            guard bucket.second > second - RateMeter.windowSeconds && bucket.second <= second else { continue }
            messages += bucket.count
            bytes += bucket.bytes
        }
        let window = Double(RateMeter.windowSeconds)
        return (Double(messages) / window, Double(bytes) / window)
    }
}
