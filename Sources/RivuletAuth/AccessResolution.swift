/// The rules that combine explicit access levels, kept pure so they can be tested without a service.
enum AccessResolution {
    /// Returns the fabric level set for the subject, else `none`: fabric access always defaults to no access.
    static func fabricLevel(_ grants: [StoredGrant], fabric: String) -> AccessLevel {
        grants.first { $0.fabric == fabric && $0.stream == nil }?.level ?? .none
    }

    /// Returns the stream's own level, else the fabric's `*` default, else the level the fabric level implies
    /// (`rw` administrates and so publishes and subscribes, `ro` subscribes, `none` denies).
    static func streamLevel(_ grants: [StoredGrant], fabric: String, stream: String) -> AccessLevel {
        if let own = grants.first(where: { $0.fabric == fabric && $0.stream == stream }) { return own.level }
        if let fallback = grants.first(where: { $0.fabric == fabric && $0.stream == AuthService.defaultStreamName }) {
            return fallback.level
        }
        switch fabricLevel(grants, fabric: fabric) {
        case .readWrite: return .readWrite
        case .readOnly: return .readOnly
        case .writeOnly, .none: return .none
        }
    }
}

extension AuthService {
    /// The stream name that sets a fabric's default stream level.
    public static let defaultStreamName = "*"
    public static let systemFabric = "_system"

    /// True for the tenant's `root` user acting with its password or token; it has every level in its tenant.
    public func isAdministrator(_ principal: Principal) -> Bool {
        principal.keyId == nil && principal.username == Self.administratorUsername
    }

    /// Managing users, keys, fabrics and access levels needs the administrator or `rw` on `_system`.
    public func canAdministerTenant(_ principal: Principal) -> Bool {
        isAdministrator(principal) || fabricAccess(principal, fabric: Self.systemFabric) == .readWrite
    }

    public func fabricAccess(_ principal: Principal, fabric: String) -> AccessLevel {
        guard fabricExists(tenant: principal.tenant, fabric: fabric) else { return .none }
        if isAdministrator(principal) { return .readWrite }
        return fabricLevel(of: Self.subject(of: principal), tenant: principal.tenant, fabric: fabric)
    }

    public func streamAccess(_ principal: Principal, fabric: String, stream: String) -> AccessLevel {
        guard fabricExists(tenant: principal.tenant, fabric: fabric) else { return .none }
        if isAdministrator(principal) { return .readWrite }
        return streamLevel(of: Self.subject(of: principal), tenant: principal.tenant, fabric: fabric, stream: stream)
    }

    /// Returns the fabric level of a user or key; the `root` user always has `rw`.
    public func fabricLevel(of subject: AccessSubject, tenant: String, fabric: String) -> AccessLevel {
        if subject == .user(Self.administratorUsername) { return .readWrite }
        return AccessResolution.fabricLevel(grants(of: subject, tenant: tenant), fabric: fabric)
    }

    /// Returns the resolved stream level of a user or key; the `root` user always has `rw`.
    public func streamLevel(of subject: AccessSubject, tenant: String, fabric: String, stream: String) -> AccessLevel {
        if subject == .user(Self.administratorUsername) { return .readWrite }
        return AccessResolution.streamLevel(grants(of: subject, tenant: tenant), fabric: fabric, stream: stream)
    }

    /// Returns the stream levels set explicitly for a subject in one fabric, `*` included, keyed by stream name.
    public func explicitStreamLevels(of subject: AccessSubject, tenant: String, fabric: String) -> [(stream: String, level: AccessLevel)] {
        grants(of: subject, tenant: tenant).compactMap { grant in
            guard grant.fabric == fabric, let stream = grant.stream else { return nil }
            return (stream, grant.level)
        }
    }

    /// Returns the fabric levels set explicitly for a subject, in the order they were set.
    public func explicitFabricLevels(of subject: AccessSubject, tenant: String) -> [(fabric: String, level: AccessLevel)] {
        grants(of: subject, tenant: tenant).compactMap { grant in grant.stream == nil ? (grant.fabric, grant.level) : nil }
    }

