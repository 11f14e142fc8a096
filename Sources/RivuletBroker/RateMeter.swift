/// Counts messages and bytes in one-second buckets over the last few seconds, for Pulsar-style rates.
struct RateMeter {
    static let windowSeconds: Int64 = 5

    private var seconds = [Int64](repeating: -1, count: Int(RateMeter.windowSeconds))
    private var counts = [Int](repeating: 0, count: Int(RateMeter.windowSeconds))
    private var byteCounts = [Int](repeating: 0, count: Int(RateMeter.windowSeconds))
    private(set) var totalCount = 0
    private(set) var totalBytes = 0

    mutating func record(count: Int = 1, bytes: Int, now: Int64) {
        let second = now / 1000
        let slot = Int(second % RateMeter.windowSeconds)
        if seconds[slot] != second {
            seconds[slot] = second
            counts[slot] = 0
            byteCounts[slot] = 0
        }
        counts[slot] += count
        byteCounts[slot] += bytes
        totalCount += count
        totalBytes += bytes
    }

    /// Returns messages per second and bytes per second over the buckets of the window, the current one included.
    func rates(now: Int64) -> (messages: Double, bytes: Double) {
        let second = now / 1000
        var messages = 0
        var bytes = 0
        for slot in seconds.indices where seconds[slot] > second - RateMeter.windowSeconds && seconds[slot] <= second {
            messages += counts[slot]
            bytes += byteCounts[slot]
        }
        let window = Double(RateMeter.windowSeconds)
        return (Double(messages) / window, Double(bytes) / window)
    }
}
