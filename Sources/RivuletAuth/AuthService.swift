import Foundation
import RivuletCore
import Synchronization

/// Accounts, password logins, JWTs and one-time passwords of one server, persisted in its data directory.
///
/// Files: `jwt-secret` and `apikey-secret` (32 random bytes each), `accounts.json` (tenants, users, fabrics, key
/// hashes and access levels) and, after a bootstrap with a generated password, `initial-admin-password`; all mode
/// 0600 and written atomically. Every method is thread-safe. `login` and
/// `ensureAdministrator` hash passwords (hundreds of milliseconds by default), so never call them on an event loop.
public final class AuthService: Authenticating {
    static let saltByteCount = 16
    static let hashByteCount = 32
    static let secretByteCount = 32

    private let dataDirectory: String
    private let configuration: AuthConfiguration
    private let logger: Logger
    private let now: @Sendable () -> Double
    private let secret: [UInt8]
    /// The key of the keyed hash that API key secrets are stored under.
    let apiKeySecret: [UInt8]
    /// The accounts as last written to disk; changed only after a successful write.
    let accounts: Mutex<AccountsFile>
    /// Serializes account changes so each write starts from the latest state. Taken before `accounts`, never inside it.
    private let writeLock = Mutex<Void>(())
    private let oneTimePasswords: OneTimePasswordTable
    let loginThrottle: LoginThrottle
    let accountLoginThrottle: LoginThrottle

    /// Opens (or creates) the authentication files in `dataDirectory`.
    /// - Throws: `AuthError.storage` when a file cannot be read, written or parsed.
    public init(
        dataDirectory: String, logger: Logger, configuration: AuthConfiguration = AuthConfiguration(),
        now: @escaping @Sendable () -> Double = { Date().timeIntervalSince1970 }
    ) throws {
        self.dataDirectory = dataDirectory
        self.configuration = configuration
        self.logger = logger
        self.now = now
        self.oneTimePasswords = OneTimePasswordTable(
            lifetime: Self.seconds(configuration.oneTimePasswordLifetime), capacity: configuration.maxOneTimePasswords)
        self.loginThrottle = LoginThrottle(
            maxFailures: configuration.maxFailedLoginsPerSource, window: Self.seconds(configuration.failedLoginWindow))
        self.accountLoginThrottle = LoginThrottle(
            maxFailures: configuration.maxFailedLoginsPerAccount, window: Self.seconds(configuration.failedLoginWindow))
        do throws(AuthFileError) {
            try SecureFile.createDirectory(dataDirectory)
            for name in ["jwt-secret", "apikey-secret", "accounts.json", "initial-admin-password"] {
                let path = dataDirectory + "/" + name
                if try SecureFile.restrictToOwner(path) {
                    logger.warning("file was readable by group or others; restricted it to its owner", ["path": path])
                }
            }
            self.secret = try Self.loadOrCreateSecret(path: dataDirectory + "/jwt-secret", logger: logger)
            self.apiKeySecret = try Self.loadOrCreateSecret(path: dataDirectory + "/apikey-secret", logger: logger)
            self.accounts = Mutex(try Self.loadAccounts(path: dataDirectory + "/accounts.json"))
        } catch {
            throw AuthError.storage(error.description)
        }
    }

    // MARK: Authenticating

    /// Accepts `bearer <jwt>` and `apikey <tenant>.<keyid>.<secret>`, the scheme in any case.
    public func authenticate(authorization: String) -> Principal? {
        let trimmed = authorization.trimmingCharacters(in: .whitespaces)
        guard let space = trimmed.firstIndex(of: " ") else { return nil }
        let scheme = trimmed[..<space].lowercased()
        let credential = trimmed[space...].trimmingCharacters(in: .whitespaces)
        guard !credential.isEmpty else { return nil }
        switch scheme {
        case "bearer": return principal(forToken: credential)
        case "apikey": return principal(forKey: credential)
        default: return nil
        }
    }

    /// Redeems a one-time password once, before it expires, and only while its user or key still exists.
    public func redeemOneTimePassword(_ otp: String) -> Principal? {
        guard let (principal, tag) = oneTimePasswords.redeemWithTag(otp, now: now()), isCurrent(principal) else { return nil }
        // A one-time password issued before its user's password changed ends with the user's tokens. A key's
        // one-time password carries no tag.
        guard principal.keyId != nil || tag == currentPasswordTag(principal) else { return nil }
        return principal
    }

    /// True when the user behind `principal` is active and, for a key, the key still exists.
    func isCurrent(_ principal: Principal) -> Bool {
        accounts.withLock { file in
            guard file.users.contains(where: { $0.tenant == principal.tenant && $0.username == principal.username && $0.active })
            else { return false }
            guard let keyId = principal.keyId else { return true }
            return file.keys.contains { $0.tenant == principal.tenant && $0.keyId == keyId }
        }
    }

    // MARK: Tokens and one-time passwords

