import Foundation
import RivuletAuth
import RivuletCore

extension RESTRouter {
    /// `/_api/key` (create, list), `/_api/key/validate`, `/_api/key/{keyid}` (get, delete) and the access-level
    /// paths below `/_api/key/{keyid}/database`. Also reached as `/_fabric/{f}/_api/key/...`.
    func routeKey(_ call: RESTCall) throws {
        let rest = Array(call.segments.dropFirst())
        switch rest.count {
        case 0:
            try Self.require(call, "GET", "POST")
            if call.method == "POST" { try createKey(call) } else { listKeys(call) }
        case 1 where rest[0] == "validate":
            try routeValidate(call)
        case 1:
            try Self.require(call, "GET", "DELETE")
            let keyId = rest[0]
            if call.method == "GET" {
                try requireSelfOrAdministrator(call, .key(keyId))
                guard let record = auth.key(tenant: call.principal.tenant, keyId: keyId) else {
                    throw APIError(AuthError.notFound("API key '\(keyId)' not found"))
                }
                call.exchange.succeed(result: Self.keyJSON(record))
            } else {
                try requireTenantAdministrator(call, "deleting API keys")
                let source = call.request.remoteAddress
                try performAccountChange(call.exchange, status: 202) { [auth] () throws(AuthError) -> RESTJSON in
                    try auth.deleteKey(keyId, by: call.principal, sourceAddress: source)
                    return .emptyObject
                }
            }
        default:
            guard rest[1] == "database" else { throw APIError.routeNotFound(call.method, call.request.path) }
            try routeAccessLevels(call, subject: .key(rest[0]), rest: Array(rest.dropFirst(2)))
        }
    }

