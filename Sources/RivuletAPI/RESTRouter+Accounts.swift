import Foundation
import RivuletAuth
import RivuletCore

extension RESTRouter {
    /// `POST /_open/auth` with `{email,password}` or `{tenant,username,password}`: checks the password and returns a JWT.
    func routeOpen(_ path: RESTPath, _ exchange: RESTExchange) throws {
        guard path.segments == ["_open", "auth"] else {
            throw APIError.routeNotFound(exchange.request.method, exchange.request.path)
        }
        guard exchange.request.method == "POST" else {
            throw APIError.methodNotAllowed(exchange.request.method, exchange.request.path)
        }
        let credentials = try LoginCredentials(body: exchange.request.body)
        try reserve(pendingLogins, limit: Self.maxConcurrentLogins, what: "logins")
        let source = exchange.request.remoteAddress
        // Hashing takes hundreds of milliseconds, so it runs off the event loop.
        workQueue.async { [self] in
            defer { self.pendingLogins.subtract(1, ordering: .relaxed) }
            do throws(AuthError) {
                let login = try credentials.login(with: self.auth, sourceAddress: source)
                exchange.succeed(fields: [
                    ("jwt", .string(login.token)),
                    ("tenant", .string(login.principal.tenant)),
                    ("username", .string(login.principal.username)),
                ])
            } catch {
                switch error {
                case .tooManyAttempts(let seconds):
                    exchange.fail(APIError(error), extraHeaders: [("retry-after", String(seconds))])
                case .storage:
                    exchange.failUnexpectedly(error)
                default:
                    exchange.fail(APIError(error))
                }
            }
        }
    }

    /// `POST /_api/key/validate` with `{"jwt":...}` or `{"apikey":...}`: returns whom the token or key names, as an
    /// object (jsC8 reads `result.tenant`). The request itself needs credentials too, as every route outside `/_open/`
    /// does, and a token or key of another tenant counts as invalid.
    func routeValidate(_ call: RESTCall) throws {
        try Self.require(call, "POST")
        let object = (try? JSONSerialization.jsonObject(with: Data(call.request.body))) as? [String: Any]
        guard let object, object["jwt"] is String || object["apikey"] is String else {
            throw APIError.badParameter("validate body must be a JSON object with a string 'jwt' or 'apikey'")
        }
        let principal = (object["jwt"] as? String).flatMap(auth.principal(forToken:))
            ?? (object["apikey"] as? String).flatMap(auth.principal(forKey:))
        guard let principal, principal.tenant == call.principal.tenant else {
            throw APIError.unauthorized("token or API key is invalid or expired")
        }
        call.exchange.succeed(result: .object([
            ("tenant", .string(principal.tenant)),
            ("user", .string(principal.username)),
            ("parent", .string(principal.username)),
            ("keyid", principal.keyId.map(RESTJSON.string) ?? .null),
        ]))
    }

    /// `POST /apid/otp`: a single-use password for the next WebSocket handshake. The body is ignored.
    func routeOneTimePassword(_ call: RESTCall) throws {
        guard call.segments == ["apid", "otp"] else { throw APIError.routeNotFound(call.method, call.request.path) }
        try Self.require(call, "POST")
        let otp = auth.issueOneTimePassword(for: call.principal)
        call.exchange.succeed(fields: [("otp", .string(otp))])
    }

    /// `/_api/user` (list, create), `/_api/user/{user}` (get, update, delete) and the access-level paths below
    /// `/_api/user/{user}/database`. Also reached as `/_fabric/{f}/_admin/user/...`. A user may be named
    /// `{tenant}.{user}` with the caller's own tenant, as the Java SDK does.
    func routeUser(_ call: RESTCall) throws {
        let rest = Array(call.segments.dropFirst())
        guard let first = rest.first else {
            try Self.require(call, "GET", "POST")
            if call.method == "POST" { try createUser(call) } else { try listUsers(call) }
            return
        }
        let username = Self.unqualifiedUser(first, tenant: call.principal.tenant, auth: auth)
        if rest.count >= 2 {
            guard rest[1] == "database" else { throw APIError.routeNotFound(call.method, call.request.path) }
            try routeAccessLevels(call, subject: .user(username), rest: Array(rest.dropFirst(2)))
            return
        }
        try Self.require(call, "GET", "PUT", "PATCH", "DELETE")
        let principal = call.principal
        let source = call.request.remoteAddress
        switch call.method {
        case "GET":
            try requireSelfOrAdministrator(call, .user(username))
            guard let record = auth.userRecord(for: Principal(tenant: principal.tenant, username: username)) else {
                throw APIError(AuthError.notFound("user '\(username)' not found"))
            }
            call.exchange.succeed(result: Self.userJSON(record))
        case "DELETE":
            try requireTenantAdministrator(call, "deleting users")
            try performAccountChange(call.exchange, status: 202) { [auth] () throws(AuthError) -> RESTJSON in
                try auth.deleteUser(username, by: principal, sourceAddress: source)
                return .emptyObject
            }
        default:
            let changes = try Self.userChanges(call)
            let isSelf = principal.keyId == nil && principal.username == username
            // Users may change their own password, email and display name; anything else is administration.
            if !(isSelf && changes.active == nil) { try requireTenantAdministrator(call, "changing other users") }
            try performAccountChange(call.exchange) { [auth] () throws(AuthError) -> RESTJSON in
                Self.userJSON(try auth.updateUser(username, changes, by: principal, sourceAddress: source))
            }
        }
    }

