import RivuletAuth
import Testing

struct AuthCryptoTests {
    @Test func pbkdf2MatchesRFC7914Vector() {
        let derived = AuthCrypto.pbkdf2SHA256(password: Array("passwd".utf8), salt: Array("salt".utf8), iterations: 1, length: 64)
        #expect(derived == hexBytes(
            "55ac046e56e3089fec1691c22544b605f94185216dde0465e68b9d57c20dacbc"
                + "49ca9cccf179b645991664b39d77ef317c71b845b1e30bd509112041d3a19783"))
    }

    @Test func pbkdf2MatchesRFC7914ManyIterations() {
        let derived = AuthCrypto.pbkdf2SHA256(password: Array("Password".utf8), salt: Array("NaCl".utf8), iterations: 80_000, length: 64)
        #expect(derived == hexBytes(
            "4ddcd8f60b98be21830cee5ef22701f9641a4418d04c0414aeff08876b34ab56"
                + "a1d425a1225833549adb841b51c9b3176a272bdebba1d078478f62b397f33c8d"))
    }

    @Test func hmacMatchesRFC4231Vector() {
        let digest = AuthCrypto.hmacSHA256(key: Array("Jefe".utf8), message: Array("what do ya want for nothing?".utf8))
        #expect(digest == hexBytes("5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"))
    }

    @Test func constantTimeEqualsComparesContentAndLength() {
        #expect(AuthCrypto.constantTimeEquals([1, 2, 3], [1, 2, 3]))
        #expect(!AuthCrypto.constantTimeEquals([1, 2, 3], [1, 2, 4]))
        #expect(!AuthCrypto.constantTimeEquals([1, 2, 3], [1, 2]))
        #expect(AuthCrypto.constantTimeEquals([], []))
    }

    @Test func randomBytesDiffer() {
        let first = AuthCrypto.randomBytes(count: 32)
        let second = AuthCrypto.randomBytes(count: 32)
        #expect(first.count == 32)
        #expect(first != second)
    }

    @Test func base64URLRoundTripsWithoutPadding() {
        for length in 0..<40 {
            let bytes = (0..<length).map { UInt8(truncatingIfNeeded: $0 * 37 + 250) }
            let text = Base64URL.encode(bytes)
            #expect(!text.contains("="))
            #expect(!text.contains("+"))
            #expect(!text.contains("/"))
            #expect(Base64URL.decode(text) == bytes)
        }
    }

    @Test func base64URLRejectsStandardAlphabetAndPadding() {
        #expect(Base64URL.decode("+/8") == nil)
        #expect(Base64URL.decode("AA==") == nil)
        #expect(Base64URL.decode("-_8") == [0xFB, 0xFF])
    }

    @Test func defaultIterationCountIs600000() {
        #expect(AuthConfiguration().passwordIterations == 600_000)
    }
}
