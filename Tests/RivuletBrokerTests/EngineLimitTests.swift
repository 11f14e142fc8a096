import RivuletCore
import Testing
@testable import RivuletBroker

struct EngineLimitTests {
    @Test func streamsPerFabricAreBounded() throws {
        var configuration = BrokerConfiguration()
        configuration.maxStreamsPerFabric = 2
        let harness = try Harness(configuration: configuration)
        let engine = harness.engine
        try engine.createStream(StreamAddress(tenant: "acme", fabric: "_system", scope: .global, name: "one"))
        try engine.createStream(StreamAddress(tenant: "acme", fabric: "_system", scope: .local, name: "two"))

        let third = StreamAddress(tenant: "acme", fabric: "_system", scope: .global, name: "three")
        #expect(throws: EngineError.notAllowed("fabric '_system' already has the maximum of 2 streams: delete one first")) {
            try engine.createStream(third)
        }
        // Another tenant's fabric counts separately.
        try engine.createStream(StreamAddress(tenant: "other", fabric: "_system", scope: .global, name: "three"))

        try engine.deleteStream(StreamAddress(tenant: "acme", fabric: "_system", scope: .global, name: "one"), force: true)
        try engine.createStream(third)
    }

    @Test func subscriptionsPerStreamAreBounded() throws {
        var configuration = BrokerConfiguration()
        configuration.maxSubscriptionsPerStream = 2
        let harness = try Harness(configuration: configuration)
        let first = try harness.subscribe("first", sink: RecordingSink())
        let second = try harness.subscribe("second", sink: RecordingSink())
        #expect(throws: EngineError.notAllowed(
            "stream 'c8globals.orders' already has the maximum of 2 subscriptions: delete one first")) {
            _ = try harness.subscribe("third", sink: RecordingSink())
        }

        // Reconnecting to an existing subscription is not a new one.
        first.close()
        let again = try harness.subscribe("first", sink: RecordingSink())
        again.close()
        second.close()
        try harness.engine.deleteSubscription(harness.address, subscription: "second")
        _ = try harness.subscribe("third", sink: RecordingSink())
    }
}
