import RivuletCore

extension AuthService {
    static let keySecretByteCount = 32

    /// Creates the API key `keyId` in the tenant of `creator`, owned by the creator's user, with no access levels yet.
    ///
    /// Returns the full key `<tenant>.<keyid>.<secret>`, which exists only in this result: the server keeps a hash.
    /// - Throws: `AuthError.invalidArgument` for a bad id, `AuthError.conflict` when the tenant has that id already.
    public func createKey(_ keyId: String, by creator: Principal, sourceAddress: String = "") throws(AuthError) -> CreatedKey {
        if let problem = AccountNames.keyIdProblem(keyId) { throw .invalidArgument(problem) }
        let tenant = creator.tenant
        let secret = Base64URL.encode(AuthCrypto.randomBytes(count: Self.keySecretByteCount))
        let stored = StoredKey(tenant: tenant, keyId: keyId, user: creator.username,
                               secretHash: Base64.encode(keyHash(tenant: tenant, keyId: keyId, secret: secret)),
                               createdAt: Int64(currentTime))
        _ = try updateAccounts { (file: inout AccountsFile) throws(AuthError) -> Bool in
            guard !file.keys.contains(where: { $0.tenant == tenant && $0.keyId == keyId }) else {
                throw .conflict("API key '\(keyId)' exists already")
            }
            file.keys.append(stored)
            return true
        }
        auditInfo("created API key", creator, sourceAddress, ["keyid": keyId])
        return CreatedKey(key: "\(tenant).\(keyId).\(secret)", record: stored.record)
    }

    /// Deletes an API key of `tenant` and every access level set for it.
    /// - Throws: `AuthError.notFound` when the tenant has no such key.
    public func deleteKey(_ keyId: String, by actor: Principal, sourceAddress: String = "") throws(AuthError) {
        let tenant = actor.tenant
        _ = try updateAccounts { (file: inout AccountsFile) throws(AuthError) -> Bool in
            guard let index = file.keys.firstIndex(where: { $0.tenant == tenant && $0.keyId == keyId }) else {
                throw .notFound("API key '\(keyId)' not found")
            }
            file.keys.remove(at: index)
            file.grants.removeAll { $0.belongs(to: tenant, .key(keyId)) }
            return true
        }
        auditInfo("deleted API key", actor, sourceAddress, ["keyid": keyId])
    }

    /// Returns the keys of `tenant`, in creation order.
    public func keys(tenant: String) -> [KeyRecord] {
        accounts.withLock { file in file.keys.filter { $0.tenant == tenant }.map(\.record) }
    }

    public func key(tenant: String, keyId: String) -> KeyRecord? {
        accounts.withLock { file in file.keys.first { $0.tenant == tenant && $0.keyId == keyId }?.record }
    }

    /// Returns whom an API key acts for when its secret matches (compared in constant time) and its user is active.
    public func principal(forKey key: String) -> Principal? {
        guard let secretDot = key.lastIndex(of: "."), let idDot = key[..<secretDot].lastIndex(of: ".") else { return nil }
        let tenant = String(key[..<idDot])
        let keyId = String(key[key.index(after: idDot)..<secretDot])
        let secret = String(key[key.index(after: secretDot)...])
        guard !tenant.isEmpty, !keyId.isEmpty, !secret.isEmpty else { return nil }
        let stored = accounts.withLock { file -> StoredKey? in
            guard let stored = file.keys.first(where: { $0.tenant == tenant && $0.keyId == keyId }),
                file.users.contains(where: { $0.tenant == tenant && $0.username == stored.user && $0.active })
            else { return nil }
            return stored
        }
        guard let stored, let expected = Base64.decode(stored.secretHash) else {
            auditLogger.debug("API key rejected", ["tenant": tenant, "keyid": keyId, "reason": "unknown key"])
            return nil
        }
        guard AuthCrypto.constantTimeEquals(keyHash(tenant: tenant, keyId: keyId, secret: secret), expected) else {
            auditLogger.info("API key rejected", ["tenant": tenant, "keyid": keyId, "reason": "wrong secret"])
            return nil
        }
        return Principal(tenant: tenant, username: stored.user, keyId: keyId)
    }

    /// HMAC-SHA256 of the secret, bound to its tenant and key id.
    ///
    /// A fast hash is enough here, unlike for passwords: the secret is 32 bytes from the CSPRNG, so no amount of
    /// guessing per second finds it, and a slow hash would only cost time on every request. The HMAC key lives in
    /// `apikey-secret`, so a copy of `accounts.json` alone does not even allow testing guesses offline.
    func keyHash(tenant: String, keyId: String, secret: String) -> [UInt8] {
        AuthCrypto.hmacSHA256(key: apiKeySecret, message: Array("\(tenant)\u{0}\(keyId)\u{0}\(secret)".utf8))
    }

    /// Logs one audit line at info naming the acting tenant, user, key (empty for none) and source; never a secret.
    func auditInfo(_ message: String, _ actor: Principal, _ source: String, _ extra: KeyValuePairs<String, String> = [:]) {
        auditLogger.with(["tenant": actor.tenant, "user": actor.username, "by_keyid": actor.keyId ?? "", "source": source])
            .info(message, extra)
    }
}
