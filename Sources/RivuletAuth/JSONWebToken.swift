import Foundation

/// The claims Rivulet puts in its tokens. jsC8 decodes the payload without verifying it and reads `tenant`.
public struct TokenClaims: Sendable, Equatable {
    public var tenant: String
    public var username: String
    /// Epoch seconds.
    public var issuedAt: Int64
    /// Epoch seconds; the token is rejected from this second on.
    public var expiresAt: Int64
    /// A fingerprint of the user's password at issue time (claim `pwd`), so a password change or a user
    /// deleted and created again ends the tokens issued before. Nil in tokens that carry none.
    public var passwordTag: String?

    public init(tenant: String, username: String, issuedAt: Int64, expiresAt: Int64, passwordTag: String? = nil) {
        self.tenant = tenant
        self.username = username
        self.issuedAt = issuedAt
        self.expiresAt = expiresAt
        self.passwordTag = passwordTag
    }
}

/// The reason a token was rejected. Callers respond 401 whatever the case, which exists for logs and tests.
public enum TokenError: Error, Sendable, Equatable {
    case malformed
    /// The header names an algorithm other than HS256, `none` included.
    case unsupportedAlgorithm(String)
    case badSignature
    case expired
}

/// JSON Web Tokens signed with HMAC-SHA256 (RFC 7519, RFC 7515), the only algorithm Rivulet issues or accepts.
public enum JSONWebToken {
    private static let header = #"{"alg":"HS256","typ":"JWT"}"#

    /// Returns the compact serialization `header.payload.signature` of `claims` signed with `secret`.
    public static func sign(_ claims: TokenClaims, secret: [UInt8]) -> String {
        var payload: [String: Any] = [
            "tenant": claims.tenant,
            "username": claims.username,
            "iat": claims.issuedAt,
            "exp": claims.expiresAt,
        ]
        if let tag = claims.passwordTag { payload["pwd"] = tag }
        // Serializing a dictionary of strings and integers cannot fail.
        let payloadBytes = try! JSONSerialization.data(withJSONObject: payload, options: [.sortedKeys])
        let signingInput = Base64URL.encode(Array(header.utf8)) + "." + Base64URL.encode(Array(payloadBytes))
        let signature = AuthCrypto.hmacSHA256(key: secret, message: Array(signingInput.utf8))
        return signingInput + "." + Base64URL.encode(signature)
    }

    /// Checks the algorithm, the signature (in constant time) and the expiry, then returns the claims.
    public static func verify(_ token: String, secret: [UInt8], now: Int64) throws(TokenError) -> TokenClaims {
        let parts = token.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3 else { throw .malformed }
        guard let headerBytes = Base64URL.decode(parts[0]),
            let headerObject = jsonObject(headerBytes),
            let algorithm = headerObject["alg"] as? String
        else { throw .malformed }
        guard algorithm == "HS256" else { throw .unsupportedAlgorithm(algorithm) }

        guard let signature = Base64URL.decode(parts[2]) else { throw .malformed }
        let signingInput = Array(token.utf8.prefix(parts[0].utf8.count + 1 + parts[1].utf8.count))
        let expected = AuthCrypto.hmacSHA256(key: secret, message: signingInput)
        guard AuthCrypto.constantTimeEquals(signature, expected) else { throw .badSignature }

        guard let payloadBytes = Base64URL.decode(parts[1]), let payload = jsonObject(payloadBytes),
            let tenant = payload["tenant"] as? String, let username = payload["username"] as? String,
            let issuedAt = (payload["iat"] as? NSNumber)?.int64Value,
            let expiresAt = (payload["exp"] as? NSNumber)?.int64Value
        else { throw .malformed }
        guard now < expiresAt else { throw .expired }
        return TokenClaims(
            tenant: tenant, username: username, issuedAt: issuedAt, expiresAt: expiresAt,
            passwordTag: payload["pwd"] as? String)
    }

    private static func jsonObject(_ bytes: [UInt8]) -> [String: Any]? {
        (try? JSONSerialization.jsonObject(with: Data(bytes))) as? [String: Any]
    }
}
