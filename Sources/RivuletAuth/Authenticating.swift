/// The identity behind a request or socket.
public struct Principal: Sendable, Equatable, Hashable {
    public var tenant: String
    public var username: String
    /// The API key that authenticated the request; nil for passwords, tokens and one-time passwords issued to them.
    /// A key acts with its own access levels, never with those of the user who created it.
    public var keyId: String?

    public init(tenant: String, username: String, keyId: String? = nil) {
        self.tenant = tenant
        self.username = username
        self.keyId = keyId
    }
}

/// An access level of GDN: at fabric level `rw` administrates, `ro` reads and `none` denies; at stream level
/// `rw` publishes and subscribes, `ro` only subscribes, `wo` only publishes and `none` denies.
public enum AccessLevel: String, Sendable, Codable, CaseIterable {
    case readWrite = "rw"
    case readOnly = "ro"
    case writeOnly = "wo"
    case none

    /// Publishing (WebSocket producer, REST publish) needs `rw` or `wo`.
    public var canPublish: Bool { self == .readWrite || self == .writeOnly }
    /// Consuming, reading and stream statistics need `rw` or `ro`.
    public var canConsume: Bool { self == .readWrite || self == .readOnly }
}

/// The authentication operations the API layer uses. Thread-safe.
public protocol Authenticating: AnyObject, Sendable {
    /// Checks an `Authorization` header value: `bearer <jwt>` or `apikey <key>`, scheme in any case.
    func authenticate(authorization: String) -> Principal?
    /// Redeems a one-time password from `POST /apid/otp`; each succeeds once, before it expires.
    func redeemOneTimePassword(_ otp: String) -> Principal?
    /// True when `tenant` has a fabric called `fabric`; `_system` always exists.
    func fabricExists(tenant: String, fabric: String) -> Bool
    /// The fabric level of `principal` on a fabric of its own tenant: `rw`, `ro` or `none`.
    func fabricAccess(_ principal: Principal, fabric: String) -> AccessLevel
    /// The stream level of `principal` on `stream` (a prefixed topic such as `c8globals.orders`): the stream's own
    /// level, else the fabric's `*` default, else what the fabric level implies.
    func streamAccess(_ principal: Principal, fabric: String, stream: String) -> AccessLevel
}

extension Authenticating {
    /// Only `_system`: implementations without fabrics of their own.
    public func fabricExists(tenant: String, fabric: String) -> Bool { fabric == "_system" }
    /// Full access: the default for test doubles that predate access levels; `AuthService` resolves real levels.
    public func fabricAccess(_ principal: Principal, fabric: String) -> AccessLevel { .readWrite }
    /// Full access: the default for test doubles that predate access levels; `AuthService` resolves real levels.
    public func streamAccess(_ principal: Principal, fabric: String, stream: String) -> AccessLevel { .readWrite }
}