    private func createKey(_ call: RESTCall) throws {
        try requireTenantAdministrator(call, "creating API keys")
        let object = try Self.jsonObject(call, usage: #"send {"keyid": "<id>"}"#)
        guard let keyId = object["keyid"] as? String else { throw APIError.badParameter(#"body has no string 'keyid': send {"keyid": "<id>"}"#) }
        let source = call.request.remoteAddress
        let exchange = call.exchange
        try reserve(pendingEngineCalls, limit: Self.maxConcurrentEngineCalls, what: "account operations")
        // The accounts file is written and synced, so this leaves the event loop.
        workQueue.async { [self] in
            defer { self.pendingEngineCalls.subtract(1, ordering: .relaxed) }
            do throws(AuthError) {
                let created = try auth.createKey(keyId, by: call.principal, sourceAddress: source)
                // GDN puts these fields at the top level, next to error and code, rather than under result.
                exchange.succeed(201, fields: [
                    ("key", .string(created.key)), ("keyid", .string(keyId)),
                    ("tenant", .string(created.record.tenant)), ("user", .string(created.record.user)),
                ])
            } catch {
                exchange.fail(APIError(error))
            }
        }
    }

    private func listKeys(_ call: RESTCall) {
        let principal = call.principal
        var records = auth.keys(tenant: principal.tenant)
        if !auth.canAdministerTenant(principal) { records = records.filter { $0.keyId == principal.keyId } }
        call.exchange.succeed(result: .array(records.map { record in
            .object([("keyid", .string(record.keyId)), ("user", .string(record.user)),
                     ("tenant", .string(record.tenant)), ("isSystem", false)])
        }))
    }

    static func keyJSON(_ record: KeyRecord) -> RESTJSON {
        .object([
            ("keyid", .string(record.keyId)), ("tenant", .string(record.tenant)),
            ("user", .string(record.keyId)), ("displayName", .string(record.keyId)), ("active", true),
            ("apikey", .object([("key", .string(record.keyId)), ("parent", .string(record.user)), ("isSystem", false)])),
        ])
    }

    /// Throws 403 unless the caller is `subject` itself or administers the tenant; 404 when the subject is unknown.
    func requireSelfOrAdministrator(_ call: RESTCall, _ subject: AccessSubject) throws(APIError) {
        let principal = call.principal
        let isSelf = switch subject {
        case .key(let keyId): principal.keyId == keyId
        case .user(let name): principal.keyId == nil && principal.username == name
        }
        guard isSelf || auth.canAdministerTenant(principal) else {
            throw .forbidden("Not authorized: only the administrator or the \(subject.kind) itself may read this")
        }
        guard auth.subjectExists(subject, tenant: principal.tenant) else {
            throw APIError(AuthError.notFound("\(subject.kind) '\(subject.name)' not found"))
        }
    }

    /// Routes the paths after `/{key|user}/{id}/database`:
    /// `` (fabric levels), `{f}` (fabric level), `{f}/stream` (stream levels) and `{f}/stream/{s}` (one stream).
    /// GET needs the subject itself or the administrator; PUT and DELETE need the administrator.
    func routeAccessLevels(_ call: RESTCall, subject: AccessSubject, rest: [String]) throws {
        let principal = call.principal
        let tenant = principal.tenant
        guard rest.count <= 3, rest.count < 2 || rest[1] == "stream" else {
            throw APIError.routeNotFound(call.method, call.request.path)
        }
        if rest.count == 0 || rest.count == 2 {
            try Self.require(call, "GET")
        } else {
            try Self.require(call, "GET", "PUT", "DELETE")
        }
        if call.method == "GET" {
            try requireSelfOrAdministrator(call, subject)
        } else {
            try requireTenantAdministrator(call, "changing access levels")
        }
        guard let fabricName = rest.first else {
            call.exchange.succeed(result: .object(auth.fabrics(tenant: tenant).map { fabric in
                (fabric, .string(auth.fabricLevel(of: subject, tenant: tenant, fabric: fabric).rawValue))
            }))
            return
        }
        let fabric = Self.unqualified(fabricName, tenant: tenant)
        guard auth.fabricExists(tenant: tenant, fabric: fabric) else { throw APIError.fabricNotFound(fabric) }
        let stream: String? = rest.count == 3 ? try Self.accessStreamName(rest[2], call) : nil
        if rest.count == 2 {
            try listStreamLevels(call, subject: subject, fabric: fabric)
            return
        }
        let source = call.request.remoteAddress
        switch call.method {
        case "GET":
            let level = stream.map { auth.streamLevel(of: subject, tenant: tenant, fabric: fabric, stream: $0) }
                ?? auth.fabricLevel(of: subject, tenant: tenant, fabric: fabric)
            call.exchange.succeed(result: .string(level.rawValue))
        case "PUT":
            let object = try Self.jsonObject(call, usage: #"send {"grant": "rw"|"ro"|"wo"|"none"}"#)
            guard let grant = object["grant"] as? String, let level = AccessLevel(rawValue: grant) else {
                throw APIError.badParameter(#"body needs 'grant' set to "rw", "ro", "wo" or "none""#)
            }
            try performAccountChange(call.exchange) { [auth] () throws(AuthError) -> RESTJSON in
                try auth.setAccess(level, for: subject, fabric: fabric, stream: stream, by: principal, sourceAddress: source)
                return .string(level.rawValue)
            }
        default:
            try performAccountChange(call.exchange, status: 202) { [auth] () throws(AuthError) -> RESTJSON in
                try auth.clearAccess(for: subject, fabric: fabric, stream: stream, by: principal, sourceAddress: source)
                return .emptyObject
            }
        }
    }

    /// Explicit stream levels (`*` included); with `full=true` also every stream of the fabric with its resolved level.
    private func listStreamLevels(_ call: RESTCall, subject: AccessSubject, fabric: String) throws {
        let tenant = call.principal.tenant
        var levels = auth.explicitStreamLevels(of: subject, tenant: tenant, fabric: fabric).map { ($0.stream, $0.level) }
        if try RESTQuery.bool(call.request, "full") == true {
            let named = Set(levels.map(\.0))
            for info in engine.listStreams(tenant: tenant, fabric: fabric, scope: nil) where !named.contains(info.address.topic) {
                levels.append((info.address.topic, auth.streamLevel(of: subject, tenant: tenant, fabric: fabric, stream: info.address.topic)))
            }
        }
        call.exchange.succeed(result: .object(levels.map { ($0.0, .string($0.1.rawValue)) }))
    }

    /// Returns the stream name a level is stored under. pyC8 sends the name as its caller wrote it plus
    /// `global=True|False`, so a bare name with that parameter gets the matching `c8globals.`/`c8locals.` prefix.
    static func accessStreamName(_ name: String, _ call: RESTCall) throws(APIError) -> String {
        guard name != AuthService.defaultStreamName, StreamAddress.splitTopic(name) == nil,
            let global = try RESTQuery.bool(call.request, "global")
        else { return name }
        return (global ? StreamScope.global : StreamScope.local).topicPrefix + name
    }

    /// Strips a leading `{tenant}.` that names the caller's own tenant, as the Java SDK qualifies users and fabrics.
    static func unqualified(_ name: String, tenant: String) -> String {
        let prefix = tenant + "."
        return name.hasPrefix(prefix) && name.count > prefix.count ? String(name.dropFirst(prefix.count)) : name
    }
}
