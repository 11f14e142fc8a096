import Foundation
import Testing
@testable import RivuletAPI

@Suite(.timeLimit(.minutes(1)))
struct RESTRegionRoutesTests {
    let harness: RESTHarness

    init() throws { harness = try RESTHarness() }

    func expectRegion(_ value: Any?) throws {
        let region = try #require(value as? [String: Any])
        #expect(region["name"] as? String == "home-region")
        #expect(region["_key"] as? String == "home-region")
        #expect(region["host"] as? String == "rivulet.test")
        #expect(region["local"] as? Bool == true)
        #expect(region["spot_region"] as? Bool == false)
        #expect(region["status"] != nil)
        let tags = try #require(region["tags"] as? [String: Any])
        #expect(tags["url"] as? String == "rivulet.test:8443")
        #expect(tags["api"] as? String == "api-rivulet.test:8443")
        let location = try #require(region["locationInfo"] as? [String: Any])
        for key in ["city", "countrycode", "countryname", "latitude", "longitude", "url"] {
            #expect(location[key] != nil, "locationInfo.\(key) missing")
        }
    }

    @Test func localRegionIsABareObject() async throws {
        let reply = await harness.send("GET", "/datacenter/local")
        #expect(reply.status == 200)
        #expect(reply.object["error"] == nil)
        try expectRegion(reply.json)
        #expect(reply.header("x-gdn-region") == "home-region")
    }

    @Test func allRegionsIsAnArray() async throws {
        let reply = await harness.send("GET", "/datacenter/all")
        #expect(reply.status == 200)
        let regions = try #require(reply.json as? [Any])
        #expect(regions.count == 1)
        try expectRegion(regions.first)
    }

    @Test func regionByName() async throws {
        try expectRegion(await harness.send("GET", "/datacenter/home-region").json)
        let unknown = await harness.send("GET", "/datacenter/elsewhere")
        #expect(unknown.status == 404)
        #expect(unknown.errorNum == 21014)
    }

    @Test func tenantRegionsNestDcInfo() async throws {
        let reply = await harness.send("GET", "/datacenter/_tenant/acme")
        #expect(reply.status == 200)
        let entries = try #require(reply.json as? [[String: Any]])
        #expect(entries.first?["tenant"] as? String == "acme")
        let dcInfo = try #require(entries.first?["dcInfo"] as? [Any])
        try expectRegion(dcInfo.first)
        #expect(await harness.send("GET", "/datacenter/_tenant/other").status == 403)
    }

    @Test func regionsNeedAuthorizationAndGet() async {
        #expect(await harness.send("GET", "/datacenter/local", authorization: .some(nil)).status == 401)
        #expect(await harness.send("POST", "/datacenter/local").status == 405)
        #expect(await harness.send("GET", "/datacenter").status == 404)
    }

    func expectFabric(_ value: Any?) throws {
        let fabric = try #require(value as? [String: Any])
        #expect(fabric["name"] as? String == "_system")
        #expect(fabric["isSystem"] as? Bool == true)
        let options = try #require(fabric["options"] as? [String: Any])
        #expect(options["dcList"] as? String == "home-region")
        #expect(options["tenant"] as? String == "acme")
    }

    @Test(arguments: ["/_fabric/_system/_api/database/current", "/_fabric/_system/database/current",
                      "/_tenant/acme/_fabric/_system/_api/database/current", "/_api/database/current"])
    func currentFabric(path: String) async throws {
        let reply = await harness.send("GET", path)
        #expect(reply.status == 200)
        #expect(reply.isError == false)
        #expect(reply.code == 200)
        try expectFabric(reply.result)
    }

    @Test(arguments: ["/_fabric/_system/_api/database/user", "/_fabric/_system/database/user"])
    func userFabrics(path: String) async throws {
        let reply = await harness.send("GET", path)
        #expect(reply.status == 200)
        #expect(reply.resultArray.count == 1)
        try expectFabric(reply.resultArray.first)
    }

    @Test func fabricMetadata() async throws {
        let reply = await harness.send("GET", "/_fabric/_system/_api/database/metadata")
        #expect(reply.status == 200)
        try expectFabric(reply.result)
    }

    @Test(arguments: ["/_fabric/other/_api/database/current", "/_fabric/other/database/user", "/_fabric/other/_api/streams"])
    func unknownFabricGets1228(path: String) async {
        let reply = await harness.send("GET", path)
        #expect(reply.status == 404)
        #expect(reply.errorNum == 1228)
    }
}
