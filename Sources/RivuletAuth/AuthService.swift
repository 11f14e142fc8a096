import RivuletCore

// TODO: placeholder until accounts, JWT and OTP land; it authenticates nobody.
public final class AuthService: Authenticating {
    public init(dataDirectory: String, logger: Logger) throws {}

    public func authenticate(authorization: String) -> Principal? { nil }

    public func redeemOneTimePassword(_ otp: String) -> Principal? { nil }
}
