import RivuletCore
import Testing

@testable import RivuletAPI

@Suite struct DeliveryFrameCacheTests {
    private func delivery(_ sequence: UInt64, stream: UInt64 = 7, publishTime: Int64 = 1_700_000_000_000,
                          redeliveries: Int = 0) -> Delivery {
        let message = StoredMessage(
            id: MessageID(streamId: stream, sequence: sequence), publishTime: publishTime,
            payload: Array("payload \(sequence)".utf8))
        return Delivery(message: message, redeliveryCount: redeliveries)
    }

    @Test func framesMatchDirectEncoding() {
        let cache = DeliveryFrameCache()
        let deliveries = (1...5).map { delivery($0) }
        let expected = deliveries.map(PulsarDeliveryFrame.encode)

        #expect(cache.frames(for: deliveries) == expected)
        #expect(cache.cachedFrameCount == 5)
        #expect(cache.frames(for: deliveries) == expected)
        #expect(cache.frames(for: Array(deliveries[1...3])) == Array(expected[1...3]))
    }

    @Test func redeliveryGetsItsOwnCount() {
        let cache = DeliveryFrameCache()
        _ = cache.frames(for: [delivery(1), delivery(2)])
        let redelivered = delivery(2, redeliveries: 3)

        #expect(cache.frames(for: [redelivered]) == [PulsarDeliveryFrame.encode(redelivered)])
    }

    @Test func otherStreamOrPublishTimeIsEncodedAfresh() {
        let cache = DeliveryFrameCache()
        _ = cache.frames(for: [delivery(1), delivery(2)])
        let otherStream = delivery(1, stream: 8)
        let otherTime = delivery(2, publishTime: 1_800_000_000_000)

        #expect(cache.frames(for: [otherStream]) == [PulsarDeliveryFrame.encode(otherStream)])
        #expect(cache.frames(for: [otherTime]) == [PulsarDeliveryFrame.encode(otherTime)])
    }

    @Test func runLargerThanLimitStillEncodes() {
        let cache = DeliveryFrameCache(maxBytes: 10)
        let deliveries = (1...3).map { delivery($0) }
        let expected = deliveries.map(PulsarDeliveryFrame.encode)

        #expect(cache.frames(for: deliveries) == expected)
        #expect(cache.cachedFrameCount == 0)
        #expect(cache.frames(for: deliveries) == expected)
    }

    @Test func gapsAndEmptyBatchesAreHandled() {
        let cache = DeliveryFrameCache()
        let deliveries = [delivery(1), delivery(3), delivery(4)]

        #expect(cache.frames(for: []).isEmpty)
        #expect(cache.frames(for: deliveries) == deliveries.map(PulsarDeliveryFrame.encode))
        #expect(cache.cachedFrameCount == 0)
    }
}