    /// Sets the level of `subject` on a fabric (`stream` nil) or on a stream (`*` for the fabric's default).
    /// - Throws: `AuthError.notFound` for an unknown user, key or fabric; `AuthError.invalidArgument` for `wo` on a
    ///   fabric, an empty stream name, or the `root` user, whose levels are fixed.
    public func setAccess(_ level: AccessLevel, for subject: AccessSubject, fabric: String, stream: String?,
                          by actor: Principal, sourceAddress: String = "") throws(AuthError) {
        let tenant = actor.tenant
        if stream == nil, level == .writeOnly {
            throw .invalidArgument("fabric level 'wo' does not exist: use 'rw', 'ro' or 'none'")
        }
        _ = try updateAccounts { (file: inout AccountsFile) throws(AuthError) -> Bool in
            try Self.checkGrantTarget(file, subject: subject, tenant: tenant, fabric: fabric, stream: stream)
            file.grants.removeAll { $0.belongs(to: tenant, subject) && $0.fabric == fabric && $0.stream == stream }
            file.grants.append(StoredGrant(tenant: tenant, subject: subject, fabric: fabric, stream: stream, level: level))
            return true
        }
        auditInfo("access level set", actor, sourceAddress, [
            "subject": "\(subject.kind):\(subject.name)", "fabric": fabric, "stream": stream ?? "", "level": level.rawValue,
        ])
    }

    /// Removes an explicit level, so the stream falls back to `*` and then to the fabric level, and the fabric to `none`.
    /// Removing a level that was never set succeeds.
    /// - Throws: `AuthError.notFound` for an unknown user, key or fabric.
    public func clearAccess(for subject: AccessSubject, fabric: String, stream: String?,
                            by actor: Principal, sourceAddress: String = "") throws(AuthError) {
        let tenant = actor.tenant
        _ = try updateAccounts { (file: inout AccountsFile) throws(AuthError) -> Bool in
            try Self.checkGrantTarget(file, subject: subject, tenant: tenant, fabric: fabric, stream: stream)
            let before = file.grants.count
            file.grants.removeAll { $0.belongs(to: tenant, subject) && $0.fabric == fabric && $0.stream == stream }
            return file.grants.count != before
        }
        auditInfo("access level cleared", actor, sourceAddress, [
            "subject": "\(subject.kind):\(subject.name)", "fabric": fabric, "stream": stream ?? "",
        ])
    }

    /// True when `subject` names a user or key of `tenant`.
    public func subjectExists(_ subject: AccessSubject, tenant: String) -> Bool {
        accounts.withLock { file in Self.exists(subject, tenant: tenant, in: file) }
    }

    private static func checkGrantTarget(_ file: AccountsFile, subject: AccessSubject, tenant: String, fabric: String,
                                         stream: String?) throws(AuthError) {
        guard exists(subject, tenant: tenant, in: file) else { throw .notFound("\(subject.kind) '\(subject.name)' not found") }
        guard subject != .user(administratorUsername) else {
            throw .invalidArgument("the administrator '\(administratorUsername)' always has every level; it cannot be changed")
        }
        guard fabric == systemFabric || file.fabrics.contains(where: { $0.tenant == tenant && $0.name == fabric }) else {
            throw .notFound("fabric '\(fabric)' not found")
        }
        if let stream, stream.isEmpty || stream.utf8.count > 256 {
            throw .invalidArgument("stream name must have 1 to 256 characters")
        }
    }

    private static func exists(_ subject: AccessSubject, tenant: String, in file: AccountsFile) -> Bool {
        switch subject {
        case .user(let name): file.users.contains { $0.tenant == tenant && $0.username == name }
        case .key(let keyId): file.keys.contains { $0.tenant == tenant && $0.keyId == keyId }
        }
    }

    static func subject(of principal: Principal) -> AccessSubject {
        principal.keyId.map(AccessSubject.key) ?? .user(principal.username)
    }

    private func grants(of subject: AccessSubject, tenant: String) -> [StoredGrant] {
        accounts.withLock { file in file.grants.filter { $0.belongs(to: tenant, subject) } }
    }
}
