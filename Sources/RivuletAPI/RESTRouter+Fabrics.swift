import Foundation
import RivuletAuth
import RivuletCore

extension RESTRouter {
    /// `/_api/database` (list, create), `/_api/database/{name}` (delete) and the fabric information paths
    /// `/database/current`, `/database/metadata` and `/database/user`.
    func routeDatabase(_ call: RESTCall) throws {
        let rest = Array(call.segments.dropFirst())
        guard rest.count <= 1 else { throw APIError.routeNotFound(call.method, call.request.path) }
        let principal = call.principal
        let tenant = principal.tenant
        let exchange = call.exchange
        switch (rest.first, call.method) {
        case (nil, "GET"):
            exchange.succeed(result: .array(visibleFabrics(principal).map { .string($0) }))
        case (nil, "POST"):
            try createFabric(call)
        case ("current", "GET"), ("metadata", "GET"):
            let fabric = try call.fabric()
            guard auth.fabricAccess(principal, fabric: fabric) != .none || auth.canAdministerTenant(principal) else {
                throw APIError.forbidden("Not authorized: you have no access level on fabric '\(fabric)'")
            }
            exchange.succeed(result: fabricJSON(fabric, tenant: tenant))
        case ("user", "GET"):
            exchange.succeed(result: .array(visibleFabrics(principal).map { fabricJSON($0, tenant: tenant) }))
        case (let name?, "DELETE") where !["current", "metadata", "user"].contains(name):
            try deleteFabric(call, Self.unqualified(name, tenant: tenant))
        default:
            throw APIError.methodNotAllowed(call.method, call.request.path)
        }
    }

    /// Returns the fabrics the caller has a fabric level on, or all of them for a tenant administrator.
    private func visibleFabrics(_ principal: Principal) -> [String] {
        let all = auth.fabrics(tenant: principal.tenant)
        guard !auth.canAdministerTenant(principal) else { return all }
        return all.filter { auth.fabricAccess(principal, fabric: $0) != .none }
    }

    /// `POST /_api/database` with `{"name": "<fabric>"}`; the new fabric has the engine's default message TTL.
    private func createFabric(_ call: RESTCall) throws {
        try requireTenantAdministrator(call, "creating fabrics")
        let object = try Self.jsonObject(call, usage: #"send {"name": "<fabric>"}"#)
        guard let name = object["name"] as? String else { throw APIError.badParameter(#"body has no string 'name': send {"name": "<fabric>"}"#) }
        let principal = call.principal
        let source = call.request.remoteAddress
        try performAccountChange(call.exchange, status: 201) { [auth] () throws(AuthError) -> RESTJSON in
            try auth.createFabric(name, by: principal, sourceAddress: source)
            return true
        }
    }

    private func deleteTenant(_ call: RESTCall, _ tenant: String) throws {
        let principal = call.principal
        let source = call.request.remoteAddress
        try perform(call.exchange, status: 202) { [self, auth] in
            let fabrics: [String]
            do throws(AuthError) {
                fabrics = try auth.deleteTenant(tenant, by: principal, sourceAddress: source)
            } catch {
                throw APIError(error)
            }
            for fabric in fabrics { self.deleteStreams(tenant: tenant, fabric: fabric) }
            return true
        }
    }

    /// Deletes every stream of one fabric and closes their sockets. A failure is logged, and the other streams still go.
    func deleteStreams(tenant: String, fabric: String) {
        for info in engine.listStreams(tenant: tenant, fabric: fabric, scope: nil) {
            do throws(EngineError) {
                try engine.deleteStream(info.address, force: true)
            } catch .streamNotFound {
                continue
            } catch {
                logger.warning("deleting a stream failed", ["stream": info.address.description, "error": "\(error)"])
            }
        }
    }

    /// Deletes the fabric's record first, so no handshake can recreate a stream in it, then each of its streams.
    private func deleteFabric(_ call: RESTCall, _ fabric: String) throws {
        try requireTenantAdministrator(call, "deleting fabrics")
        let principal = call.principal
        let source = call.request.remoteAddress
        try perform(call.exchange, status: 202) { [self, auth] in
            do throws(AuthError) {
                try auth.deleteFabric(fabric, by: principal, sourceAddress: source)
            } catch {
                throw APIError(error)
            }
            self.deleteStreams(tenant: principal.tenant, fabric: fabric)
            return true
        }
    }

    /// `/_api/tenant` (list, create) and `/_api/tenant/{name}` (delete): only the server administrator, the `root`
    /// user of the first tenant, may use them. Create takes `{"name", "email", "passwd"}` and makes the tenant with
    /// its `root` user. Delete removes the tenant's accounts first, so its credentials stop working, then its streams.
    func routeTenant(_ call: RESTCall) throws {
        guard call.segments.count <= 2 else { throw APIError.routeNotFound(call.method, call.request.path) }
        try Self.require(call, call.segments.count == 2 ? "DELETE" : "GET", "POST")
        guard auth.isServerAdministrator(call.principal) else {
            throw APIError.forbidden("Not authorized: only the server administrator manages tenants")
        }
        if call.segments.count == 2 {
            try deleteTenant(call, call.segments[1])
            return
        }
        guard call.method == "POST" else {
            call.exchange.succeed(result: .array(auth.tenants().map { .string($0) }))
            return
        }
        let usage = #"send {"name": "<tenant>", "email": "<email>", "passwd": "<password>"}"#
        let object = try Self.jsonObject(call, usage: usage)
        guard let name = object["name"] as? String, let email = object["email"] as? String,
            let password = object["passwd"] as? String ?? object["password"] as? String
        else { throw APIError.badParameter("body needs strings 'name', 'email' and 'passwd': \(usage)") }
        let principal = call.principal
        let source = call.request.remoteAddress
        try performAccountChange(call.exchange, status: 201) { [auth] () throws(AuthError) -> RESTJSON in
            try auth.createTenant(name, email: email, password: password, by: principal, sourceAddress: source)
            return .object([("tenant", .string(name)), ("user", .string("root")), ("email", .string(email))])
        }
    }
}
