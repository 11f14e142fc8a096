import RivuletCore
import Synchronization

/// The most recently encoded run of delivery frames, shared by the consumer sockets of one gateway, so a message
/// fanned out to several subscriptions is encoded once rather than once per subscription.
///
/// The engine hands each subscription the same run of consecutive messages in turn, so the cache keeps one run,
/// found by index rather than by hashing: a lookup costs a comparison, and a socket of a single subscription pays
/// almost nothing for it. Only first deliveries are cached, because a redelivery's frame carries its count, and a
/// hit also needs the same publish time. Message ids are never reused by the engine.
final class DeliveryFrameCache: Sendable {
    private struct Run {
        var streamId: UInt64 = 0
        var firstSequence: UInt64 = 0
        var publishTimes: [Int64] = []
        var frames: [[UInt8]] = []
        /// Lookups this run answered; a run replaced with none means the messages are not being fanned out.
        var hits = 0
        /// Runs not kept since the last one that was, while runs go unused.
        var skipped = 0

        func overlaps(_ delivery: Delivery) -> Bool {
            let id = delivery.message.id
            return id.streamId == streamId && id.sequence >= firstSequence
                && id.sequence - firstSequence < UInt64(frames.count)
        }

        func frame(for delivery: Delivery) -> [UInt8]? {
            let id = delivery.message.id
            guard delivery.redeliveryCount == 0, id.streamId == streamId, id.sequence >= firstSequence else { return nil }
            let offset = id.sequence - firstSequence
            guard offset < UInt64(frames.count) else { return nil }
            let index = Int(offset)
            guard publishTimes[index] == delivery.message.publishTime, !frames[index].isEmpty else { return nil }
            return frames[index]
        }
    }

    /// Runs whose frames add up to more bytes are not kept.
    let maxBytes: Int
    /// While runs go unused, only one run in this many is kept, so sockets without fan-out rarely pay for
    /// copying a run, yet fan-out that starts later is still found.
    static let unusedRunInterval = 16
    /// Guards the cached run. The first run is always kept.
    private let run = Mutex(Run(skipped: DeliveryFrameCache.unusedRunInterval))

    init(maxBytes: Int = 4 << 20) {
        self.maxBytes = maxBytes
    }

    /// Returns one frame per delivery, in order, encoding only those not cached. When some had to be encoded and
    /// they are first deliveries of consecutive messages, they become the cached run.
    func frames(for deliveries: [Delivery]) -> [[UInt8]] {
        guard !deliveries.isEmpty else { return [] }
        // An encoded frame is never empty, so an empty slot marks a delivery still to encode.
        let (cached, keepNext) = run.withLock { run -> ([[UInt8]]?, Bool) in
            let keep = run.hits > 0 || run.skipped + 1 >= Self.unusedRunInterval
            guard run.overlaps(deliveries[0]) || run.overlaps(deliveries[deliveries.count - 1]) else {
                return (nil, keep)
            }
            var found = 0
            let frames = deliveries.map { delivery -> [UInt8] in
                guard let frame = run.frame(for: delivery) else { return [] }
                found += 1
                return frame
            }
            run.hits += found
            return (frames, keep)
        }
        var frames = cached ?? Array(repeating: [], count: deliveries.count)
        var missed = false
        for index in deliveries.indices where frames[index].isEmpty {
            frames[index] = PulsarDeliveryFrame.encode(deliveries[index])
            missed = true
        }
        guard missed else { return frames }
        guard keepNext, let replacement = consecutiveRun(deliveries, frames) else {
            run.withLock { $0.skipped += 1 }
            return frames
        }
        run.withLock { $0 = replacement }
        return frames
    }

    /// The number of frames in the cached run.
    var cachedFrameCount: Int { run.withLock { $0.frames.count } }

    private func consecutiveRun(_ deliveries: [Delivery], _ frames: [[UInt8]]) -> Run? {
        let first = deliveries[0].message.id
        var bytes = 0
        for (offset, delivery) in deliveries.enumerated() {
            let id = delivery.message.id
            guard delivery.redeliveryCount == 0, id.streamId == first.streamId,
                id.sequence == first.sequence &+ UInt64(offset) else { return nil }
            bytes += frames[offset].count
        }
        guard bytes <= maxBytes else { return nil }
        return Run(
            streamId: first.streamId, firstSequence: first.sequence,
            publishTimes: deliveries.map(\.message.publishTime), frames: frames)
    }
}
