import Foundation
import RivuletAuth
import RivuletCore

extension APIError {
    /// Maps an account failure to its catalogue entry.
    init(_ error: AuthError) {
        switch error {
        case .invalidCredentials: self = .invalidCredentials()
        case .invalidArgument(let message): self = .badParameter(message)
        case .tooManyAttempts(let seconds):
            self = .tooManyRequests("too many failed logins for this address or account: retry in \(seconds) s")
        case .storage: self = .internalError()
        case .notFound(let message): self.init(status: 404, errorNum: 21101, message: message)
        case .conflict(let message): self.init(status: 409, errorNum: 21102, message: message)
        case .notAllowed(let message): self.init(status: 403, errorNum: 21103, message: message)
        }
    }
}

/// The access level a stream endpoint requires of the caller.
enum StreamRequirement: Equatable {
    /// Fabric `rw`: create, delete, TTL changes, clear backlog, expiry, unsubscribe and subscription delete.
    case administer
    /// Fabric `ro` or `rw`: the fabric-wide TTL.
    case readFabric
    /// Any level on the fabric; the stream list then shows only streams the caller has a level on.
    case list
    /// Stream `rw` or `wo`.
    case publish(String)
    /// Stream `rw` or `ro`: stats, backlog, subscriptions and presence.
    case read(String)
}

extension RESTRouter {
    /// Checks the caller's levels for a stream endpoint before it runs, so a refused call has no effect.
    ///
    /// Anything this does not recognise as a read or a publish counts as administration, which needs the most.
    func authorizeStreams(_ call: RESTCall) throws(APIError) {
        let fabric = try call.fabric()
        let principal = call.principal
        switch Self.streamRequirement(method: call.method, rest: Array(call.segments.dropFirst())) {
        case .administer:
            guard auth.fabricAccess(principal, fabric: fabric) == .readWrite else {
                throw .forbidden("Not authorized: administering streams of fabric '\(fabric)' needs fabric level 'rw'")
            }
        case .readFabric, .list:
            // Listing is filtered per stream later, so it only needs some standing in the fabric.
            guard auth.fabricAccess(principal, fabric: fabric) != .none || hasAnyStreamLevel(principal, fabric: fabric) else {
                throw .forbidden("Not authorized: you have no access level on fabric '\(fabric)'")
            }
        case .publish(let stream):
            guard auth.streamAccess(principal, fabric: fabric, stream: stream).canPublish else {
                throw .forbidden("Not authorized: publishing to '\(stream)' needs stream level 'rw' or 'wo'")
            }
        case .read(let stream):
            guard auth.streamAccess(principal, fabric: fabric, stream: stream).canConsume else {
                throw .forbidden("Not authorized: reading '\(stream)' needs stream level 'rw' or 'ro'")
            }
        }
    }

    /// Classifies a request under `/streams` by method and the segments after `streams`, as `routeStreams` routes it.
    static func streamRequirement(method: String, rest: [String]) -> StreamRequirement {
        switch (rest.count, method) {
        case (0, "GET"): return .list
        case (1, "GET") where rest[0] == "persistent": return .list
        case (1, "GET") where rest[0] == "ttl": return .readFabric
        case (2, _) where ["subscription", "unsubscribe", "clearbacklog", "ttl"].contains(rest[0]): return .administer
        case (2, "POST") where rest[1] == "publish": return .publish(rest[0])
        case (2, "GET") where ["backlog", "stats", "subscriptions", "presence"].contains(rest[1]): return .read(rest[0])
        default: return .administer
        }
    }

    /// True when the caller may see `stream` in a list: any level but `none`.
    func canSee(_ principal: Principal, fabric: String, stream: String) -> Bool {
        auth.streamAccess(principal, fabric: fabric, stream: stream) != .none
    }

    private func hasAnyStreamLevel(_ principal: Principal, fabric: String) -> Bool {
        let subject: AccessSubject = principal.keyId.map(AccessSubject.key) ?? .user(principal.username)
        return auth.explicitStreamLevels(of: subject, tenant: principal.tenant, fabric: fabric).contains { $0.level != .none }
    }

    /// Throws 403 unless the caller administers its tenant (the `root` user, or `rw` on `_system`).
    func requireTenantAdministrator(_ call: RESTCall, _ what: String) throws(APIError) {
        guard auth.canAdministerTenant(call.principal) else {
            throw .forbidden("Not authorized: \(what) needs the administrator or fabric level 'rw' on '_system'")
        }
    }

    /// Runs an account change on the work queue (it may hash a password) and maps its failures.
    func performAccountChange(_ exchange: RESTExchange, status: Int = 200,
                              _ work: @escaping @Sendable () throws(AuthError) -> RESTJSON) throws(APIError) {
        try perform(exchange, status: status) {
            do throws(AuthError) {
                return try work()
            } catch {
                throw APIError(error)
            }
        }
    }

    /// Parses a request body that must be a JSON object.
    static func jsonObject(_ call: RESTCall, usage: String) throws(APIError) -> [String: Any] {
        guard let object = (try? JSONSerialization.jsonObject(with: Data(call.request.body))) as? [String: Any] else {
            throw .badParameter("request body is not a JSON object: \(usage)")
        }
        return object
    }
}
