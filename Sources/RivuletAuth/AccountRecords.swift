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

/// The persisted form of `accounts.json`. Version 1 files (tenants and users only) load with empty fabrics, keys and grants.
struct AccountsFile: Codable, Sendable {
    var version: Int = 2
    var tenants: [StoredTenant] = []
    var users: [StoredUser] = []
    /// Fabrics other than `_system`, which every tenant has without a record.
    var fabrics: [StoredFabric] = []
    var keys: [StoredKey] = []
    var grants: [StoredGrant] = []

    init() {}

    init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        version = try container.decode(Int.self, forKey: .version)
        tenants = try container.decode([StoredTenant].self, forKey: .tenants)
        users = try container.decode([StoredUser].self, forKey: .users)
        fabrics = try container.decodeIfPresent([StoredFabric].self, forKey: .fabrics) ?? []
        keys = try container.decodeIfPresent([StoredKey].self, forKey: .keys) ?? []
        grants = try container.decodeIfPresent([StoredGrant].self, forKey: .grants) ?? []
    }
}

struct StoredFabric: Codable, Sendable, Equatable {
    var tenant: String
    var name: String
    var createdAt: Int64
}

/// An API key. The secret itself is never stored, only its keyed hash.
struct StoredKey: Codable, Sendable, Equatable {
    var tenant: String
    var keyId: String
    /// The user who created the key; GDN calls it the key's parent.
    var user: String
    /// Standard base64 of HMAC-SHA256 over tenant, key id and secret, keyed with the server's `apikey-secret`.
    var secretHash: String
    var createdAt: Int64

    var record: KeyRecord { KeyRecord(tenant: tenant, keyId: keyId, user: user, createdAt: createdAt) }
}

/// Whom an access level belongs to.
public enum AccessSubject: Sendable, Hashable {
    case user(String)
    case key(String)

    public var kind: String {
        switch self {
        case .user: "user"
        case .key: "key"
        }
    }

    public var name: String {
        switch self {
        case .user(let name), .key(let name): name
        }
    }
}

/// One access level set explicitly: on a fabric when `stream` is nil, else on one stream or the `*` default.
struct StoredGrant: Codable, Sendable, Equatable {
    var tenant: String
    /// `user` or `key`.
    var subjectKind: String
    var subjectName: String
    var fabric: String
    var stream: String?
    var level: AccessLevel

    init(tenant: String, subject: AccessSubject, fabric: String, stream: String?, level: AccessLevel) {
        self.tenant = tenant
        self.subjectKind = subject.kind
        self.subjectName = subject.name
        self.fabric = fabric
        self.stream = stream
        self.level = level
    }

    func belongs(to tenant: String, _ subject: AccessSubject) -> Bool {
        self.tenant == tenant && subjectKind == subject.kind && subjectName == subject.name
    }
}

/// A key as `GET /_api/key` shows it; never carries the secret or its hash.
public struct KeyRecord: Sendable, Equatable {
    public var tenant: String
    public var keyId: String
    public var user: String
    /// Epoch seconds.
    public var createdAt: Int64
}

/// A freshly created key: the only time the full key is available.
public struct CreatedKey: Sendable {
    /// `<tenant>.<keyid>.<secret>`.
    public var key: String
    public var record: KeyRecord
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
