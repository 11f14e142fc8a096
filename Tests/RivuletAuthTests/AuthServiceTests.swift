import Foundation
import RivuletCore
import Testing
@testable import RivuletAuth

struct AuthServiceTests {
    let logs = MemorySink()

    func makeService(_ directory: TemporaryDirectory, clock: ManualClock = ManualClock()) throws -> AuthService {
        try AuthService(dataDirectory: directory.path, logger: Logger(label: "auth", level: .debug, sink: logs),
                        configuration: fastConfiguration(), now: clock.function)
    }

    @Test func bootstrapGeneratesPasswordOnce() throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        let service = try makeService(directory)

        let bootstrap = try service.ensureAdministrator(email: nil, password: nil, tenant: nil)
        #expect(bootstrap.created)
        #expect(bootstrap.email == "admin@rivulet.local")
        #expect(bootstrap.tenant == "admin_rivulet.local")
        #expect(bootstrap.username == "root")
        let password = try #require(bootstrap.generatedPassword)
        #expect(password.count >= 20)
        let passwordFile = try #require(bootstrap.passwordFile)
        #expect(passwordFile == directory.path + "/initial-admin-password")
        #expect(try String(contentsOfFile: passwordFile, encoding: .utf8) == password + "\n")
        #expect(fileMode(passwordFile) == 0o600)

