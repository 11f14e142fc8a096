import Foundation
import RivuletAuth
import RivuletCore
import Testing
@testable import RivuletAPI

/// API keys, users, fabrics and access levels over the REST router.
@Suite(.timeLimit(.minutes(1)))
struct RESTKeyAccessTests {
    let harness: RESTHarness

    init() throws { harness = try RESTHarness() }

    /// Creates a key through REST and returns the full key.
    func createKey(_ keyId: String) async throws -> String {
        let reply = await harness.send("POST", "/_api/key", text: #"{"keyid":"\#(keyId)"}"#)
        #expect(reply.status == 201)
        #expect(reply.object["errorNum"] == nil)
        return try #require(reply.object["key"] as? String)
    }

    func grant(_ path: String, _ level: String) async {
        let reply = await harness.send("PUT", path, text: #"{"grant":"\#(level)"}"#)
        #expect(reply.status == 200)
        #expect(reply.result as? String == level)
    }

    @Test func keyWithoutLevelsIsKnownButMayDoNothing() async throws {
        let key = try await createKey("bare")
        let auth: String?? = .some("apikey \(key)")
        let users = await harness.send("GET", "/_api/user", authorization: auth)
        #expect(users.status == 200)
        #expect((users.resultArray.first as? [String: Any])?["tenant"] as? String == "acme")
        #expect(await harness.send("POST", "/_api/streams/c8globals.s/publish", text: "hi", authorization: auth).status == 403)
        #expect(await harness.send("GET", "/_api/streams", authorization: auth).status == 403)
        #expect(await harness.send("POST", "/_api/streams/s", authorization: auth).status == 403)
        #expect(await harness.send("POST", "/_api/key", text: #"{"keyid":"mine"}"#, authorization: auth).status == 403)
        #expect(harness.engine.listStreams(tenant: "acme", fabric: "_system", scope: nil).isEmpty)
    }

    @Test func streamLevelsDecidePublishAndRead() async throws {
        try harness.engine.createStream(harness.address("c8globals.s"))
        let key = try await createKey("reporter")
        let auth: String?? = .some("apikey \(key)")
        await grant("/_api/key/reporter/database/_system/stream/c8globals.s", "ro")
        #expect(await harness.send("POST", "/_api/streams/c8globals.s/publish", text: "hi", authorization: auth).status == 403)
        #expect(await harness.send("GET", "/_api/streams/c8globals.s/stats", authorization: auth).status == 200)
        await grant("/_fabric/_system/_api/key/reporter/database/_system/stream/c8globals.s", "wo")
        #expect(await harness.send("POST", "/_api/streams/c8globals.s/publish", text: "hi", authorization: auth).status == 202)
        #expect(await harness.send("GET", "/_api/streams/c8globals.s/stats", authorization: auth).status == 403)
        let level = await harness.send("GET", "/_api/key/reporter/database/_system/stream/c8globals.s")
        #expect(level.result as? String == "wo")
        // Stream administration needs fabric rw, whatever the stream level.
        #expect(await harness.send("DELETE", "/_api/streams/c8globals.s", authorization: auth).status == 403)
        #expect(harness.engine.streamExists(harness.address("c8globals.s")))
    }

    @Test func listShowsOnlyStreamsWithALevel() async throws {
        try harness.engine.createStream(harness.address("c8globals.open"))
        try harness.engine.createStream(harness.address("c8globals.hidden"))
        let key = try await createKey("lister")
        await grant("/_api/key/lister/database/_system/stream/c8globals.open", "ro")
        let reply = await harness.send("GET", "/_api/streams", authorization: .some("apikey \(key)"))
        #expect(reply.status == 200)
        #expect(reply.resultArray.compactMap { ($0 as? [String: Any])?["topic"] as? String } == ["c8globals.open"])
    }

    @Test func fabricReadWriteAdministersStreamsAndDeleteRevertsToDefault() async throws {
        let key = try await createKey("admin-key")
        let auth: String?? = .some("apikey \(key)")
        await grant("/_api/key/admin-key/database/_system", "rw")
        #expect(await harness.send("POST", "/_api/streams/made", authorization: auth).status == 202)
        await grant("/_api/key/admin-key/database/_system/stream/*", "none")
        #expect(await harness.send("POST", "/_api/streams/c8locals.made/publish", text: "x", authorization: auth).status == 403)
        let cleared = await harness.send("DELETE", "/_api/key/admin-key/database/_system/stream/*")
        #expect(cleared.status == 202)
        #expect(await harness.send("POST", "/_api/streams/c8locals.made/publish", text: "x", authorization: auth).status == 202)
        let fabrics = await harness.send("GET", "/_api/key/admin-key/database")
        #expect(fabrics.resultObject["_system"] as? String == "rw")
    }

    @Test func bareStreamNameTakesPrefixFromGlobal() async throws {
        _ = try await createKey("py")
        let put = await harness.send("PUT", "/_api/key/py/database/_system/stream/orders?global=True", text: #"{"grant":"ro"}"#)
        #expect(put.result as? String == "ro")
        let prefixed = await harness.send("GET", "/_api/key/py/database/_system/stream/c8globals.orders")
        #expect(prefixed.result as? String == "ro")
        let local = await harness.send("GET", "/_api/key/py/database/_system/stream/orders?global=False")
        #expect(local.result as? String == "none")
        let listed = await harness.send("GET", "/_api/key/py/database/_system/stream")
        #expect(listed.resultObject["c8globals.orders"] as? String == "ro")
    }

    @Test func badGrantsAreRefused() async throws {
        _ = try await createKey("k")
        #expect(await harness.send("PUT", "/_api/key/k/database/_system", text: #"{"grant":"wo"}"#).status == 400)
        #expect(await harness.send("PUT", "/_api/key/k/database/_system/stream/x", text: #"{"grant":"admin"}"#).status == 400)
        #expect(await harness.send("PUT", "/_api/key/nope/database/_system", text: #"{"grant":"ro"}"#).status == 404)
        #expect(await harness.send("PUT", "/_api/key/k/database/missing", text: #"{"grant":"ro"}"#).errorNum == 1228)
    }

    @Test func keyLifecycleAndValidate() async throws {
        let key = try await createKey("life")
        #expect(await harness.send("POST", "/_api/key", text: #"{"keyid":"life"}"#).status == 409)
        #expect(await harness.send("POST", "/_api/key", text: #"{"keyid":"123"}"#).status == 400)
        let list = await harness.send("GET", "/_api/key")
        #expect(list.resultArray.compactMap { ($0 as? [String: Any])?["keyid"] as? String } == ["life"])
        let one = await harness.send("GET", "/_api/key/life")
        #expect((one.resultObject["apikey"] as? [String: Any])?["parent"] as? String == "root")
        #expect(!one.text.contains(key.split(separator: ".").last!))
        let validated = await harness.send("POST", "/_api/key/validate", text: #"{"apikey":"\#(key)"}"#)
        #expect(validated.resultObject["tenant"] as? String == "acme")
        #expect(validated.resultObject["keyid"] as? String == "life")
        #expect(await harness.send("DELETE", "/_api/key/life").status == 202)
        #expect(await harness.send("GET", "/_api/user", authorization: .some("apikey \(key)")).status == 401)
        #expect(await harness.send("POST", "/_api/key/validate", text: #"{"apikey":"\#(key)"}"#).status == 401)
        #expect(await harness.send("DELETE", "/_api/key/life").status == 404)
    }

    @Test func fabricsHoldTheirOwnStreams() async throws {
        let created = await harness.send("POST", "/_api/database", text: #"{"name":"orders"}"#)
        #expect(created.status == 201)
        #expect(await harness.send("POST", "/_api/database", text: #"{"name":"orders"}"#).status == 409)
        #expect(await harness.send("POST", "/_fabric/orders/_api/streams/s").status == 202)
        let list = await harness.send("GET", "/_api/database")
        #expect(list.resultArray.compactMap { $0 as? String } == ["_system", "orders"])
        let current = await harness.send("GET", "/_fabric/orders/_api/database/current")
        #expect(current.resultObject["name"] as? String == "orders")
        #expect(harness.engine.streamExists(StreamAddress(tenant: "acme", fabric: "orders", topic: "c8locals.s")!))
        #expect(await harness.send("GET", "/_fabric/missing/_api/streams").errorNum == 1228)
        #expect(await harness.send("DELETE", "/_api/database/_system").status == 403)
        #expect(await harness.send("DELETE", "/_api/database/orders").status == 202)
        #expect(!harness.engine.streamExists(StreamAddress(tenant: "acme", fabric: "orders", topic: "c8locals.s")!))
        #expect(await harness.send("GET", "/_fabric/orders/_api/streams").errorNum == 1228)
    }

    @Test func usersAreManagedAndActUnderTheirOwnLevels() async throws {
        let created = await harness.send("POST", "/_api/user", text: #"{"user":"bob","passwd":"bob's password","email":"bob@example.com"}"#)
        #expect(created.status == 201)
        #expect(created.resultObject["user"] as? String == "bob")
        #expect(!created.text.contains("bob's password"))
        let login = try harness.auth.login(tenant: "acme", username: "bob", password: "bob's password")
        let bob: String?? = .some("bearer \(login.token)")
        #expect(await harness.send("GET", "/_api/streams", authorization: bob).status == 403)
        #expect(await harness.send("GET", "/_api/user/root", authorization: bob).status == 403)
        #expect(await harness.send("GET", "/_api/user/bob", authorization: bob).status == 200)
        // jsC8's path and the Java SDK's tenant-qualified names reach the same levels.
        await grant("/_fabric/_system/_admin/user/bob/database/_system", "ro")
        let level = await harness.send("GET", "/_api/user/acme.bob/database/acme._system/stream/c8globals.any")
        #expect(level.result as? String == "ro")
        #expect(await harness.send("GET", "/_api/streams", authorization: bob).status == 200)
        #expect(await harness.send("PATCH", "/_api/user/bob", text: #"{"active":false}"#, authorization: bob).status == 403)
        #expect(await harness.send("PATCH", "/_api/user/bob", text: #"{"active":false}"#).status == 200)
        #expect(await harness.send("GET", "/_api/user/bob", authorization: bob).status == 401)
        #expect(await harness.send("DELETE", "/_api/user/bob").status == 202)
        #expect(await harness.send("DELETE", "/_api/user/root").status == 403)
    }

    @Test func tenantAdministratorKeyCannotTakeOverRoot() async throws {
        let key = try await createKey("delegate")
        await grant("/_api/key/delegate/database/_system", "rw")
        let auth: String?? = .some("apikey \(key)")
        // It administers the tenant...
        #expect(await harness.send("POST", "/_api/user", text: #"{"user":"carol","passwd":"carol's password"}"#,
                                   authorization: auth).status == 201)
        // ...but neither root's password nor server-wide tenants are within reach.
        #expect(await harness.send("PATCH", "/_api/user/root", text: #"{"passwd":"taken over!"}"#, authorization: auth).status == 403)
        #expect(await harness.send("PUT", "/_api/user/root/database/_system", text: #"{"grant":"none"}"#, authorization: auth).status == 400)
        #expect(await harness.send("GET", "/_api/tenant", authorization: auth).status == 403)
        _ = try harness.auth.login(email: RESTHarness.email, password: RESTHarness.password)
    }

    @Test func anotherTenantSeesNothingOfThisOne() async throws {
        _ = try await createKey("acme-key")
        _ = await harness.send("POST", "/_api/database", text: #"{"name":"orders"}"#)
        let tenant = await harness.send("POST", "/_api/tenant", text: #"{"name":"globex","email":"ops@globex.test","passwd":"other horse"}"#)
        #expect(tenant.status == 201)
        let login = try harness.auth.login(tenant: "globex", username: "root", password: "other horse")
        let globex: String?? = .some("bearer \(login.token)")
        #expect(await harness.send("GET", "/_tenant/acme/_fabric/_system/_api/streams", authorization: globex).status == 403)
        #expect(await harness.send("GET", "/_api/key/acme-key", authorization: globex).status == 404)
        #expect(await harness.send("GET", "/_api/key/acme-key/database/_system", authorization: globex).status == 404)
        #expect(await harness.send("GET", "/_fabric/orders/_api/streams", authorization: globex).errorNum == 1228)
        #expect(await harness.send("GET", "/_api/user/acme.root", authorization: globex).status == 404)
        let users = await harness.send("GET", "/_api/user", authorization: globex)
        #expect(users.resultArray.count == 1)
        #expect(await harness.send("GET", "/_api/tenant", authorization: globex).status == 403)
        #expect(await harness.send("POST", "/_api/tenant", text: #"{"name":"x","email":"x@x.test","passwd":"long enough"}"#,
                                   authorization: globex).status == 403)
    }

    @Test func deletedTenantLosesAccountsAndStreams() async throws {
        _ = await harness.send("POST", "/_api/tenant", text: #"{"name":"initech","email":"ops@initech.test","passwd":"third horse"}"#)
        let login = try harness.auth.login(tenant: "initech", username: "root", password: "third horse")
        let initech: String?? = .some("bearer \(login.token)")
        #expect(await harness.send("POST", "/_api/streams/s?global=true", authorization: initech).status == 202)
        let address = StreamAddress(tenant: "initech", fabric: "_system", topic: "c8globals.s")!
        #expect(harness.engine.streamExists(address))

        #expect(await harness.send("DELETE", "/_api/tenant/initech", authorization: initech).status == 403)
        #expect(await harness.send("DELETE", "/_api/tenant/acme").status == 403)
        #expect(await harness.send("DELETE", "/_api/tenant/initech").status == 202)
        #expect(!harness.engine.streamExists(address))
        #expect(await harness.send("GET", "/_api/user", authorization: initech).status == 401)
        #expect(await harness.send("DELETE", "/_api/tenant/initech").status == 404)
        let tenants = await harness.send("GET", "/_api/tenant")
        #expect(tenants.resultArray.compactMap { $0 as? String } == ["acme"])
    }
}
