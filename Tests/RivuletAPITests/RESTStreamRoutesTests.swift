import Foundation
import RivuletCore
import RivuletHTTP
import Testing
@testable import RivuletAPI

@Suite(.timeLimit(.minutes(1)))
struct RESTStreamRoutesTests {
    let harness: RESTHarness

    init() throws { harness = try RESTHarness() }

    func create(_ topic: String) throws {
        try harness.engine.createStream(harness.address(topic))
    }

    // MARK: Create

    @Test(arguments: streamPrefixes)
    func createGlobalStreamOnEveryPrefix(prefix: String) async throws {
        let reply = await harness.send("POST", "\(prefix)/streams/orders?global=true")
        #expect(reply.status == 202)
        #expect(reply.code == 202)
        #expect(reply.isError == false)
        #expect(reply.object["errorNum"] == nil)
        #expect(reply.resultObject["stream-id"] as? String == "c8globals.orders")
        #expect(harness.engine.streamExists(harness.address("c8globals.orders")))
    }

    @Test(arguments: [("global=true", "c8globals.s"), ("global=True", "c8globals.s"), ("global=TRUE", "c8globals.s"),
                      ("global=1", "c8globals.s"), ("global=false", "c8locals.s"), ("global=False", "c8locals.s"),
                      ("global=0", "c8locals.s"), ("", "c8locals.s"), ("other=1", "c8locals.s")])
    func createReadsGlobalLeniently(query: String, topic: String) async throws {
        let reply = await harness.send("POST", "/_fabric/_system/_api/streams/s?\(query)")
        #expect(reply.status == 202)
        #expect(reply.resultObject["stream-id"] as? String == topic)
        #expect(harness.engine.streamExists(harness.address(topic)))
    }

    @Test func createRejectsBadBoolean() async {
        let reply = await harness.send("POST", "/_fabric/_system/_api/streams/s?global=yes")
        #expect(reply.status == 400)
        #expect(reply.errorNum == 400)
    }

    @Test(arguments: [("c8globals.orders", "global=true", "c8globals.orders"), ("c8locals.orders", "global=false", "c8locals.orders"),
                      ("c8globals.orders", "", "c8globals.orders"), ("c8locals.orders", "", "c8locals.orders")])
    func createStripsMatchingPrefix(name: String, query: String, topic: String) async {
        let reply = await harness.send("POST", "/_fabric/_system/_api/streams/\(name)?\(query)")
        #expect(reply.status == 202)
        #expect(reply.resultObject["stream-id"] as? String == topic)
    }

    @Test func createRejectsConflictingPrefix() async {
        let reply = await harness.send("POST", "/_fabric/_system/_api/streams/c8globals.orders?global=false")
        #expect(reply.status == 400)
        #expect(harness.engine.listStreams(tenant: "acme", fabric: "_system", scope: nil).isEmpty)
    }

    @Test(arguments: ["123", "_x", "a%20b", "a%23b", String(repeating: "a", count: 231), "c8globals."])
    func createRejectsInvalidNames(name: String) async {
        let reply = await harness.send("POST", "/_fabric/_system/_api/streams/\(name)?global=true")
        #expect(reply.status == 400)
        #expect(reply.errorNum == 400)
        #expect((reply.object["errorMessage"] as? String)?.contains("stream name") == true)
    }

