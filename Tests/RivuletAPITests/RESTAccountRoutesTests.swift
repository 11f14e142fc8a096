import Foundation
import RivuletAuth
import RivuletCore
import Testing
@testable import RivuletAPI

@Suite(.timeLimit(.minutes(1)))
struct RESTAccountRoutesTests {
    let harness: RESTHarness

    init() throws { harness = try RESTHarness() }

    @Test func loginWithEmailReturnsTokenAndTenant() async throws {
        let reply = await harness.send("POST", "/_open/auth", text: #"{"email":"ops@example.com","password":"correct horse"}"#,
                                       authorization: .some(nil))
        #expect(reply.status == 200)
        #expect(reply.object["tenant"] as? String == "acme")
        #expect(reply.object["username"] as? String == "root")
        #expect(reply.object["errorNum"] == nil)
        let jwt = try #require(reply.object["jwt"] as? String)
        #expect(harness.auth.authenticate(authorization: "bearer \(jwt)") == Principal(tenant: "acme", username: "root"))
    }

    @Test(arguments: ["/_open/auth", "/_tenant/acme/_fabric/_system/_open/auth", "//_open//auth/", "/_fabric/_system/_open/auth"])
    func loginWithTenantAndUsernameOnEveryPath(path: String) async throws {
        let reply = await harness.send("POST", path, text: #"{"tenant":"acme","username":"root","password":"correct horse"}"#,
                                       authorization: .some(nil))
        #expect(reply.status == 200)
        #expect(reply.object["tenant"] as? String == "acme")
        #expect(reply.object["jwt"] is String)
    }

    @Test func wrongPasswordGets401Envelope() async {
        let reply = await harness.send("POST", "/_open/auth", text: #"{"email":"ops@example.com","password":"wrong horse"}"#,
                                       authorization: .some(nil))
        #expect(reply.status == 401)
        #expect(reply.isError == true)
        #expect(reply.code == 401)
        #expect(reply.errorNum == 401)
        #expect(reply.object["errorMessage"] is String)
        #expect(reply.object["jwt"] == nil)
        let audit = harness.logs.lines.filter { $0.contains("login failed") }
        #expect(audit.count == 1)
        #expect(audit.first?.contains("127.0.0.1:40000") == true)
        #expect(!harness.logs.lines.joined().contains("wrong horse"))
    }

