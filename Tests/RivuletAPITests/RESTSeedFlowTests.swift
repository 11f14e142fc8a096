import Foundation
import RivuletCore
import Testing
@testable import RivuletAPI

/// The REST calls of the documentation's pub-sub example, in order, as its JavaScript and Python versions send them.
@Suite(.timeLimit(.minutes(1)))
struct RESTSeedFlowTests {
    let harness: RESTHarness

    init() throws { harness = try RESTHarness() }

    @Test func javaScriptExampleFlow() async throws {
        let login = await harness.send("POST", "/_open/auth", text: #"{"email":"ops@example.com","password":"correct horse"}"#,
                                       authorization: .some(nil), headers: [(name: "Content-Type", value: "application/json")])
        #expect(login.status == 200)
        let jwt = try #require(login.object["jwt"] as? String)
        let tenant = try #require(login.object["tenant"] as? String)
        let bearer: String?? = .some("bearer \(jwt)")

        let created = await harness.send("POST", "/_fabric/_system/streams/api_tutorial_streams?global=true",
                                         text: #"{"name":"api_tutorial_streams"}"#, authorization: bearer)
        #expect(created.status == 202)
        let again = await harness.send("POST", "/_fabric/_system/streams/api_tutorial_streams?global=true",
                                       text: #"{"name":"api_tutorial_streams"}"#, authorization: bearer)
        #expect(again.status == 409)

        let region = await harness.send("GET", "/datacenter/local", authorization: bearer)
        let tags = try #require((region.json as? [String: Any])?["tags"] as? [String: Any])
        #expect(tags["url"] as? String == "rivulet.test:8443")

        let consumerOTP = try #require(await harness.send("POST", "/apid/otp", authorization: bearer).object["otp"] as? String)
        let producerOTP = try #require(await harness.send("POST", "/apid/otp", authorization: bearer).object["otp"] as? String)
        #expect(consumerOTP != producerOTP)
        #expect(harness.auth.redeemOneTimePassword(consumerOTP)?.tenant == tenant)
        #expect(harness.auth.redeemOneTimePassword(producerOTP)?.tenant == tenant)

        let unsubscribed = await harness.send("DELETE", "/_fabric/_system/_api/streams/subscription/api_tutorial_streams_consumer",
                                              authorization: bearer)
        #expect(unsubscribed.status == 200)
        #expect(unsubscribed.object["errorNum"] == nil)
    }

    @Test func pythonExampleFlow() async throws {
        let login = await harness.send("POST", "/_open/auth", text: #"{"email": "ops@example.com", "password": "correct horse"}"#,
                                       authorization: .some(nil))
        let jwt = try #require(login.object["jwt"] as? String)
        #expect(login.object["tenant"] as? String == "acme")
        let bearer: String?? = .some("bearer \(jwt)")

        let created = await harness.send("POST", "/_fabric/_system/_api/streams/teststream?global=true", authorization: bearer)
        #expect(created.status == 202)
        let published = await harness.send("POST", "/_fabric/_system/_api/streams/c8globals.teststream/publish?global=true",
                                           text: "Hello", authorization: bearer)
        #expect(published.status == 202)
        #expect(harness.engine.state.withLock { $0.payloads[harness.address("c8globals.teststream")] } == [Array("Hello".utf8)])

        harness.engine.addSubscription("testconsumer", to: harness.address("c8globals.teststream"))
        let deleted = await harness.send("DELETE",
                                         "/_fabric/_system/_api/streams/c8globals.teststream/subscriptions/testconsumer?global=true",
                                         authorization: bearer)
        #expect(deleted.status == 200)
    }
}