    /// Returns whom a JWT names when its signature, algorithm and expiry check out and the user is still active.
    public func principal(forToken token: String) -> Principal? {
        let claims: TokenClaims
        do {
            claims = try JSONWebToken.verify(token, secret: secret, now: Int64(now()))
        } catch {
            logger.debug("token rejected", ["reason": "\(error)"])
            return nil
        }
        let principal = Principal(tenant: claims.tenant, username: claims.username)
        let current = accounts.withLock { file in
            file.users.first { $0.tenant == principal.tenant && $0.username == principal.username && $0.active }
                .map(passwordTag(of:))
        }
        guard let current else { return nil }
        guard claims.passwordTag == current else {
            logger.debug("token rejected", [
                "reason": "password tag mismatch: the password changed, or the user was created again, after issue",
                "tenant": principal.tenant, "username": principal.username,
            ])
            return nil
        }
        return principal
    }

    /// Issues a JWT for `principal` without a password check; for logins that were verified elsewhere.
    public func issueToken(for principal: Principal) -> LoginResult {
        let issuedAt = Int64(now())
        let expiresAt = issuedAt + Int64(Self.seconds(configuration.tokenLifetime))
        let claims = TokenClaims(
            tenant: principal.tenant, username: principal.username, issuedAt: issuedAt, expiresAt: expiresAt,
            passwordTag: currentPasswordTag(principal))
        return LoginResult(token: JSONWebToken.sign(claims, secret: secret), principal: principal, expiresAt: expiresAt)
    }

    /// Returns the password tag of the user behind `principal`, or nil when the user does not exist.
    func currentPasswordTag(_ principal: Principal) -> String? {
        accounts.withLock { file in
            file.users.first { $0.tenant == principal.tenant && $0.username == principal.username }.map(passwordTag(of:))
        }
    }

    /// Returns a short keyed fingerprint of the user's salt and hash. Every password set draws a new salt, so
    /// the tag changes with each password change and with a user created again under the same name.
    func passwordTag(of user: StoredUser) -> String {
        let digest = AuthCrypto.hmacSHA256(key: secret, message: Array(("password:" + user.passwordSalt + ":" + user.passwordHash).utf8))
        return Base64URL.encode(Array(digest.prefix(12)))
    }

    /// Returns a fresh random URL-safe one-time password bound to `principal`, redeemable once within its lifetime.
    public func issueOneTimePassword(for principal: Principal) -> String {
        let otp = Base64URL.encode(AuthCrypto.randomBytes(count: 32))
        let tag = principal.keyId == nil ? currentPasswordTag(principal) : nil
        oneTimePasswords.insert(otp, principal: principal, passwordTag: tag, now: now())
        return otp
    }

    // MARK: Users

    /// Returns the record of one user, or nil when the user does not exist.
    public func userRecord(for principal: Principal) -> UserRecord? {
        accounts.withLock { file in
            file.users.first { $0.tenant == principal.tenant && $0.username == principal.username }?.record
        }
    }

    /// Returns every user of `tenant`, in creation order.
    public func users(tenant: String) -> [UserRecord] {
        accounts.withLock { file in file.users.filter { $0.tenant == tenant }.map(\.record) }
    }

    /// True when `tenant` exists.
    public func tenantExists(_ tenant: String) -> Bool {
        accounts.withLock { file in file.tenants.contains { $0.name == tenant } }
    }

    // MARK: Helpers

    static func seconds(_ duration: Duration) -> Double {
        let (seconds, attoseconds) = duration.components
        return Double(seconds) + Double(attoseconds) / 1e18
    }

    private static func loadOrCreateSecret(path: String, logger: Logger) throws(AuthFileError) -> [UInt8] {
        if let existing = try SecureFile.read(path) {
            guard existing.count == secretByteCount else {
                throw AuthFileError(path: path, operation: "load the \(secretByteCount)-byte secret from", errorNumber: EINVAL)
            }
            return existing
        }
        let secret = AuthCrypto.randomBytes(count: secretByteCount)
        try SecureFile.writeAtomically(secret, to: path)
        logger.info("created secret file", ["path": path])
        return secret
    }

    private static func loadAccounts(path: String) throws(AuthFileError) -> AccountsFile {
        guard let bytes = try SecureFile.read(path) else { return AccountsFile() }
        guard let file = try? JSONDecoder().decode(AccountsFile.self, from: Data(bytes)) else {
            throw AuthFileError(path: path, operation: "parse", errorNumber: EINVAL)
        }
        return file
    }

    /// Applies `change` to a copy of the accounts and, when it returns true, writes the copy and then makes it visible.
    /// Returns what `change` returned.
    func updateAccounts(_ change: (inout AccountsFile) throws(AuthError) -> Bool) throws(AuthError) -> Bool {
        try writeLock.withLock { _ throws(AuthError) -> Bool in
            var file = accounts.withLock { $0 }
            guard try change(&file) else { return false }
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            do {
                let bytes = try encoder.encode(file)
                try SecureFile.writeAtomically(Array(bytes), to: dataDirectory + "/accounts.json")
            } catch let error as AuthFileError {
                throw .storage(error.description)
            } catch {
                throw .storage("encoding accounts failed: \(error)")
            }
            accounts.withLock { $0 = file }
            return true
        }
    }

    func findUser(_ matches: (StoredUser) -> Bool) -> StoredUser? {
        accounts.withLock { file in file.users.first(where: matches) }
    }

    var dataDirectoryPath: String { dataDirectory }
    var passwordIterations: Int { configuration.passwordIterations }
    var auditLogger: Logger { logger }
    var currentTime: Double { now() }
}
