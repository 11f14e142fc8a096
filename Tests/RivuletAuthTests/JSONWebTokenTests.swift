import Foundation
import RivuletAuth
import Testing

struct JSONWebTokenTests {
    let secret = Array(repeating: UInt8(7), count: 32)
    let claims = TokenClaims(tenant: "acme", username: "root", issuedAt: 1_000, expiresAt: 2_000)

    @Test func signedTokenVerifies() throws {
        let token = JSONWebToken.sign(claims, secret: secret)
        #expect(try JSONWebToken.verify(token, secret: secret, now: 1_500) == claims)
    }

    @Test func payloadCarriesTenantForUnverifiedReaders() throws {
        let token = JSONWebToken.sign(claims, secret: secret)
        let payload = try #require(Base64URL.decode(token.split(separator: ".")[1]))
        let object = try #require(try JSONSerialization.jsonObject(with: Data(payload)) as? [String: Any])
        #expect(object["tenant"] as? String == "acme")
        #expect(object["username"] as? String == "root")
        #expect((object["exp"] as? NSNumber)?.int64Value == 2_000)
        #expect((object["iat"] as? NSNumber)?.int64Value == 1_000)
    }

    @Test func passwordTagRoundTrips() throws {
        var tagged = claims
        tagged.passwordTag = "abc123"
        let token = JSONWebToken.sign(tagged, secret: secret)
        #expect(try JSONWebToken.verify(token, secret: secret, now: 1_500).passwordTag == "abc123")
        #expect(try JSONWebToken.verify(JSONWebToken.sign(claims, secret: secret), secret: secret, now: 1_500).passwordTag == nil)
    }

    @Test func expiredTokenIsRejected() {
        let token = JSONWebToken.sign(claims, secret: secret)
        #expect(throws: TokenError.expired) { try JSONWebToken.verify(token, secret: secret, now: 2_000) }
    }

    @Test func algorithmNoneIsRejected() {
        let header = Base64URL.encode(Array(#"{"alg":"none","typ":"JWT"}"#.utf8))
        let payload = JSONWebToken.sign(claims, secret: secret).split(separator: ".")[1]
        #expect(throws: TokenError.unsupportedAlgorithm("none")) {
            try JSONWebToken.verify("\(header).\(payload).", secret: secret, now: 1_500)
        }
    }

    @Test func otherAlgorithmsAreRejected() {
        let signed = JSONWebToken.sign(claims, secret: secret).split(separator: ".")
        for algorithm in ["HS512", "hs256", "RS256"] {
            let header = Base64URL.encode(Array(#"{"alg":"\#(algorithm)","typ":"JWT"}"#.utf8))
            #expect(throws: TokenError.unsupportedAlgorithm(algorithm)) {
                try JSONWebToken.verify("\(header).\(signed[1]).\(signed[2])", secret: secret, now: 1_500)
            }
        }
    }

    @Test func tamperedSignatureIsRejected() {
        var token = Array(JSONWebToken.sign(claims, secret: secret))
        let last = token.count - 2
        token[last] = token[last] == "A" ? "B" : "A"
        #expect(throws: TokenError.badSignature) { try JSONWebToken.verify(String(token), secret: secret, now: 1_500) }
    }

    @Test func tamperedPayloadIsRejected() {
        let parts = JSONWebToken.sign(claims, secret: secret).split(separator: ".")
        let forged = Base64URL.encode(Array(#"{"exp":2000,"iat":1000,"tenant":"other","username":"root"}"#.utf8))
        #expect(throws: TokenError.badSignature) {
            try JSONWebToken.verify("\(parts[0]).\(forged).\(parts[2])", secret: secret, now: 1_500)
        }
    }

    @Test func otherSecretIsRejected() {
        let token = JSONWebToken.sign(claims, secret: secret)
        #expect(throws: TokenError.badSignature) {
            try JSONWebToken.verify(token, secret: Array(repeating: 8, count: 32), now: 1_500)
        }
    }

    @Test func malformedTokensAreRejected() {
        for token in ["", "abc", "a.b", "a.b.c.d", "!!.??.**"] {
            #expect(throws: TokenError.malformed) { try JSONWebToken.verify(token, secret: secret, now: 1_500) }
        }
    }
}
