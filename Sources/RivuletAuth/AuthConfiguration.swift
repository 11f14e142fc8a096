/// Settings of authentication; every default is here.
public struct AuthConfiguration: Sendable {
    /// Lifetime of an issued JWT; GDN's tokens last 12 hours.
    public var tokenLifetime: Duration = .seconds(12 * 3600)
    /// PBKDF2-HMAC-SHA256 iterations for new password hashes; stored per account, so changing it keeps old logins working.
    public var passwordIterations: Int = 600_000
    /// How long a one-time password from `POST /apid/otp` stays redeemable.
    public var oneTimePasswordLifetime: Duration = .seconds(60)
    /// Upper bound on unredeemed one-time passwords; the oldest goes first when it is reached.
    public var maxOneTimePasswords: Int = 100_000
    /// Failed logins one source host may make within `failedLoginWindow` before further attempts get `tooManyAttempts`.
    public var maxFailedLoginsPerSource: Int = 10
    /// Failed logins one account (email, or tenant and username) may get within `failedLoginWindow` from all
    /// sources together before further attempts get `tooManyAttempts`, even with the right password.
    public var maxFailedLoginsPerAccount: Int = 20
    /// Window of both login throttles, counted from the first failure in it.
    public var failedLoginWindow: Duration = .seconds(60)

    public init() {}
}
