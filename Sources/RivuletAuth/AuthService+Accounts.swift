import RivuletCore

extension AuthService {
    static let defaultAdministratorEmail = "admin@rivulet.local"
    static let administratorUsername = "root"
    static let minimumPasswordLength = 8

    /// Creates the first tenant and its `root` user when no account exists; otherwise changes nothing.
    ///
    /// `email` defaults to `admin@rivulet.local` and `tenant` to the email with `@` replaced by `_`. Without a
    /// `password` a random one is generated, written to `<dataDirectory>/initial-admin-password` (mode 0600) and
    /// returned so the caller can show it once.
    /// - Throws: `AuthError.invalidArgument` for a bad email, tenant or password; `AuthError.storage` when a write fails.
    public func ensureAdministrator(email: String?, password: String?, tenant: String?) throws(AuthError) -> AdministratorBootstrap {
        let email = email ?? Self.defaultAdministratorEmail
        let tenant = tenant ?? email.replacingOccurrences(of: "@", with: "_")
        try Self.validate(email: email, tenant: tenant, password: password)
        if let existing = findUser({ _ in true }) { return Self.unchanged(existing) }

        let generatedPassword = password == nil ? Base64URL.encode(AuthCrypto.randomBytes(count: 18)) : nil
        let user = makeUser(tenant: tenant, username: Self.administratorUsername, email: email,
                            password: password ?? generatedPassword!)
        let passwordFile = generatedPassword == nil ? nil : dataDirectoryPath + "/initial-admin-password"
        let created = try updateAccounts { (file: inout AccountsFile) throws(AuthError) -> Bool in
            // A concurrent caller may have created the first account since the check above.
            guard file.users.isEmpty else { return false }
            if let generatedPassword, let passwordFile {
                // Written before the account, so a crash in between never leaves an account whose password is lost.
                do throws(AuthFileError) {
                    try SecureFile.writeAtomically(Array((generatedPassword + "\n").utf8), to: passwordFile)
                } catch {
                    throw .storage(error.description)
                }
            }
            if !file.tenants.contains(where: { $0.name == tenant }) {
                file.tenants.append(StoredTenant(name: tenant, createdAt: user.createdAt))
            }
            file.users.append(user)
            return true
        }
        guard created else { return Self.unchanged(findUser { _ in true }!) }

        auditLogger.info("created administrator", ["tenant": tenant, "username": Self.administratorUsername, "email": email])
        return AdministratorBootstrap(created: true, tenant: tenant, username: Self.administratorUsername, email: email,
                                      generatedPassword: generatedPassword, passwordFile: passwordFile)
    }

    private static func unchanged(_ existing: StoredUser) -> AdministratorBootstrap {
        AdministratorBootstrap(created: false, tenant: existing.tenant, username: existing.username, email: existing.email,
                               generatedPassword: nil, passwordFile: nil)
    }

    /// Checks an email and password and returns a JWT. Hashes the password, so call it off the event loop.
    /// - Throws: `AuthError.invalidCredentials` for an unknown email, a wrong password or an inactive user.
    public func login(email: String, password: String, sourceAddress: String = "") throws(AuthError) -> LoginResult {
        let audit: KeyValuePairs<String, String> = ["email": email, "source": sourceAddress]
        let lowered = email.lowercased()
        let account = "email:" + lowered
        try checkThrottle(sourceAddress, account: account, audit: audit)
        // Users created without an email have an empty one, which must never match.
        let user = lowered.isEmpty ? nil : findUser { $0.email.lowercased() == lowered }
        return try finishLogin(user: user, password: password, source: sourceAddress, account: account, audit: audit)
    }

    /// Checks a tenant, username and password and returns a JWT. Hashes the password, so call it off the event loop.
    /// - Throws: `AuthError.invalidCredentials` for an unknown user, a wrong password or an inactive user.
    public func login(tenant: String, username: String, password: String, sourceAddress: String = "") throws(AuthError) -> LoginResult {
        let audit: KeyValuePairs<String, String> = ["tenant": tenant, "username": username, "source": sourceAddress]
        let account = "user:" + tenant + "/" + username
        try checkThrottle(sourceAddress, account: account, audit: audit)
        let user = findUser { $0.tenant == tenant && $0.username == username }
        return try finishLogin(user: user, password: password, source: sourceAddress, account: account, audit: audit)
    }

