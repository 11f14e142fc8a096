import Foundation
import RivuletAuth
import RivuletCore
import RivuletHTTP
import Synchronization
@testable import RivuletAPI

/// Records the one response a request gets and hands it to an awaiting test.
final class RESTRecordingResponder: HTTPResponder {
    private struct State {
        var responses: [HTTPResponse] = []
        var waiter: CheckedContinuation<HTTPResponse, Never>?
    }

    /// Guards the responses received and the test waiting for the first one.
    private let state = Mutex(State())

    func respond(_ response: HTTPResponse) {
        let waiter = state.withLock { state in
            state.responses.append(response)
            defer { state.waiter = nil }
            return state.waiter
        }
        waiter?.resume(returning: response)
    }

    func upgrade(to handler: any WebSocketHandler, headers: [(String, String)]) {
        respond(HTTPResponse(status: 999))
    }

    var responseCount: Int { state.withLock { $0.responses.count } }

    func firstResponse() async -> HTTPResponse {
        await withCheckedContinuation { continuation in
            let ready: HTTPResponse? = state.withLock { state in
                if let first = state.responses.first { return first }
                state.waiter = continuation
                return nil
            }
            if let ready { continuation.resume(returning: ready) }
        }
    }
}

/// A response with its JSON body parsed.
struct RESTReply {
    let response: HTTPResponse
    let json: Any?

    var status: Int { response.status }
    var object: [String: Any] { json as? [String: Any] ?? [:] }
    var result: Any? { object["result"] }
    var resultObject: [String: Any] { result as? [String: Any] ?? [:] }
    var resultArray: [Any] { result as? [Any] ?? [] }
    var errorNum: Int? { (object["errorNum"] as? NSNumber)?.intValue }
    var code: Int? { (object["code"] as? NSNumber)?.intValue }
    var isError: Bool? { object["error"] as? Bool }
    var text: String { String(decoding: response.body, as: UTF8.self) }

    func header(_ name: String) -> String? {
        response.headers.first { $0.0.lowercased() == name.lowercased() }?.1
    }
}

/// A router on a fake engine with a real AuthService in a temporary directory, and a logged-in tenant `acme`.
final class RESTHarness: Sendable {
    static let email = "ops@example.com"
    static let password = "correct horse"
    static let tenant = "acme"

    let directory: String
    let engine = RESTFakeEngine()
    let auth: AuthService
    let router: RESTRouter
    let logs = MemorySink()
    let token: String

    init(region: String = "home-region", advertiseURL: String = "rivulet.test:8443", maxPayloadBytes: Int = 1024) throws {
        directory = NSTemporaryDirectory() + "rivulet-rest-test-" + UUID().uuidString
        var authConfiguration = AuthConfiguration()
        authConfiguration.passwordIterations = 1_000
        let logger = Logger(label: "test", level: .debug, sink: logs)
        auth = try AuthService(dataDirectory: directory, logger: logger, configuration: authConfiguration)
        _ = try auth.ensureAdministrator(email: Self.email, password: Self.password, tenant: Self.tenant)
        token = try auth.login(email: Self.email, password: Self.password).token
        var configuration = APIConfiguration()
        configuration.region = region
        configuration.advertiseURL = advertiseURL
        configuration.maxPayloadBytes = maxPayloadBytes
        router = RESTRouter(configuration: configuration, engine: engine, auth: auth, logger: logger)
    }

    deinit { try? FileManager.default.removeItem(atPath: directory) }

    /// Sends one request with the harness's token (unless `authorization` overrides it) and waits for the reply.
    func send(_ method: String, _ target: String, body: [UInt8] = [], authorization: String?? = .none,
              headers: [(name: String, value: String)] = []) async -> RESTReply {
        var fields = headers
        switch authorization {
        case .none: fields.append(("Authorization", "bearer \(token)"))
        case .some(.some(let value)): fields.append(("Authorization", value))
        case .some(.none): break
        }
        let request = HTTPRequest(method: method, target: target, headers: HTTPHeaders(fields), body: body,
                                  remoteAddress: "127.0.0.1:40000")
        let responder = RESTRecordingResponder()
        router.handle(request, responder: responder)
        let response = await responder.firstResponse()
        let json = try? JSONSerialization.jsonObject(with: Data(response.body), options: [.fragmentsAllowed])
        return RESTReply(response: response, json: json)
    }

    func send(_ method: String, _ target: String, text: String, authorization: String?? = .none,
              headers: [(name: String, value: String)] = []) async -> RESTReply {
        await send(method, target, body: Array(text.utf8), authorization: authorization, headers: headers)
    }

    func address(_ topic: String) -> StreamAddress {
        StreamAddress(tenant: Self.tenant, fabric: "_system", topic: topic)!
    }
}

/// Path prefixes every stream endpoint must accept.
let streamPrefixes = [
    "/_fabric/_system/_api",
    "/_fabric/_system",
    "/_tenant/acme/_fabric/_system/_api",
    "/_tenant/acme/_fabric/_system",
    "//_fabric//_system///_api",
    "/_api",
    "",
]
