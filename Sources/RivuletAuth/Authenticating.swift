/// The identity behind a request or socket.
public struct Principal: Sendable, Equatable, Hashable {
    public var tenant: String
    public var username: String

    public init(tenant: String, username: String) {
        self.tenant = tenant
        self.username = username
    }
}

/// What the API layer needs from authentication. Thread-safe.
public protocol Authenticating: AnyObject, Sendable {
    /// Checks an `Authorization` header value: `bearer <jwt>` or `apikey <key>`, scheme in any case.
    func authenticate(authorization: String) -> Principal?
    /// Redeems a one-time password from `POST /apid/otp`; each succeeds once, before it expires.
    func redeemOneTimePassword(_ otp: String) -> Principal?
}
