import RivuletCore

/// A user as `GET /_api/user` shows it; never carries password material.
public struct UserRecord: Sendable, Equatable {
    public var tenant: String
    public var username: String
    public var email: String
    public var displayName: String
    public var active: Bool

    public var principal: Principal { Principal(tenant: tenant, username: username) }
}

/// A successful login: the signed token and whom it names.
public struct LoginResult: Sendable {
    public var token: String
    public var principal: Principal
    /// Epoch seconds.
    public var expiresAt: Int64
}

/// The outcome of `ensureAdministrator`. When it generated the password, the caller shows it once.
public struct AdministratorBootstrap: Sendable, Equatable {
    /// False when an account already existed and nothing changed.
    public var created: Bool
    public var tenant: String
    public var username: String
    public var email: String
    /// The generated password; nil when the caller supplied one or nothing was created.
    public var generatedPassword: String?
    /// Path of the owner-only file holding the generated password.
    public var passwordFile: String?
}

/// The persisted form of `accounts.json`.
struct AccountsFile: Codable, Sendable {
    var version: Int = 1
    var tenants: [StoredTenant] = []
    var users: [StoredUser] = []
}

struct StoredTenant: Codable, Sendable {
    var name: String
    /// Epoch seconds.
    var createdAt: Int64
}

struct StoredUser: Codable, Sendable {
    var tenant: String
    var username: String
    var email: String
    var displayName: String
    var active: Bool
    /// Standard base64 of the 16-byte salt.
    var passwordSalt: String
    /// Standard base64 of the 32-byte PBKDF2-HMAC-SHA256 output.
    var passwordHash: String
    var passwordIterations: Int
    var createdAt: Int64

    var record: UserRecord {
        UserRecord(tenant: tenant, username: username, email: email, displayName: displayName, active: active)
    }
}