    /// Rejects a source or an account that failed too often, before spending time on hashing.
    private func checkThrottle(_ source: String, account: String, audit: KeyValuePairs<String, String>) throws(AuthError) {
        let now = currentTime
        let sourceWait = loginThrottle.retryAfter(source, now: now)
        let accountWait = accountLoginThrottle.retryAfter(key: account, now: now)
        guard sourceWait != nil || accountWait != nil else { return }
        let reason = sourceWait != nil ? "too many failed logins from this source" : "too many failed logins for this account"
        auditLogger.with(audit).info("login failed", ["reason": reason])
        let wait = max(sourceWait ?? 0, accountWait ?? 0)
        // Rounded up, so a client that waits exactly this long is no longer blocked.
        throw .tooManyAttempts(retryAfterSeconds: max(1, Int(wait.rounded(.up))))
    }

    private func finishLogin(user: StoredUser?, password: String, source: String, account: String,
                             audit: KeyValuePairs<String, String>) throws(AuthError) -> LoginResult {
        let passwordMatches: Bool
        if let user, let salt = Base64.decode(user.passwordSalt), let stored = Base64.decode(user.passwordHash) {
            let candidate = AuthCrypto.pbkdf2SHA256(password: Array(password.utf8), salt: salt,
                                                    iterations: user.passwordIterations, length: stored.count)
            passwordMatches = AuthCrypto.constantTimeEquals(candidate, stored)
        } else {
            // Hash anyway so that an unknown account takes as long as a wrong password.
            _ = AuthCrypto.pbkdf2SHA256(password: Array(password.utf8), salt: [UInt8](repeating: 0, count: Self.saltByteCount),
                                        iterations: passwordIterations, length: Self.hashByteCount)
            passwordMatches = false
        }
        guard let user, passwordMatches, user.active else {
            let reason = user == nil ? "unknown account" : (passwordMatches ? "inactive user" : "wrong password")
            auditLogger.with(audit).info("login failed", ["reason": reason])
            loginThrottle.recordFailure(source, now: currentTime)
            accountLoginThrottle.recordFailure(key: account, now: currentTime)
            throw .invalidCredentials
        }
        loginThrottle.recordSuccess(source)
        accountLoginThrottle.recordSuccess(key: account)
        auditLogger.with(audit).info("login succeeded", ["tenant": user.tenant, "username": user.username])
        return issueToken(for: Principal(tenant: user.tenant, username: user.username))
    }

    func makeUser(tenant: String, username: String, email: String, password: String) -> StoredUser {
        let salt = AuthCrypto.randomBytes(count: Self.saltByteCount)
        let hash = AuthCrypto.pbkdf2SHA256(password: Array(password.utf8), salt: salt,
                                           iterations: passwordIterations, length: Self.hashByteCount)
        return StoredUser(tenant: tenant, username: username, email: email, displayName: username, active: true,
                          passwordSalt: Base64.encode(salt), passwordHash: Base64.encode(hash),
                          passwordIterations: passwordIterations, createdAt: Int64(currentTime))
    }

    static func validate(email: String, tenant: String, password: String?) throws(AuthError) {
        let emailParts = email.split(separator: "@", omittingEmptySubsequences: false)
        guard emailParts.count == 2, !emailParts[0].isEmpty, !emailParts[1].isEmpty,
            email.unicodeScalars.allSatisfy({ $0.value > 0x20 && $0.value < 0x7F })
        else {
            throw .invalidArgument("email '\(email)' is invalid: use the form name@domain without spaces")
        }
        guard !tenant.isEmpty, tenant.utf8.count <= 64, tenant.unicodeScalars.allSatisfy(isTenantCharacter) else {
            throw .invalidArgument("tenant '\(tenant)' is invalid: use 1 to 64 letters, digits, '.', '_' or '-'")
        }
        if let password, password.count < minimumPasswordLength {
            throw .invalidArgument("password is too short: use at least \(minimumPasswordLength) characters")
        }
    }

    private static func isTenantCharacter(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar {
        case "a"..."z", "A"..."Z", "0"..."9", ".", "_", "-": true
        default: false
        }
    }
}