        let again = try service.ensureAdministrator(email: "other@example.com", password: "another-password", tenant: nil)
        #expect(!again.created)
        #expect(again.tenant == "admin_rivulet.local")
        #expect(again.generatedPassword == nil)
        #expect(service.users(tenant: "other_example.com").isEmpty)
        #expect(!logs.lines.joined().contains(password))
    }

    @Test func bootstrapRejectsBadInput() throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        let service = try makeService(directory)
        #expect(throws: AuthError.self) { try service.ensureAdministrator(email: "no-at-sign", password: nil, tenant: nil) }
        #expect(throws: AuthError.self) { try service.ensureAdministrator(email: nil, password: "short", tenant: nil) }
        #expect(throws: AuthError.self) { try service.ensureAdministrator(email: nil, password: nil, tenant: "a/b") }
        #expect(service.users(tenant: "admin_rivulet.local").isEmpty)
    }

    @Test func loginByEmailAndByTenantUsername() throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        let service = try makeService(directory)
        _ = try service.ensureAdministrator(email: "ops@example.com", password: "correct horse", tenant: "acme")

        let byEmail = try service.login(email: "OPS@example.com", password: "correct horse", sourceAddress: "127.0.0.1:5000")
        #expect(byEmail.principal == Principal(tenant: "acme", username: "root"))
        #expect(service.authenticate(authorization: "bearer \(byEmail.token)") == byEmail.principal)

        let byName = try service.login(tenant: "acme", username: "root", password: "correct horse")
        #expect(service.authenticate(authorization: "Bearer \(byName.token)") == byName.principal)
        #expect(service.authenticate(authorization: "BEARER  \(byName.token) ") == byName.principal)

        let lines = logs.lines.joined(separator: "\n")
        #expect(lines.contains("login succeeded"))
        #expect(lines.contains("127.0.0.1:5000"))
        #expect(!lines.contains("correct horse"))
        #expect(!lines.contains(byEmail.token))
    }

    @Test func passwordChangeEndsEarlierTokens() throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        let service = try makeService(directory)
        _ = try service.ensureAdministrator(email: "ops@example.com", password: "correct horse", tenant: "acme")
        let root = Principal(tenant: "acme", username: "root")
        _ = try service.createUser("alice", email: nil, password: "first password", by: root)
        let before = try service.login(tenant: "acme", username: "alice", password: "first password")
        let untouched = try service.login(tenant: "acme", username: "root", password: "correct horse")
        let alice = Principal(tenant: "acme", username: "alice")
        let earlierOTP = service.issueOneTimePassword(for: alice)

        _ = try service.updateUser("alice", UserChanges(displayName: "Alice"), by: root)
        #expect(service.authenticate(authorization: "bearer \(before.token)") == before.principal)

        _ = try service.updateUser("alice", UserChanges(password: "second password"), by: root)
        #expect(service.authenticate(authorization: "bearer \(before.token)") == nil)
        #expect(service.redeemOneTimePassword(earlierOTP) == nil)
        #expect(service.redeemOneTimePassword(service.issueOneTimePassword(for: alice)) == alice)
        #expect(service.authenticate(authorization: "bearer \(untouched.token)") == untouched.principal)
        let after = try service.login(tenant: "acme", username: "alice", password: "second password")
        #expect(service.authenticate(authorization: "bearer \(after.token)") == after.principal)
    }

    @Test func recreatedUserRejectsOldTokens() throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        let service = try makeService(directory)
        _ = try service.ensureAdministrator(email: "ops@example.com", password: "correct horse", tenant: "acme")
        let root = Principal(tenant: "acme", username: "root")
        _ = try service.createUser("alice", email: nil, password: "same password", by: root)
        let old = try service.login(tenant: "acme", username: "alice", password: "same password")
        try service.deleteUser("alice", by: root)
        _ = try service.createUser("alice", email: nil, password: "same password", by: root)
        #expect(service.authenticate(authorization: "bearer \(old.token)") == nil)
    }

    @Test func tokenWithoutPasswordTagIsRejected() throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        let service = try makeService(directory)
        _ = try service.ensureAdministrator(email: "ops@example.com", password: "correct horse", tenant: "acme")
        let issued = try service.login(tenant: "acme", username: "root", password: "correct horse")
        #expect(service.authenticate(authorization: "bearer \(issued.token)") != nil)
        // Same secret and claims, minus the password tag, as tokens from before the tag existed.
        let secret = try #require(FileManager.default.contents(atPath: directory.path + "/jwt-secret"))
        let claims = TokenClaims(tenant: "acme", username: "root", issuedAt: 0, expiresAt: issued.expiresAt)
        let tagless = JSONWebToken.sign(claims, secret: [UInt8](secret))
        #expect(service.authenticate(authorization: "bearer \(tagless)") == nil)
    }

    @Test func wrongCredentialsAreRejectedAndAudited() throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        let service = try makeService(directory)
        _ = try service.ensureAdministrator(email: "ops@example.com", password: "correct horse", tenant: "acme")

        #expect(throws: AuthError.invalidCredentials) { try service.login(email: "ops@example.com", password: "wrong horse") }
        #expect(throws: AuthError.invalidCredentials) { try service.login(email: "nobody@example.com", password: "correct horse") }
        #expect(throws: AuthError.invalidCredentials) { try service.login(tenant: "acme", username: "admin", password: "correct horse") }
        let failures = logs.lines.filter { $0.contains("login failed") }
        #expect(failures.count == 3)
        #expect(!failures.joined().contains("wrong horse"))
    }

    @Test func authenticateRejectsOtherSchemesAndGarbage() throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        let service = try makeService(directory)
        _ = try service.ensureAdministrator(email: nil, password: "correct horse", tenant: nil)
        let token = try service.login(email: "admin@rivulet.local", password: "correct horse").token

        #expect(service.authenticate(authorization: token) == nil)
        #expect(service.authenticate(authorization: "basic \(token)") == nil)
        #expect(service.authenticate(authorization: "apikey acme.key.secret") == nil)
        #expect(service.authenticate(authorization: "bearer ") == nil)
        #expect(service.authenticate(authorization: "bearer not-a-token") == nil)
    }

    @Test func tokenExpiresAfterLifetime() throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        let clock = ManualClock()
        let service = try makeService(directory, clock: clock)
        _ = try service.ensureAdministrator(email: nil, password: "correct horse", tenant: nil)
        let token = try service.login(email: "admin@rivulet.local", password: "correct horse").token

        clock.advance(by: 12 * 3600 - 1)
        #expect(service.authenticate(authorization: "bearer \(token)") != nil)
        clock.advance(by: 1)
        #expect(service.authenticate(authorization: "bearer \(token)") == nil)
    }

    @Test func oneTimePasswordIsSingleUse() throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        let service = try makeService(directory)
        _ = try service.ensureAdministrator(email: "ops@example.com", password: "correct horse", tenant: "acme")
        let principal = Principal(tenant: "acme", username: "root")

        let otp = service.issueOneTimePassword(for: principal)
        #expect(otp.count >= 40)
        #expect(otp.unicodeScalars.allSatisfy { $0.properties.isAlphabetic || ("0"..."9").contains($0) || $0 == "-" || $0 == "_" })
        #expect(service.issueOneTimePassword(for: principal) != otp)
        #expect(service.redeemOneTimePassword(otp) == principal)
        #expect(service.redeemOneTimePassword(otp) == nil)
        #expect(service.redeemOneTimePassword("made-up") == nil)
    }

    @Test func oneTimePasswordExpiresAfterSixtySeconds() throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        let clock = ManualClock()
        let service = try makeService(directory, clock: clock)
        _ = try service.ensureAdministrator(email: "ops@example.com", password: "correct horse", tenant: "acme")
        let principal = Principal(tenant: "acme", username: "root")

        let early = service.issueOneTimePassword(for: principal)
        let late = service.issueOneTimePassword(for: principal)
        clock.advance(by: 59)
        #expect(service.redeemOneTimePassword(early) == principal)
        clock.advance(by: 1)
        #expect(service.redeemOneTimePassword(late) == nil)
    }

    @Test func oneTimePasswordTableStaysBounded() {
        let table = OneTimePasswordTable(lifetime: 60, capacity: 3)
        let principal = Principal(tenant: "t", username: "u")
        for index in 0..<10 {
            table.insert("otp-\(index)", principal: principal, now: Double(index))
        }
        #expect(table.count == 3)
        #expect(table.redeem("otp-0", now: 10) == nil)
        #expect(table.redeem("otp-9", now: 10) == principal)
    }

    @Test func accountsAndSecretSurviveRestart() throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        let first = try makeService(directory)
        _ = try first.ensureAdministrator(email: "ops@example.com", password: "correct horse", tenant: "acme")
        let token = try first.login(email: "ops@example.com", password: "correct horse").token
        let secret = try Data(contentsOf: URL(fileURLWithPath: directory.path + "/jwt-secret"))

        let second = try makeService(directory)
        #expect(second.authenticate(authorization: "bearer \(token)") == Principal(tenant: "acme", username: "root"))
        #expect(try second.login(tenant: "acme", username: "root", password: "correct horse").principal.tenant == "acme")
        #expect(second.userRecord(for: Principal(tenant: "acme", username: "root"))?.email == "ops@example.com")
        #expect(try Data(contentsOf: URL(fileURLWithPath: directory.path + "/jwt-secret")) == secret)
        #expect(secret.count == 32)
        #expect(!(try second.ensureAdministrator(email: nil, password: nil, tenant: nil)).created)
    }

    @Test func filesAreOwnerOnlyAndHoldNoPlainPassword() throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        let service = try makeService(directory)
        _ = try service.ensureAdministrator(email: "ops@example.com", password: "correct horse", tenant: "acme")

        #expect(fileMode(directory.path + "/jwt-secret") == 0o600)
        #expect(fileMode(directory.path + "/accounts.json") == 0o600)
        let accounts = try String(contentsOfFile: directory.path + "/accounts.json", encoding: .utf8)
        #expect(!accounts.contains("correct horse"))
        #expect(accounts.contains("\"passwordIterations\" : 1000"))
        #expect(!FileManager.default.fileExists(atPath: directory.path + "/accounts.json.tmp"))
    }

    @Test func corruptSecretFailsStartup() throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        try Data([1, 2, 3]).write(to: URL(fileURLWithPath: directory.path + "/jwt-secret"))
        #expect(throws: AuthError.self) { try makeService(directory) }
    }

    @Test func userRecordListsTenantUsers() throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        let service = try makeService(directory)
        _ = try service.ensureAdministrator(email: "ops@example.com", password: "correct horse", tenant: "acme")
        let record = try #require(service.userRecord(for: Principal(tenant: "acme", username: "root")))
        #expect(record == UserRecord(tenant: "acme", username: "root", email: "ops@example.com", displayName: "root", active: true))
        #expect(service.users(tenant: "acme") == [record])
        #expect(service.tenantExists("acme"))
        #expect(!service.tenantExists("other"))
        #expect(service.userRecord(for: Principal(tenant: "acme", username: "nobody")) == nil)
    }
}

struct AuthFilePermissionTests {
    @Test func openFilesAreRestrictedToOwnerAtStartup() throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        let logs = MemorySink()
        _ = try AuthService(dataDirectory: directory.path, logger: Logger(label: "auth", sink: logs), configuration: fastConfiguration())
        let secretPath = directory.path + "/jwt-secret"
        #expect(chmod(secretPath, 0o644) == 0)

        _ = try AuthService(dataDirectory: directory.path, logger: Logger(label: "auth", sink: logs), configuration: fastConfiguration())
        #expect(fileMode(secretPath) == 0o600)
        let warning = logs.lines.first { $0.contains("level=warning") }
        #expect(warning?.contains("jwt-secret") == true)
    }

    @Test func missingDataDirectoryIsCreatedOwnerOnly() throws {
        let parent = TemporaryDirectory()
        defer { parent.remove() }
        let path = parent.path + "/nested/data"
        _ = try AuthService(dataDirectory: path, logger: Logger(label: "auth", sink: MemorySink()), configuration: fastConfiguration())
        #expect(fileMode(path) == 0o700)
        #expect(FileManager.default.fileExists(atPath: path + "/jwt-secret"))
    }
}