    @Test func createIgnoresBodyAndAnswers409WhenTheStreamExists() async {
        let first = await harness.send("POST", "/_fabric/_system/streams/orders?global=true", text: #"{"name":"orders"}"#)
        #expect(first.status == 202)
        let second = await harness.send("POST", "/_fabric/_system/streams/orders?global=true", text: #"{"name":"orders"}"#)
        #expect(second.status == 409)
        #expect(second.code == 409)
        #expect(second.errorNum == 21002)
    }

    // MARK: List

    @Test(arguments: [("", ["c8globals.g", "c8locals.l"]), ("?global=true", ["c8globals.g"]), ("?global=false", ["c8locals.l"]),
                      ("?global=True", ["c8globals.g"]), ("?global=0", ["c8locals.l"])])
    func listFiltersByGlobal(query: String, topics: [String]) async throws {
        try create("c8globals.g")
        try create("c8locals.l")
        for prefix in streamPrefixes {
            let reply = await harness.send("GET", "\(prefix)/streams\(query)")
            #expect(reply.status == 200, "\(prefix)")
            let listed = reply.resultArray.compactMap { ($0 as? [String: Any])?["topic"] as? String }
            #expect(listed == topics, "\(prefix)")
        }
    }

    @Test func listRecordHasEveryField() async throws {
        try create("c8locals.orders")
        let reply = await harness.send("GET", "/_fabric/_system/_api/streams")
        let record = try #require(reply.resultArray.first as? [String: Any])
        #expect(record["type"] as? Int == 4)
        #expect(record["name"] as? String == "c8locals.orders")
        #expect(record["topic"] as? String == "c8locals.orders")
        #expect(record["_key"] as? String == "c8locals.orders_TYPE4")
        #expect(record["_id"] as? String == "_collections/c8locals.orders_TYPE4")
        #expect(record["db"] as? String == "_system")
        #expect(record["local"] as? Bool == true)
        #expect(record["tenant"] as? String == "acme")
        #expect(record["terminated"] == nil)
    }

    @Test(arguments: [("", 2), ("?local=true", 1), ("?local=false", 1), ("?global=true", 1)])
    func persistentListIsAnAlias(query: String, count: Int) async throws {
        try create("c8globals.g")
        try create("c8locals.l")
        let reply = await harness.send("GET", "/_fabric/_system/streams/persistent\(query)")
        #expect(reply.status == 200)
        #expect(reply.resultArray.count == count)
    }

    // MARK: Publish

    @Test(arguments: streamPrefixes)
    func publishStoresRawBodyOnEveryPrefix(prefix: String) async throws {
        try create("c8globals.orders")
        let reply = await harness.send("POST", "\(prefix)/streams/c8globals.orders/publish?global=true", text: "Hello",
                                       headers: [(name: "content-type", value: "application/json")])
        #expect(reply.status == 202)
        #expect(reply.code == 202)
        #expect(reply.object["errorNum"] == nil)
        #expect(harness.engine.state.withLock { $0.payloads[harness.address("c8globals.orders")] } == [Array("Hello".utf8)])
    }

    @Test func publishKeepsBinaryAndJSONBodiesVerbatim() async throws {
        try create("c8locals.raw")
        let bodies: [[UInt8]] = [[0, 255, 10, 13], Array(#"{"a": 1}"#.utf8), []]
        for body in bodies {
            #expect(await harness.send("POST", "/_fabric/_system/_api/streams/c8locals.raw/publish", body: body).status == 202)
        }
        #expect(harness.engine.state.withLock { $0.payloads[harness.address("c8locals.raw")] } == bodies)
    }

    @Test func publishAnswersOnlyAfterTheEngineCompletes() async throws {
        try create("c8globals.orders")
        harness.engine.state.withLock { $0.holdPublishes = true }
        let responder = RESTRecordingResponder()
        let request = HTTPRequest(method: "POST", target: "/_fabric/_system/_api/streams/c8globals.orders/publish",
                                  headers: HTTPHeaders([("authorization", "bearer \(harness.token)")]), body: Array("x".utf8))
        harness.router.handle(request, responder: responder)
        #expect(responder.responseCount == 0)
        harness.engine.completeHeldPublishes()
        #expect(await responder.firstResponse().status == 202)
        #expect(responder.responseCount == 1)
    }

    @Test func publishRejectsOversizedPayload() async throws {
        try create("c8globals.orders")
        let reply = await harness.send("POST", "/_fabric/_system/_api/streams/c8globals.orders/publish",
                                       body: [UInt8](repeating: 1, count: 1025))
        #expect(reply.status == 413)
        #expect(reply.errorNum == 21008)
    }

    @Test(arguments: ["c8globals.missing", "missing", "orders"])
    func publishToUnknownStreamGets404(topic: String) async {
        let reply = await harness.send("POST", "/_fabric/_system/_api/streams/\(topic)/publish", text: "x")
        #expect(reply.status == 404)
        #expect(reply.errorNum == 21001)
    }

    @Test func publishNeedsPost() async throws {
        try create("c8globals.orders")
        #expect(await harness.send("GET", "/_fabric/_system/_api/streams/c8globals.orders/publish").status == 405)
    }

    // MARK: Delete

    @Test(arguments: streamPrefixes)
    func deleteDefaultsToForce(prefix: String) async throws {
        try create("c8globals.orders")
        harness.engine.state.withLock { _ = $0.busyStreams.insert(harness.address("c8globals.orders")) }
        let reply = await harness.send("DELETE", "\(prefix)/streams/c8globals.orders?global=True")
        #expect(reply.status == 202)
        #expect(reply.code == 202)
        #expect(harness.engine.calls.last?.hasSuffix("force=true") == true)
        #expect(!harness.engine.streamExists(harness.address("c8globals.orders")))
    }

    @Test func deleteWithoutForceOnBusyStreamGets412() async throws {
        try create("c8locals.orders")
        harness.engine.state.withLock { _ = $0.busyStreams.insert(harness.address("c8locals.orders")) }
        let reply = await harness.send("DELETE", "/_fabric/_system/_api/streams/c8locals.orders?force=false")
        #expect(reply.status == 412)
        #expect(reply.errorNum == 21007)
        #expect(harness.engine.streamExists(harness.address("c8locals.orders")))
    }

    @Test func deleteUnknownStreamGets404() async {
        #expect(await harness.send("DELETE", "/_fabric/_system/_api/streams/c8locals.nothing").status == 404)
        #expect(await harness.send("DELETE", "/_fabric/_system/_api/streams/nothing").status == 404)
    }

    @Test func streamPathRejectsGet() async throws {
        try create("c8locals.orders")
        let reply = await harness.send("GET", "/_fabric/_system/_api/streams/c8locals.orders")
        #expect(reply.status == 405)
        #expect(reply.errorNum == 405)
    }

    // MARK: Stats, backlog, subscriptions

    @Test(arguments: streamPrefixes)
    func statsIsAnObjectWithTopicStatsNames(prefix: String) async throws {
        try create("c8globals.orders")
        harness.engine.state.withLock { state in
            state.stats.msgRateIn = 2.5
            state.stats.msgInCounter = 7
            state.stats.publishers = [PublisherStats(producerId: 3, producerName: "p1", address: "127.0.0.1:1",
                                                     connectedSince: 1_700_000_000_123, msgRateIn: 1, msgThroughputIn: 2,
                                                     averageMsgSize: 3)]
            state.stats.subscriptions = ["sub": SubscriptionStats(type: .shared, msgBacklog: 4, unackedMessages: 1, msgRateOut: 0,
                                                                  msgThroughputOut: 0, msgRateRedeliver: 0, consumers: [])]
        }
        let reply = await harness.send("GET", "\(prefix)/streams/c8globals.orders/stats?global=true")
        #expect(reply.status == 200)
        let stats = reply.resultObject
        for key in ["msgRateIn", "msgThroughputIn", "msgRateOut", "msgThroughputOut", "averageMsgSize", "storageSize",
                    "publishers", "subscriptions", "replication"] {
            #expect(stats[key] != nil, "stats.\(key) missing")
        }
        #expect((stats["msgRateIn"] as? NSNumber)?.doubleValue == 2.5)
        #expect((stats["msgInCounter"] as? NSNumber)?.intValue == 7)
        let publisher = try #require((stats["publishers"] as? [[String: Any]])?.first)
        #expect(publisher["producerName"] as? String == "p1")
        #expect(publisher["connectedSince"] as? String == "2023-11-14T22:13:20.123Z")
        let subscription = try #require((stats["subscriptions"] as? [String: Any])?["sub"] as? [String: Any])
        #expect(subscription["msgBacklog"] as? Int == 4)
        #expect(subscription["type"] as? String == "Shared")
    }

    @Test func backlogIsAnObject() async throws {
        try create("c8locals.orders")
        harness.engine.addSubscription("sub", to: harness.address("c8locals.orders"))
        _ = await harness.send("POST", "/_fabric/_system/_api/streams/c8locals.orders/publish", text: "a")
        let reply = await harness.send("GET", "/_fabric/_system/streams/c8locals.orders/backlog")
        #expect(reply.status == 200)
        #expect(reply.resultObject["totalMessages"] as? Int == 1)
        #expect(reply.resultObject["messageBacklog"] as? Int == 1)
        #expect(reply.resultObject["storageSize"] as? Int == 10)
        #expect(reply.resultObject["topicName"] as? String == "persistent://acme/c8local._system/c8locals.orders")
        let cursors = try #require(reply.resultObject["cursorDetails"] as? [String: Any])
        #expect((cursors["sub"] as? [String: Any])?["cursorBacklog"] as? Int == 1)
    }

    @Test func subscriptionsIsAnArrayOfNames() async throws {
        try create("c8globals.orders")
        harness.engine.addSubscription("a", to: harness.address("c8globals.orders"))
        harness.engine.addSubscription("b", to: harness.address("c8globals.orders"))
        let reply = await harness.send("GET", "/_tenant/acme/_fabric/_system/_api/streams/c8globals.orders/subscriptions?global=false")
        #expect(reply.status == 200)
        #expect(reply.result as? [String] == ["a", "b"])
    }

    @Test func presenceCountsConnections() async throws {
        try create("c8globals.orders")
        let consumer = ConsumerStats(consumerName: "c1", address: "127.0.0.1:2", connectedSince: 0, msgRateOut: 0,
                                     msgThroughputOut: 0, unackedMessages: 0, availablePermits: 10)
        harness.engine.state.withLock { state in
            state.stats.publishers = [PublisherStats(producerId: 1, producerName: "p1", address: "127.0.0.1:1", connectedSince: 0,
                                                     msgRateIn: 0, msgThroughputIn: 0, averageMsgSize: 0)]
            state.stats.subscriptions = ["sub": SubscriptionStats(type: .exclusive, msgBacklog: 0, unackedMessages: 0, msgRateOut: 0,
                                                                  msgThroughputOut: 0, msgRateRedeliver: 0, consumers: [consumer])]
        }
        let reply = await harness.send("GET", "/_fabric/_system/_api/streams/c8globals.orders/presence")
        #expect(reply.status == 200)
        let presence = reply.resultObject
        #expect(presence["producerCount"] as? Int == 1)
        #expect(presence["subscriptionCount"] as? Int == 1)
        #expect(presence["consumerCount"] as? Int == 1)
        #expect(presence["global"] as? Bool == true)
        #expect(presence["fullTopicName"] as? String == "persistent://acme/c8global._system/c8globals.orders")
        #expect((presence["createdAt"] as? NSNumber)?.int64Value == 1_700_000_000_000)
        let region = try #require((presence["regionStats"] as? [String: Any])?["home-region"] as? [String: Any])
        #expect(region["producerNames"] as? [String] == ["p1"])
        let subscription = try #require((region["subscriptionStats"] as? [[String: Any]])?.first)
        #expect(subscription["consumerNames"] as? [String] == ["c1"])
    }

    @Test(arguments: ["stats", "backlog", "subscriptions", "presence"])
    func readEndpointsOnUnknownStreamGet404(action: String) async {
        #expect(await harness.send("GET", "/_fabric/_system/_api/streams/c8globals.none/\(action)").status == 404)
        #expect(await harness.send("GET", "/_fabric/_system/_api/streams/none/\(action)").status == 404)
        #expect(await harness.send("POST", "/_fabric/_system/_api/streams/c8globals.none/\(action)").status == 405)
    }

    @Test func unknownStreamActionGets404() async throws {
        try create("c8globals.orders")
        #expect(await harness.send("GET", "/_fabric/_system/_api/streams/c8globals.orders/nothing").status == 404)
        #expect(await harness.send("GET", "/_fabric/_system/_api/streams/c8globals.orders/a/b/c").status == 404)
    }

    // MARK: Subscriptions

    @Test func deleteSubscriptionOfOneStream() async throws {
        try create("c8globals.orders")
        let address = harness.address("c8globals.orders")
        harness.engine.addSubscription("sub", to: address)
        let reply = await harness.send("DELETE", "/_fabric/_system/_api/streams/c8globals.orders/subscriptions/sub?global=true")
        #expect(reply.status == 200)
        #expect(reply.object["errorNum"] == nil)
        #expect(try harness.engine.subscriptions(address).isEmpty)

        let missing = await harness.send("DELETE", "/_fabric/_system/_api/streams/c8globals.orders/subscriptions/sub")
        #expect(missing.status == 404)
        #expect(missing.errorNum == 21003)
    }

    @Test func deleteSubscriptionWithConsumersGets412() async throws {
        try create("c8globals.orders")
        harness.engine.addSubscription("busy", to: harness.address("c8globals.orders"))
        harness.engine.state.withLock { _ = $0.busySubscriptions.insert("busy") }
        let reply = await harness.send("DELETE", "/_fabric/_system/_api/streams/c8globals.orders/subscriptions/busy")
        #expect(reply.status == 412)
        #expect(reply.errorNum == 21004)
    }

    @Test(arguments: [("DELETE", "subscription"), ("POST", "unsubscribe")])
    func unsubscribeEverywhereInBothForms(method: String, word: String) async throws {
        for (query, scope) in [("", "both"), ("?global=true", "global"), ("?global=false", "local")] {
            let reply = await harness.send(method, "/_fabric/_system/_api/streams/\(word)/consumer-1\(query)")
            #expect(reply.status == 200)
            #expect(harness.engine.calls.last == "unsubscribe acme/_system scope=\(scope) consumer-1")
        }
        #expect(await harness.send(method == "POST" ? "DELETE" : "POST", "/_fabric/_system/_api/streams/\(word)/x").status == 405)
    }

    @Test func invalidSubscriptionNameGets400() async {
        #expect(await harness.send("DELETE", "/_fabric/_system/_api/streams/subscription/a..b").status == 400)
    }

    // MARK: Backlog clearing, TTL, expiry

    @Test func clearBacklogForEveryAndOneSubscription() async {
        #expect(await harness.send("POST", "/_fabric/_system/_api/streams/clearbacklog").status == 200)
        #expect(harness.engine.calls.last == "clear acme/_system scope=both *")
        #expect(await harness.send("POST", "/_fabric/_system/streams/clearbacklog/sub?global=true").status == 200)
        #expect(harness.engine.calls.last == "clear acme/_system scope=global sub")
    }

    @Test func ttlIsANumberAndCanBeSet() async {
        let initial = await harness.send("GET", "/_fabric/_system/_api/streams/ttl")
        #expect(initial.status == 200)
        #expect(initial.result as? Int == 259_200)
        #expect(await harness.send("POST", "/_fabric/_system/_api/streams/ttl/3600?global=true").status == 200)
        #expect(await harness.send("GET", "/_fabric/_system/streams/ttl?global=false").result as? Int == 3600)
        #expect(await harness.send("POST", "/_fabric/_system/_api/streams/ttl/-5").status == 400)
        #expect(await harness.send("POST", "/_fabric/_system/_api/streams/ttl/abc").status == 400)
    }

    @Test func expiryMarksOldMessages() async throws {
        try create("c8locals.orders")
        let reply = await harness.send("POST", "/_fabric/_system/_api/streams/c8locals.orders/expiry/60?global=false")
        #expect(reply.status == 200)
        #expect(harness.engine.calls.last == "expire \(harness.address("c8locals.orders")) 60")
        #expect(await harness.send("POST", "/_fabric/_system/_api/streams/c8locals.orders/expiry/x").status == 400)
        #expect(await harness.send("POST", "/_fabric/_system/_api/streams/c8locals.none/expiry/60").status == 404)
    }

    // MARK: Scope of the caller

    @Test func streamsBelongToTheCallersTenant() async throws {
        try harness.engine.createStream(StreamAddress(tenant: "other", fabric: "_system", scope: .global, name: "theirs"))
        let list = await harness.send("GET", "/_fabric/_system/_api/streams")
        #expect(list.resultArray.isEmpty)
        #expect(await harness.send("GET", "/_fabric/_system/_api/streams/c8globals.theirs/stats").status == 404)
    }

    @Test func engineFailureMapsToCatalogue() async throws {
        try create("c8globals.orders")
        harness.engine.state.withLock { $0.failure = .storageFailure("disk full") }
        let reply = await harness.send("GET", "/_fabric/_system/_api/streams/c8globals.orders/stats")
        #expect(reply.status == 500)
        #expect(reply.code == 500)
        #expect(reply.errorNum == 21013)
    }

    @Test func unexpectedErrorGets500AndIsLoggedWithRequestId() async {
        struct Surprise: Error {}
        let responder = RESTRecordingResponder()
        let exchange = RESTExchange(request: HTTPRequest(method: "GET", target: "/x"), requestId: "req-7", region: "r",
                                    responder: responder, logger: Logger(label: "t", sink: harness.logs))
        exchange.failUnexpectedly(Surprise())
        let response = await responder.firstResponse()
        #expect(response.status == 500)
        let body = try? JSONSerialization.jsonObject(with: Data(response.body)) as? [String: Any]
        #expect(body?["errorNum"] as? Int == 4)
        let logged = harness.logs.lines.first { $0.contains("requestId=req-7") }
        #expect(logged?.contains("level=error") == true)
    }
}

@Suite(.timeLimit(.minutes(1)))
struct RESTConcurrencyTests {
    @Test func concurrentRequestsGetDistinctIds() async throws {
        let harness = try RESTHarness()
        try harness.engine.createStream(harness.address("c8globals.orders"))
        let ids = await withTaskGroup(of: String?.self) { group in
            for index in 0..<50 {
                group.addTask {
                    let target = index % 2 == 0 ? "/_fabric/_system/_api/streams" : "/_fabric/_system/_api/streams/c8globals.orders/publish"
                    let reply = await harness.send(index % 2 == 0 ? "GET" : "POST", target, text: "m\(index)")
                    return reply.status < 300 ? reply.header("x-gdn-requestid") : nil
                }
            }
            var collected: [String?] = []
            for await id in group { collected.append(id) }
            return collected
        }
        #expect(ids.count == 50)
        #expect(ids.allSatisfy { $0 != nil })
        #expect(Set(ids.compactMap { $0 }).count == 50)
        #expect(harness.engine.state.withLock { $0.payloads[harness.address("c8globals.orders")]?.count } == 25)
    }

    @Test func fullWorkQueueGets429() async throws {
        let harness = try RESTHarness()
        harness.router.pendingEngineCalls.store(RESTRouter.maxConcurrentEngineCalls, ordering: .relaxed)
        let reply = await harness.send("GET", "/_fabric/_system/_api/streams")
        #expect(reply.status == 429)
        #expect(reply.errorNum == 21009)
        harness.router.pendingEngineCalls.store(0, ordering: .relaxed)
        #expect(await harness.send("GET", "/_fabric/_system/_api/streams").status == 200)
    }
}
