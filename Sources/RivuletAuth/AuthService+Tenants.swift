import RivuletCore

/// Changes to a user; nil fields stay as they are.
public struct UserChanges: Sendable {
    public var password: String?
    public var active: Bool?
    public var email: String?
    public var displayName: String?

    public init(password: String? = nil, active: Bool? = nil, email: String? = nil, displayName: String? = nil) {
        self.password = password
        self.active = active
        self.email = email
        self.displayName = displayName
    }
}

extension AuthService {
    // MARK: Tenants

    /// The tenant created first, by `ensureAdministrator`; its `root` user administers the server.
    public var serverTenant: String? { accounts.withLock { $0.tenants.first?.name } }

    /// True for the `root` user of the first tenant acting with its password or token.
    public func isServerAdministrator(_ principal: Principal) -> Bool {
        isAdministrator(principal) && principal.tenant == serverTenant
    }

    public func tenants() -> [String] { accounts.withLock { $0.tenants.map(\.name) } }

    /// Creates a tenant with its `root` user; the tenant starts with the `_system` fabric only.
    /// Hashes the password, so call it off the event loop.
    /// - Throws: `AuthError.invalidArgument` for a bad name, email or password; `AuthError.conflict` when the tenant
    ///   or the email exists already.
    public func createTenant(_ tenant: String, email: String, password: String, by actor: Principal? = nil,
                             sourceAddress: String = "") throws(AuthError) {
        try Self.validate(email: email, tenant: tenant, password: password)
        let user = makeUser(tenant: tenant, username: Self.administratorUsername, email: email, password: password)
        _ = try updateAccounts { (file: inout AccountsFile) throws(AuthError) -> Bool in
            guard !file.tenants.contains(where: { $0.name == tenant }) else { throw .conflict("tenant '\(tenant)' exists already") }
            try Self.checkEmailFree(email, in: file)
            file.tenants.append(StoredTenant(name: tenant, createdAt: user.createdAt))
            file.users.append(user)
            return true
        }
        auditInfo("created tenant", actor ?? Principal(tenant: "", username: "cli"), sourceAddress, ["new_tenant": tenant, "email": email])
    }

    /// Deletes a tenant with its users, keys, fabrics and levels, and returns the fabrics it had (`_system`
    /// included) so the caller can delete their streams.
    /// - Throws: `AuthError.notAllowed` for the server administrator's tenant, `AuthError.notFound` for an unknown one.
    public func deleteTenant(_ tenant: String, by actor: Principal, sourceAddress: String = "") throws(AuthError) -> [String] {
        var fabrics: [String] = []
        _ = try updateAccounts { (file: inout AccountsFile) throws(AuthError) -> Bool in
            guard let index = file.tenants.firstIndex(where: { $0.name == tenant }) else {
                throw .notFound("tenant '\(tenant)' not found")
            }
            guard index != 0 else { throw .notAllowed("tenant '\(tenant)' is the server administrator's and cannot be deleted") }
            fabrics = [Self.systemFabric] + file.fabrics.filter { $0.tenant == tenant }.map(\.name)
            file.tenants.remove(at: index)
            file.users.removeAll { $0.tenant == tenant }
            file.fabrics.removeAll { $0.tenant == tenant }
            file.keys.removeAll { $0.tenant == tenant }
            file.grants.removeAll { $0.tenant == tenant }
            return true
        }
        auditInfo("deleted tenant", actor, sourceAddress, ["deleted_tenant": tenant])
        return fabrics
    }

    // MARK: Fabrics

    /// Returns the fabrics of `tenant`: `_system` first, then the others in creation order.
    public func fabrics(tenant: String) -> [String] {
        accounts.withLock { file in [Self.systemFabric] + file.fabrics.filter { $0.tenant == tenant }.map(\.name) }
    }

    public func fabricExists(tenant: String, fabric: String) -> Bool {
        accounts.withLock { file in
            guard file.tenants.contains(where: { $0.name == tenant }) else { return false }
            return fabric == Self.systemFabric || file.fabrics.contains { $0.tenant == tenant && $0.name == fabric }
        }
    }

    /// Creates a fabric in the actor's tenant. Existing keys and users get no level on it until one is set.
    /// - Throws: `AuthError.invalidArgument` for a bad name, `AuthError.conflict` when it exists.
    public func createFabric(_ fabric: String, by actor: Principal, sourceAddress: String = "") throws(AuthError) {
        if let problem = AccountNames.fabricProblem(fabric) { throw .invalidArgument(problem) }
        let tenant = actor.tenant
        _ = try updateAccounts { (file: inout AccountsFile) throws(AuthError) -> Bool in
            guard fabric != Self.systemFabric, !file.fabrics.contains(where: { $0.tenant == tenant && $0.name == fabric }) else {
                throw .conflict("fabric '\(fabric)' exists already")
            }
            file.fabrics.append(StoredFabric(tenant: tenant, name: fabric, createdAt: Int64(currentTime)))
            return true
        }
        auditInfo("created fabric", actor, sourceAddress, ["fabric": fabric])
    }

    /// Deletes a fabric of the actor's tenant and every level set on it. The caller deletes its streams.
    /// - Throws: `AuthError.notAllowed` for `_system`, `AuthError.notFound` for an unknown fabric.
    public func deleteFabric(_ fabric: String, by actor: Principal, sourceAddress: String = "") throws(AuthError) {
        guard fabric != Self.systemFabric else { throw .notAllowed("fabric '_system' cannot be deleted") }
        let tenant = actor.tenant
        _ = try updateAccounts { (file: inout AccountsFile) throws(AuthError) -> Bool in
            guard let index = file.fabrics.firstIndex(where: { $0.tenant == tenant && $0.name == fabric }) else {
                throw .notFound("fabric '\(fabric)' not found")
            }
            file.fabrics.remove(at: index)
            file.grants.removeAll { $0.tenant == tenant && $0.fabric == fabric }
            return true
        }
        auditInfo("deleted fabric", actor, sourceAddress, ["fabric": fabric])
    }