    /// The caller's own record first (pyC8 reads the tenant from it), then, for the administrator, the other users.
    /// For a key, the first record is that of the user who created it.
    private func listUsers(_ call: RESTCall) throws {
        guard let own = auth.userRecord(for: call.principal) else { throw APIError.unauthorized() }
        var records = [own]
        if auth.canAdministerTenant(call.principal) {
            records += auth.users(tenant: call.principal.tenant).filter { $0.username != own.username }
        }
        call.exchange.succeed(result: .array(records.map(Self.userJSON)))
    }

    /// `POST /_api/user` with `{user, passwd, email?, active?, displayName?, extra?}`.
    private func createUser(_ call: RESTCall) throws {
        try requireTenantAdministrator(call, "creating users")
        let usage = #"send {"user": "<name>", "passwd": "<password>", "email": "<optional>", "active": true}"#
        let object = try Self.jsonObject(call, usage: usage)
        guard let username = object["user"] as? String else { throw APIError.badParameter("body has no string 'user': \(usage)") }
        guard let password = object["passwd"] as? String ?? object["password"] as? String else {
            throw APIError.badParameter("body has no string 'passwd': \(usage)")
        }
        let email = object["email"] as? String
        let active = object["active"] as? Bool ?? true
        let displayName = object["displayName"] as? String ?? (object["extra"] as? [String: Any])?["name"] as? String
        let principal = call.principal
        let source = call.request.remoteAddress
        try performAccountChange(call.exchange, status: 201) { [auth] () throws(AuthError) -> RESTJSON in
            Self.userJSON(try auth.createUser(username, email: email, password: password, active: active,
                                              displayName: displayName, by: principal, sourceAddress: source))
        }
    }

    private static func userChanges(_ call: RESTCall) throws(APIError) -> UserChanges {
        let object = try jsonObject(call, usage: #"send any of {"passwd", "active", "email", "displayName"}"#)
        var changes = UserChanges()
        // A member of the wrong type is an error rather than ignored, so a caller never believes a change
        // was made that was not.
        let password = try member(object, "passwd", as: String.self, "a string")
        let passwordAlias = try member(object, "password", as: String.self, "a string")
        changes.password = password ?? passwordAlias
        changes.active = try member(object, "active", as: Bool.self, "true or false")
        changes.email = try member(object, "email", as: String.self, "a string")
        let extra = try member(object, "extra", as: [String: Any].self, "an object")
        let displayName = try member(object, "displayName", as: String.self, "a string")
        changes.displayName = displayName ?? (extra?["name"] as? String)
        return changes
    }

    /// Returns the member `key` of `object` as `type`, nil when it is absent, and throws when it has another
    /// type (null included).
    private static func member<Member>(
        _ object: [String: Any], _ key: String, as type: Member.Type, _ expected: String
    ) throws(APIError) -> Member? {
        guard let value = object[key] else { return nil }
        guard let typed = value as? Member else { throw .badParameter("'\(key)' must be \(expected)") }
        return typed
    }

    /// Strips a `{tenant}.` qualifier naming the caller's tenant unless a user has the qualified name itself.
    private static func unqualifiedUser(_ name: String, tenant: String, auth: AuthService) -> String {
        let stripped = unqualified(name, tenant: tenant)
        guard stripped != name, auth.userRecord(for: Principal(tenant: tenant, username: name)) == nil else { return name }
        return stripped
    }

    static func userJSON(_ record: UserRecord) -> RESTJSON {
        .object([
            ("tenant", .string(record.tenant)),
            ("user", .string(record.username)),
            ("displayName", .string(record.displayName)),
            ("email", .string(record.email)),
            ("active", .bool(record.active)),
            ("apikey", .emptyObject),
        ])
    }
}

/// The body of `POST /_open/auth`.
enum LoginCredentials: Sendable {
    case email(String, password: String)
    case user(tenant: String, username: String, password: String)

    init(body: [UInt8]) throws(APIError) {
        let usage = "send a JSON object {\"email\",\"password\"} or {\"tenant\",\"username\",\"password\"}"
        guard let object = (try? JSONSerialization.jsonObject(with: Data(body))) as? [String: Any] else {
            throw .badParameter("login body is not a JSON object: \(usage)")
        }
        guard let password = object["password"] as? String else {
            throw .badParameter("login body has no string 'password': \(usage)")
        }
        if let email = object["email"] as? String, !email.isEmpty {
            self = .email(email, password: password)
        } else if let tenant = object["tenant"] as? String, let username = object["username"] as? String {
            self = .user(tenant: tenant, username: username, password: password)
        } else {
            throw .badParameter("login body names no account: \(usage)")
        }
    }

    func login(with auth: AuthService, sourceAddress: String) throws(AuthError) -> LoginResult {
        switch self {
        case .email(let email, let password):
            try auth.login(email: email, password: password, sourceAddress: sourceAddress)
        case .user(let tenant, let username, let password):
            try auth.login(tenant: tenant, username: username, password: password, sourceAddress: sourceAddress)
        }
    }
}
