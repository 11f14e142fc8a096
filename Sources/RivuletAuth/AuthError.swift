/// Failures of account operations.
public enum AuthError: Error, Sendable, Equatable {
    /// Unknown account, wrong password or inactive user; one case so callers cannot tell which.
    case invalidCredentials
    case invalidArgument(String)
    /// The source address or the account failed too many logins recently; retry after `retryAfterSeconds`.
    case tooManyAttempts(retryAfterSeconds: Int)
    /// The accounts file, the JWT secret or the password file could not be read or written.
    case storage(String)
    /// The named user, key, fabric or tenant does not exist in the caller's tenant.
    case notFound(String)
    /// A user, key, fabric or tenant of that name exists already.
    case conflict(String)
    /// The operation is never allowed on this account or fabric, such as deleting `root` or `_system`.
    case notAllowed(String)
}
