import Synchronization

/// Unredeemed one-time passwords with their principal and expiry; bounded in size.
final class OneTimePasswordTable: Sendable {
    private struct Entry {
        var principal: Principal
        /// The user's password tag when this one-time password was issued (`AuthService.passwordTag(of:)`).
        var passwordTag: String?
        /// Epoch seconds.
        var expiresAt: Double
    }

    private let lifetime: Double
    private let capacity: Int
    /// Guards the table of pending passwords, keyed by the password itself.
    private let entries = Mutex<[String: Entry]>([:])

    init(lifetime: Double, capacity: Int) {
        self.lifetime = lifetime
        self.capacity = max(capacity, 1)
    }

    func insert(_ otp: String, principal: Principal, passwordTag: String? = nil, now: Double) {
        entries.withLock { table in
            if table.count >= capacity {
                table = table.filter { $0.value.expiresAt > now }
            }
            if table.count >= capacity, let oldest = table.min(by: { $0.value.expiresAt < $1.value.expiresAt }) {
                table.removeValue(forKey: oldest.key)
            }
            table[otp] = Entry(principal: principal, passwordTag: passwordTag, expiresAt: now + lifetime)
        }
    }

    /// Removes the password and returns its principal when it has not expired.
    func redeem(_ otp: String, now: Double) -> Principal? {
        redeemWithTag(otp, now: now)?.principal
    }

    /// Removes the password and returns its principal and password tag when it has not expired.
    func redeemWithTag(_ otp: String, now: Double) -> (principal: Principal, passwordTag: String?)? {
        guard let entry = entries.withLock({ $0.removeValue(forKey: otp) }) else { return nil }
        return now < entry.expiresAt ? (entry.principal, entry.passwordTag) : nil
    }

    var count: Int { entries.withLock { $0.count } }
}
