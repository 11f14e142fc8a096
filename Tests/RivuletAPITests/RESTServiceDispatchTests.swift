import Foundation
import RivuletCore
import RivuletHTTP
import Testing
@testable import RivuletAPI

/// `APIService` hands every path outside `/_ws/` to the REST router, after collapsing slashes.
@Suite(.timeLimit(.minutes(1)))
struct RESTServiceDispatchTests {
    @Test(arguments: ["/datacenter/local", "//datacenter/local", "/_ws_not/datacenter/local"])
    func nonWebSocketPathsReachREST(path: String) async throws {
        let harness = try RESTHarness()
        let service = APIService(configuration: APIConfiguration(), engine: harness.engine, auth: harness.auth,
                                 logger: Logger(label: "test", sink: harness.logs))
        let responder = RESTRecordingResponder()
        service.handle(HTTPRequest(method: "GET", target: path,
                                   headers: HTTPHeaders([("Authorization", "bearer \(harness.token)")])),
                       responder: responder)
        let response = await responder.firstResponse()
        let expected = path.hasPrefix("/_ws_not") ? 404 : 200
        #expect(response.status == expected)
        #expect(response.headers.contains { $0.0 == "x-gdn-requestid" })
    }
}
