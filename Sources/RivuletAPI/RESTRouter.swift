import Foundation
import RivuletAuth
import RivuletCore
import RivuletHTTP
import Synchronization

/// The GDN REST surface: logins, user and OTP, regions, fabric information and the stream endpoints.
///
/// `handle` runs on an event-loop thread, so password hashing and engine calls run on `workQueue`, and publishes
/// respond from the engine's completion callback. Every path outside `/_open/` needs `Authorization: bearer <jwt>`
/// or `apikey <key>`, names only the caller's tenant and an existing fabric of it, and passes the access levels.
final class RESTRouter: Sendable {
    /// Logins hash a password for hundreds of milliseconds; more than this many at once get 429.
    static let maxConcurrentLogins = 4
    /// Engine calls queued or running at once; more get 429, so a flood cannot grow the queue without bound.
    static let maxConcurrentEngineCalls = 256

    let configuration: APIConfiguration
    let engine: any StreamEngine
    let auth: AuthService
    let logger: Logger
    let workQueue = DispatchQueue(label: "rivulet.rest.work", attributes: .concurrent)
    let pendingLogins = Atomic<Int>(0)
    let pendingEngineCalls = Atomic<Int>(0)
    private let requestIdPrefix: String
    private let requestCounter = Atomic<UInt64>(0)

    init(configuration: APIConfiguration, engine: any StreamEngine, auth: AuthService, logger: Logger) {
        self.configuration = configuration
        self.engine = engine
        self.auth = auth
        self.logger = logger
        // A random prefix keeps ids unique across restarts of the process.
        self.requestIdPrefix = AuthCrypto.randomBytes(count: 4).map { String(format: "%02x", $0) }.joined()
    }

    /// Sends exactly one response to `request` through `responder`.
    func handle(_ request: HTTPRequest, responder: any HTTPResponder) {
        let number = requestCounter.add(1, ordering: .relaxed).newValue
        let exchange = RESTExchange(request: request, requestId: "\(requestIdPrefix)-\(number)",
                                    region: configuration.region, responder: responder, logger: logger)
        logger.debug("request", ["requestId": exchange.requestId, "method": request.method, "path": request.path])
        if request.method == "OPTIONS" {
            answerPreflight(exchange)
            return
        }
        let path = RESTPath(request.path)
        do {
            try route(path, exchange)
        } catch let error as APIError {
            exchange.fail(error)
        } catch let error as EngineError {
            exchange.fail(APIError(error))
        } catch {
            exchange.failUnexpectedly(error)
        }
    }

    private func route(_ path: RESTPath, _ exchange: RESTExchange) throws {
        if path.segments.first == "_open" {
            try routeOpen(path, exchange)
            return
        }
        try Self.validatePrefixNames(path)
        let principal = try authenticate(exchange.request)
        if let tenant = path.tenant, tenant != principal.tenant {
            throw APIError.forbidden("tenant '\(tenant)' in the path differs from your tenant '\(principal.tenant)'")
        }
        if let fabric = path.fabric, !auth.fabricExists(tenant: principal.tenant, fabric: fabric) {
            throw APIError.fabricNotFound(fabric)
        }
        let call = RESTCall(exchange: exchange, path: path, principal: principal)
        switch path.segments.first {
        case "apid": try routeOneTimePassword(call)
        case "key": try routeKey(call)
        case "tenant": try routeTenant(call)
        case "user": try routeUser(call)
        case "_admin" where path.segments.dropFirst().first == "user":
            try routeUser(RESTCall(exchange: exchange, path: path.droppingFirst(), principal: principal))
        case "datacenter": try routeDatacenter(call)
        case "database": try routeDatabase(call)
        case "streams":
            try authorizeStreams(call)
            try routeStreams(call)
        default: throw APIError.routeNotFound(exchange.request.method, exchange.request.path)
        }
    }

    /// Rejects a malformed tenant or fabric in the path with 400 before it reaches a lookup or a log line.
    static func validatePrefixNames(_ path: RESTPath) throws(APIError) {
        if let tenant = path.tenant, let problem = NameRules.tenantNameProblem(tenant) { throw .badParameter(problem) }
        if let fabric = path.fabric, let problem = NameRules.fabricNameProblem(fabric) { throw .badParameter(problem) }
    }

    private func authenticate(_ request: HTTPRequest) throws(APIError) -> Principal {
        guard let header = request.headers["authorization"] else { throw .unauthorized() }
        guard let principal = auth.authenticate(authorization: header) else {
            throw .unauthorized("the credentials are invalid or expired: log in again with POST /_open/auth, or check the API key")
        }
        return principal
    }

    private func answerPreflight(_ exchange: RESTExchange) {
        exchange.responder.respond(HTTPResponse(status: 204, headers: exchange.standardHeaders + [
            ("access-control-allow-methods", "GET, POST, PUT, DELETE, OPTIONS"),
            ("access-control-allow-headers", "authorization, content-type, charset, x-c8-version"),
            ("access-control-max-age", "600"),
        ]))
    }

    /// Runs `work` on the work queue, then sends its result in the success envelope or its error in the error envelope.
    func perform(_ exchange: RESTExchange, status: Int = 200, _ work: @escaping @Sendable () throws -> RESTJSON) throws(APIError) {
        try reserve(pendingEngineCalls, limit: Self.maxConcurrentEngineCalls, what: "stream operations")
        workQueue.async { [self] in
            defer { self.pendingEngineCalls.subtract(1, ordering: .relaxed) }
            do {
                exchange.succeed(status, result: try work())
            } catch let error as APIError {
                exchange.fail(error)
            } catch let error as EngineError {
                exchange.fail(APIError(error))
            } catch {
                exchange.failUnexpectedly(error)
            }
        }
    }

    /// Takes one slot of `counter`, or throws 429 when all `limit` are taken.
    func reserve(_ counter: borrowing Atomic<Int>, limit: Int, what: String) throws(APIError) {
        guard counter.add(1, ordering: .relaxed).newValue <= limit else {
            counter.subtract(1, ordering: .relaxed)
            throw .tooManyRequests("too many concurrent \(what): at most \(limit); retry shortly")
        }
    }

    /// Throws 405 unless the request uses one of `methods`.
    static func require(_ call: RESTCall, _ methods: String...) throws(APIError) {
        guard methods.contains(call.exchange.request.method) else {
            throw .methodNotAllowed(call.exchange.request.method, call.exchange.request.path)
        }
    }
}

/// An authenticated request: who sent it and where it goes.
struct RESTCall: Sendable {
    let exchange: RESTExchange
    let path: RESTPath
    let principal: Principal

    var request: HTTPRequest { exchange.request }
    var method: String { exchange.request.method }
    var segments: [String] { path.segments }

    /// Returns the fabric named by the path, `_system` without one. The router has checked that it exists.
    func fabric() throws(APIError) -> String {
        path.fabric ?? "_system"
    }
}

extension RESTPath {
    func droppingFirst() -> RESTPath {
        var copy = self
        copy.segments.removeFirst()
        return copy
    }
}