    // MARK: Users

    /// Creates a user in the actor's tenant, with no access levels. Hashes the password, so call it off the event loop.
    /// - Throws: `AuthError.invalidArgument` for a bad name, email or password. `AuthError.conflict` when the
    ///   username exists in the tenant, or the email anywhere on the server, because a login by email must find one user.
    public func createUser(_ username: String, email: String?, password: String, active: Bool = true,
                           displayName: String? = nil, by actor: Principal, sourceAddress: String = "") throws(AuthError) -> UserRecord {
        if let problem = AccountNames.usernameProblem(username) { throw .invalidArgument(problem) }
        let tenant = actor.tenant
        if let email { try Self.validate(email: email, tenant: tenant, password: password) }
        try Self.validatePassword(password)
        var user = makeUser(tenant: tenant, username: username, email: email ?? "", password: password)
        user.active = active
        if let displayName { user.displayName = displayName }
        _ = try updateAccounts { (file: inout AccountsFile) throws(AuthError) -> Bool in
            guard !file.users.contains(where: { $0.tenant == tenant && $0.username == username }) else {
                throw .conflict("user '\(username)' exists already")
            }
            if let email { try Self.checkEmailFree(email, in: file) }
            file.users.append(user)
            return true
        }
        auditInfo("created user", actor, sourceAddress, ["username": username])
        return user.record
    }

    /// Changes a user of the actor's tenant. A new password is hashed, so call it off the event loop.
    /// - Throws: `AuthError.notFound`, `AuthError.invalidArgument`, `AuthError.conflict` for an email in use, and
    ///   `AuthError.notAllowed` for deactivating `root` or changing it as anyone but `root` itself.
    public func updateUser(_ username: String, _ changes: UserChanges, by actor: Principal,
                           sourceAddress: String = "") throws(AuthError) -> UserRecord {
        let tenant = actor.tenant
        if let password = changes.password { try Self.validatePassword(password) }
        if let email = changes.email { try Self.validate(email: email, tenant: tenant, password: nil) }
        if username == Self.administratorUsername {
            // Otherwise a key or user with `rw` on `_system` could take over the administrator by its password.
            guard isAdministrator(actor) else {
                throw .notAllowed("only the administrator '\(Self.administratorUsername)' itself may change its account")
            }
            guard changes.active != false else {
                throw .notAllowed("the administrator '\(Self.administratorUsername)' cannot be deactivated")
            }
        }
        let rehashed = changes.password.map { makeUser(tenant: tenant, username: username, email: "", password: $0) }
        var updated: StoredUser?
        _ = try updateAccounts { (file: inout AccountsFile) throws(AuthError) -> Bool in
            guard let index = file.users.firstIndex(where: { $0.tenant == tenant && $0.username == username }) else {
                throw .notFound("user '\(username)' not found")
            }
            var user = file.users[index]
            if let email = changes.email, email.lowercased() != user.email.lowercased() {
                try Self.checkEmailFree(email, in: file)
                user.email = email
            }
            if let rehashed {
                user.passwordSalt = rehashed.passwordSalt
                user.passwordHash = rehashed.passwordHash
                user.passwordIterations = rehashed.passwordIterations
            }
            if let active = changes.active { user.active = active }
            if let displayName = changes.displayName { user.displayName = displayName }
            file.users[index] = user
            updated = user
            return true
        }
        auditInfo("updated user", actor, sourceAddress, [
            "username": username, "password_changed": String(changes.password != nil),
            "active": changes.active.map(String.init) ?? "",
        ])
        return updated!.record
    }

    /// Deletes a user of the actor's tenant with its levels and the API keys it created.
    /// - Throws: `AuthError.notFound`, and `AuthError.notAllowed` for `root`.
    public func deleteUser(_ username: String, by actor: Principal, sourceAddress: String = "") throws(AuthError) {
        guard username != Self.administratorUsername else {
            throw .notAllowed("the administrator '\(Self.administratorUsername)' cannot be deleted")
        }
        let tenant = actor.tenant
        var removedKeys: [String] = []
        _ = try updateAccounts { (file: inout AccountsFile) throws(AuthError) -> Bool in
            guard let index = file.users.firstIndex(where: { $0.tenant == tenant && $0.username == username }) else {
                throw .notFound("user '\(username)' not found")
            }
            file.users.remove(at: index)
            removedKeys = file.keys.filter { $0.tenant == tenant && $0.user == username }.map(\.keyId)
            file.keys.removeAll { $0.tenant == tenant && $0.user == username }
            file.grants.removeAll { grant in
                grant.belongs(to: tenant, .user(username))
                    || (grant.tenant == tenant && grant.subjectKind == "key" && removedKeys.contains(grant.subjectName))
            }
            return true
        }
        auditInfo("deleted user", actor, sourceAddress, ["username": username, "deleted_keyids": removedKeys.joined(separator: ",")])
    }

    static func validatePassword(_ password: String) throws(AuthError) {
        guard password.count >= minimumPasswordLength else {
            throw .invalidArgument("password is too short: use at least \(minimumPasswordLength) characters")
        }
    }

    private static func checkEmailFree(_ email: String, in file: AccountsFile) throws(AuthError) {
        let lowered = email.lowercased()
        guard !file.users.contains(where: { $0.email.lowercased() == lowered }) else {
            throw .conflict("email '\(email)' is already in use")
        }
    }
}
