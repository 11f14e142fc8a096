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
                case .invalidCredentials: exchange.fail(.invalidCredentials())
                case .invalidArgument(let message): exchange.fail(.badParameter(message))
                case .tooManyAttempts(let seconds):
                    exchange.fail(.tooManyRequests("too many failed logins for this address or account: retry in \(seconds) s"),
                                  extraHeaders: [("retry-after", String(seconds))])
                case .storage: exchange.failUnexpectedly(error)
                }
            }
        }
    }

    /// `POST /_api/key/validate` with `{"jwt":...}`: returns whom the token names, as an object (jsC8 reads
    /// `result.tenant`). The request itself needs credentials too, as every route outside `/_open/` does.
    /// API keys do not exist yet, so `{"apikey":...}` always gets 401.
    func routeValidate(_ exchange: RESTExchange) throws {
        guard exchange.request.method == "POST" else {
            throw APIError.methodNotAllowed(exchange.request.method, exchange.request.path)
        }
        let object = (try? JSONSerialization.jsonObject(with: Data(exchange.request.body))) as? [String: Any]
        guard let object, object["jwt"] is String || object["apikey"] is String else {
            throw APIError.badParameter("validate body must be a JSON object with a string 'jwt' or 'apikey'")
        }
        guard let token = object["jwt"] as? String, let principal = auth.principal(forToken: token) else {
            throw APIError.unauthorized("token or API key is invalid or expired")
        }
        exchange.succeed(result: .object([
            ("tenant", .string(principal.tenant)),
            ("user", .string(principal.username)),
            ("parent", .string(principal.username)),
        ]))
    }

    /// `POST /apid/otp`: a single-use password for the next WebSocket handshake. The body is ignored.
    func routeOneTimePassword(_ call: RESTCall) throws {
        guard call.segments == ["apid", "otp"] else { throw APIError.routeNotFound(call.method, call.request.path) }
        try Self.require(call, "POST")
        let otp = auth.issueOneTimePassword(for: call.principal)
        call.exchange.succeed(fields: [("otp", .string(otp))])
    }

    /// `GET /_api/user`: the caller's own record first (pyC8 reads the tenant from it), then, for `root`,
    /// the tenant's other users.
    func routeUser(_ call: RESTCall) throws {
        guard call.segments == ["user"] else { throw APIError.routeNotFound(call.method, call.request.path) }
        try Self.require(call, "GET")
        guard let own = auth.userRecord(for: call.principal) else { throw APIError.unauthorized() }
        var records = [own]
        if call.principal.username == "root" {
            records += auth.users(tenant: call.principal.tenant).filter { $0.username != own.username }
        }
        call.exchange.succeed(result: .array(records.map(Self.userJSON)))
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