    @Test(arguments: ["", "not json", #"["a"]"#, #"{"email":"ops@example.com"}"#, #"{"password":"x"}"#])
    func malformedLoginBodyGets400(body: String) async {
        let reply = await harness.send("POST", "/_open/auth", text: body, authorization: .some(nil))
        #expect(reply.status == 400)
        #expect(reply.errorNum == 400)
    }

    @Test func loginRejectsOtherMethodsAndPaths() async {
        #expect(await harness.send("GET", "/_open/auth", authorization: .some(nil)).status == 405)
        #expect(await harness.send("POST", "/_open/other", authorization: .some(nil)).status == 404)
    }

    @Test(arguments: ["/_api/user", "/_api/user/", "/_fabric/_system/_api/user", "/_fabric/_system/_admin/user",
                      "/_tenant/acme/_api/user"])
    func userListsCallerFirst(path: String) async throws {
        let reply = await harness.send("GET", path)
        #expect(reply.status == 200)
        let first = try #require(reply.resultArray.first as? [String: Any])
        #expect(first["tenant"] as? String == "acme")
        #expect(first["user"] as? String == "root")
        #expect(first["email"] as? String == "ops@example.com")
        #expect(first["displayName"] as? String == "root")
        #expect(first["active"] as? Bool == true)
        #expect(first["apikey"] is [String: Any])
    }

    @Test func userCreateRejectsBodyWithoutUser() async {
        #expect(await harness.send("POST", "/_api/user").status == 400)
        #expect(await harness.send("PATCH", "/_api/user").status == 405)
    }

    @Test(arguments: [("", ""), ("--boundary--\r\n", "multipart/form-data; boundary=boundary"), ("{}", "application/json")])
    func otpIsIssuedForAnyBody(body: String, contentType: String) async throws {
        let headers = contentType.isEmpty ? [] : [(name: "content-type", value: contentType)]
        let reply = await harness.send("POST", "/apid/otp", body: Array(body.utf8), headers: headers)
        #expect(reply.status == 200)
        #expect(reply.object["errorNum"] == nil)
        let otp = try #require(reply.object["otp"] as? String)
        #expect(harness.auth.redeemOneTimePassword(otp) == Principal(tenant: "acme", username: "root"))
        #expect(harness.auth.redeemOneTimePassword(otp) == nil)
    }

    @Test func otpNeedsAuthorizationAndPost() async {
        #expect(await harness.send("POST", "/apid/otp", authorization: .some(nil)).status == 401)
        #expect(await harness.send("GET", "/apid/otp").status == 405)
    }

    @Test(arguments: [nil, "", "bearer", "bearer not-a-jwt", "basic dXNlcjpwYXNz", "apikey acme.key.secret"])
    func missingOrBadCredentialsGet401(header: String?) async {
        let reply = await harness.send("GET", "/_fabric/_system/_api/streams", authorization: .some(header))
        #expect(reply.status == 401)
        #expect(reply.isError == true)
        #expect(reply.code == 401)
        #expect(reply.errorNum == 401)
    }

    @Test(arguments: ["bearer", "Bearer", "BEARER"])
    func bearerSchemeMatchesAnyCase(scheme: String) async {
        let reply = await harness.send("GET", "/_api/user", authorization: .some("\(scheme) \(harness.token)"))
        #expect(reply.status == 200)
    }

    @Test func otherTenantInPathGets403() async {
        let reply = await harness.send("GET", "/_tenant/someone-else/_fabric/_system/_api/streams")
        #expect(reply.status == 403)
        #expect(reply.isError == true)
        #expect(reply.code == 403)
    }

    @Test(arguments: ["/nothing", "/_api/nothing", "/_fabric/_system/_api/collection", "/"])
    func unknownRouteGets404(path: String) async {
        let reply = await harness.send("GET", path)
        #expect(reply.status == 404)
        #expect(reply.errorNum == 404)
        #expect(reply.isError == true)
    }

    @Test func everyResponseCarriesRequestIdRegionAndContentType() async throws {
        let first = await harness.send("GET", "/_api/user")
        let second = await harness.send("GET", "/nothing")
        for reply in [first, second] {
            #expect(reply.header("content-type") == "application/json")
            #expect(reply.header("x-gdn-region") == "home-region")
            #expect(reply.header("x-gdn-requestid")?.isEmpty == false)
        }
        #expect(first.header("x-gdn-requestid") != second.header("x-gdn-requestid"))
    }

    @Test func requestsAreLoggedWithoutSecrets() async throws {
        _ = await harness.send("GET", "/_api/user")
        let lines = harness.logs.lines.filter { $0.contains("msg=request ") }
        #expect(lines.count == 1)
        #expect(lines.first?.contains("path=/_api/user") == true)
        #expect(lines.first?.contains("requestId=") == true)
        #expect(!harness.logs.lines.joined().contains(harness.token))
    }

    @Test func preflightIsAnsweredWithoutCredentials() async {
        let reply = await harness.send("OPTIONS", "/_fabric/_system/_api/streams", authorization: .some(nil))
        #expect(reply.status == 204)
        #expect(reply.header("access-control-allow-headers")?.contains("authorization") == true)
        #expect(reply.header("access-control-allow-origin") == "*")
    }

    @Test func tooManyConcurrentLoginsGet429() async {
        for _ in 0..<RESTRouter.maxConcurrentLogins { _ = harness.router.pendingLogins.add(1, ordering: .relaxed) }
        let reply = await harness.send("POST", "/_open/auth", text: #"{"email":"ops@example.com","password":"correct horse"}"#,
                                       authorization: .some(nil))
        #expect(reply.status == 429)
        #expect(reply.errorNum == 21009)
        #expect(reply.header("retry-after") == "1")
    }
}

@Suite(.timeLimit(.minutes(1)))
struct RESTValidateRouteTests {
    let harness: RESTHarness

    init() throws { harness = try RESTHarness() }

    @Test(arguments: ["/_api/key/validate", "/_fabric/_system/_api/key/validate"])
    func validTokenReturnsTenantObject(path: String) async {
        let reply = await harness.send("POST", path, text: #"{"jwt":"\#(harness.token)"}"#)
        #expect(reply.status == 200)
        #expect(reply.resultObject["tenant"] as? String == "acme")
        #expect(reply.resultObject["user"] as? String == "root")
    }

    @Test func invalidCredentialGets401() async {
        #expect(await harness.send("POST", "/_api/key/validate", text: #"{"jwt":"x.y.z"}"#).status == 401)
        #expect(await harness.send("POST", "/_api/key/validate", text: #"{"apikey":"acme.k.s"}"#).status == 401)
    }

    @Test func requestWithoutCredentialsGets401() async {
        let reply = await harness.send("POST", "/_api/key/validate", text: #"{"jwt":"\#(harness.token)"}"#, authorization: .some(nil))
        #expect(reply.status == 401)
    }

    @Test func malformedBodyGets400AndGetGets405() async {
        #expect(await harness.send("POST", "/_api/key/validate", text: "{}").status == 400)
        #expect(await harness.send("GET", "/_api/key/validate").status == 405)
    }
}

@Suite(.timeLimit(.minutes(1)))
struct RESTLoginThrottleTests {
    @Test func repeatedFailuresFromOneAddressGet429() async throws {
        let harness = try RESTHarness()
        let body = #"{"email":"ops@example.com","password":"wrong horse"}"#
        for _ in 0..<AuthConfiguration().maxFailedLoginsPerSource {
            #expect(await harness.send("POST", "/_open/auth", text: body, authorization: .some(nil)).status == 401)
        }
        let blocked = await harness.send("POST", "/_open/auth", text: #"{"email":"ops@example.com","password":"correct horse"}"#,
                                         authorization: .some(nil))
        #expect(blocked.status == 429)
        #expect(blocked.errorNum == 21009)
        // The wait counts down from the 60 s window that started with the first failure.
        let wait = try #require(blocked.header("retry-after").flatMap { Int($0) })
        #expect((1...60).contains(wait))
    }
}
