import Foundation
import RivuletCore
import Testing
@testable import RivuletAuth

@Suite struct APIKeyTests {
    let logs = MemorySink()
    let root = Principal(tenant: "acme.example", username: "root")

    func makeService(_ directory: TemporaryDirectory) throws -> AuthService {
        let service = try AuthService(dataDirectory: directory.path, logger: Logger(label: "auth", level: .debug, sink: logs),
                                      configuration: fastConfiguration())
        _ = try service.ensureAdministrator(email: "ops@example.com", password: "correct horse", tenant: "acme.example")
        return service
    }

    @Test func createdKeyAuthenticatesAsItsOwnPrincipal() throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        let service = try makeService(directory)
        let created = try service.createKey("reporting", by: root)
        // The tenant contains a dot, so the key must be split at its last two dots.
        #expect(created.key.hasPrefix("acme.example.reporting."))
        let expected = Principal(tenant: "acme.example", username: "root", keyId: "reporting")
        #expect(service.authenticate(authorization: "apikey \(created.key)") == expected)
        #expect(service.authenticate(authorization: "APIKEY  \(created.key)") == expected)
        #expect(service.principal(forKey: created.key) == expected)
    }

    @Test func wrongOrMalformedKeysAreRejected() throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        let service = try makeService(directory)
        let created = try service.createKey("reporting", by: root)
        var tampered = Array(created.key)
        tampered[tampered.count - 1] = tampered.last == "A" ? "B" : "A"
        #expect(service.principal(forKey: String(tampered)) == nil)
        #expect(service.principal(forKey: "acme.example.other." + created.key.split(separator: ".").last!) == nil)
        #expect(service.principal(forKey: "other.reporting." + created.key.split(separator: ".").last!) == nil)
        for malformed in ["", "nodots", "one.dot", "..", "acme.example.reporting.", ".reporting.secret"] {
            #expect(service.principal(forKey: malformed) == nil)
        }
        #expect(service.authenticate(authorization: "bearer \(created.key)") == nil)
    }

    @Test func onlyTheKeyedHashIsStored() throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        let service = try makeService(directory)
        let created = try service.createKey("reporting", by: root)
        let secret = String(created.key.split(separator: ".").last!)
        let file = try String(contentsOfFile: directory.path + "/accounts.json", encoding: .utf8)
        #expect(!file.contains(secret))
        #expect(file.contains("reporting"))
        #expect(fileMode(directory.path + "/apikey-secret") == 0o600)
        #expect(fileMode(directory.path + "/accounts.json") == 0o600)
        #expect(!logs.lines.joined(separator: "\n").contains(secret))
        #expect(logs.lines.joined(separator: "\n").contains("created API key"))
    }

    @Test(arguments: ["12345", "has.dot", "", String(repeating: "k", count: 65), "spa ce"])
    func badKeyIdsAreRefused(keyId: String) throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        let service = try makeService(directory)
        #expect(throws: AuthError.self) { try service.createKey(keyId, by: root) }
        #expect(service.keys(tenant: "acme.example").isEmpty)
    }

    @Test func duplicateKeyIdIsAConflict() throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        let service = try makeService(directory)
        _ = try service.createKey("reporting", by: root)
        #expect {
            try service.createKey("reporting", by: root)
        } throws: { error in
            if case .conflict = error as? AuthError { true } else { false }
        }
    }

    @Test func deletedKeyStopsWorkingIncludingItsOneTimePasswords() throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        let service = try makeService(directory)
        let created = try service.createKey("reporting", by: root)
        let principal = try #require(service.principal(forKey: created.key))
        let otp = service.issueOneTimePassword(for: principal)
        try service.setAccess(.readWrite, for: .key("reporting"), fabric: "_system", stream: nil, by: root)
        try service.deleteKey("reporting", by: root)
        #expect(service.principal(forKey: created.key) == nil)
        #expect(service.redeemOneTimePassword(otp) == nil)
        #expect(service.explicitFabricLevels(of: .key("reporting"), tenant: "acme.example").isEmpty)
        #expect(logs.lines.joined(separator: "\n").contains("deleted API key"))
    }

    @Test func keysOfOneTenantAreInvisibleToAnother() throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        let service = try makeService(directory)
        try service.createTenant("globex", email: "ops@globex.test", password: "other horse")
        let globexRoot = Principal(tenant: "globex", username: "root")
        let created = try service.createKey("shared-name", by: root)
        _ = try service.createKey("shared-name", by: globexRoot)
        #expect(service.keys(tenant: "globex").map(\.keyId) == ["shared-name"])
        let secret = created.key.split(separator: ".").last!
        #expect(service.principal(forKey: "globex.shared-name.\(secret)") == nil)
        #expect(throws: AuthError.self) { try service.deleteKey("missing", by: globexRoot) }
        try service.deleteKey("shared-name", by: globexRoot)
        #expect(service.principal(forKey: created.key)?.tenant == "acme.example")
    }
}

@Suite struct AccessResolutionTests {
    func grant(_ stream: String?, _ level: AccessLevel, fabric: String = "f") -> StoredGrant {
        StoredGrant(tenant: "t", subject: .key("k"), fabric: fabric, stream: stream, level: level)
    }

    @Test func nothingSetMeansNoAccess() {
        #expect(AccessResolution.fabricLevel([], fabric: "f") == .none)
        #expect(AccessResolution.streamLevel([], fabric: "f", stream: "c8globals.s") == .none)
    }

    @Test func streamLevelWinsOverDefaultAndFabric() {
        let grants = [grant(nil, .readWrite), grant("*", .readOnly), grant("c8globals.s", .writeOnly)]
        #expect(AccessResolution.streamLevel(grants, fabric: "f", stream: "c8globals.s") == .writeOnly)
        #expect(AccessResolution.streamLevel(grants, fabric: "f", stream: "c8globals.other") == .readOnly)
    }

    @Test(arguments: [(AccessLevel.readWrite, AccessLevel.readWrite), (.readOnly, .readOnly), (.none, .none)])
    func fabricLevelAppliesWithoutStreamLevels(fabric: AccessLevel, stream: AccessLevel) {
        #expect(AccessResolution.streamLevel([grant(nil, fabric)], fabric: "f", stream: "c8locals.x") == stream)
    }

    @Test func levelsOfOtherFabricsDoNotApply() {
        let grants = [grant(nil, .readWrite, fabric: "other"), grant("*", .readWrite, fabric: "other")]
        #expect(AccessResolution.streamLevel(grants, fabric: "f", stream: "c8locals.x") == .none)
    }

    @Test func explicitNoneOverridesAGenerousFabricLevel() {
        let grants = [grant(nil, .readWrite), grant("c8locals.secret", .none)]
        #expect(AccessResolution.streamLevel(grants, fabric: "f", stream: "c8locals.secret") == .none)
        #expect(AccessResolution.streamLevel(grants, fabric: "f", stream: "c8locals.open") == .readWrite)
    }

    @Test func levelsAllowTheRightOperations() {
        #expect(AccessLevel.readWrite.canPublish && AccessLevel.readWrite.canConsume)
        #expect(!AccessLevel.readOnly.canPublish)
        #expect(AccessLevel.readOnly.canConsume)
        #expect(AccessLevel.writeOnly.canPublish)
        #expect(!AccessLevel.writeOnly.canConsume)
        #expect(!AccessLevel.none.canPublish)
        #expect(!AccessLevel.none.canConsume)
    }
}

@Suite struct AccessServiceTests {
    let logs = MemorySink()
    let root = Principal(tenant: "acme", username: "root")

    func makeService(_ directory: TemporaryDirectory) throws -> AuthService {
        let service = try AuthService(dataDirectory: directory.path, logger: Logger(label: "auth", level: .debug, sink: logs),
                                      configuration: fastConfiguration())
        _ = try service.ensureAdministrator(email: "ops@example.com", password: "correct horse", tenant: "acme")
        return service
    }

    @Test func administratorHasEverythingAndNewSubjectsNothing() throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        let service = try makeService(directory)
        try service.createFabric("orders", by: root)
        _ = try service.createUser("bob", email: nil, password: "bob's password", by: root)
        let key = try service.createKey("k1", by: root)
        let keyPrincipal = try #require(service.principal(forKey: key.key))
        #expect(service.streamAccess(root, fabric: "orders", stream: "c8globals.x") == .readWrite)
        #expect(service.fabricAccess(root, fabric: "orders") == .readWrite)
        // A key created by root does not inherit root's levels.
        #expect(service.fabricAccess(keyPrincipal, fabric: "_system") == .none)
        #expect(service.streamAccess(Principal(tenant: "acme", username: "bob"), fabric: "orders", stream: "c8globals.x") == .none)
        #expect(!service.canAdministerTenant(keyPrincipal))
    }

    @Test func setAndClearFollowTheResolutionOrder() throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        let service = try makeService(directory)
        _ = try service.createKey("k1", by: root)
        let key = AccessSubject.key("k1")
        let principal = Principal(tenant: "acme", username: "root", keyId: "k1")
        try service.setAccess(.readOnly, for: key, fabric: "_system", stream: nil, by: root, sourceAddress: "127.0.0.1:5")
        #expect(service.streamAccess(principal, fabric: "_system", stream: "c8globals.s") == .readOnly)
        try service.setAccess(.writeOnly, for: key, fabric: "_system", stream: "*", by: root)
        #expect(service.streamAccess(principal, fabric: "_system", stream: "c8globals.s") == .writeOnly)
        try service.setAccess(.readWrite, for: key, fabric: "_system", stream: "c8globals.s", by: root)
        #expect(service.streamAccess(principal, fabric: "_system", stream: "c8globals.s") == .readWrite)
        try service.clearAccess(for: key, fabric: "_system", stream: "c8globals.s", by: root)
        #expect(service.streamAccess(principal, fabric: "_system", stream: "c8globals.s") == .writeOnly)
        try service.clearAccess(for: key, fabric: "_system", stream: "*", by: root)
        #expect(service.streamAccess(principal, fabric: "_system", stream: "c8globals.s") == .readOnly)
        #expect(logs.lines.joined(separator: "\n").contains("access level set"))
        #expect(logs.lines.joined(separator: "\n").contains("source=127.0.0.1:5"))
        #expect(logs.lines.joined(separator: "\n").contains("access level cleared"))
    }

    @Test func invalidGrantsAreRefused() throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        let service = try makeService(directory)
        _ = try service.createKey("k1", by: root)
        #expect(throws: AuthError.self) { try service.setAccess(.writeOnly, for: .key("k1"), fabric: "_system", stream: nil, by: root) }
        #expect(throws: AuthError.self) { try service.setAccess(.readOnly, for: .key("nope"), fabric: "_system", stream: nil, by: root) }
        #expect(throws: AuthError.self) { try service.setAccess(.readOnly, for: .key("k1"), fabric: "missing", stream: nil, by: root) }
        #expect(throws: AuthError.self) { try service.setAccess(.none, for: .user("root"), fabric: "_system", stream: nil, by: root) }
        #expect(service.explicitFabricLevels(of: .key("k1"), tenant: "acme").isEmpty)
    }

    @Test func deletingAFabricRemovesItsLevelsAndARecreatedOneStartsEmpty() throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        let service = try makeService(directory)
        _ = try service.createKey("k1", by: root)
        try service.createFabric("orders", by: root)
        try service.setAccess(.readWrite, for: .key("k1"), fabric: "orders", stream: nil, by: root)
        try service.deleteFabric("orders", by: root)
        #expect(!service.fabricExists(tenant: "acme", fabric: "orders"))
        try service.createFabric("orders", by: root)
        #expect(service.fabricLevel(of: .key("k1"), tenant: "acme", fabric: "orders") == .none)
        #expect(throws: AuthError.self) { try service.deleteFabric("_system", by: root) }
        #expect(throws: AuthError.self) { try service.createFabric("9starts-with-digit", by: root) }
    }

    @Test func fabricsAndUsersAreScopedToTheirTenant() throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        let service = try makeService(directory)
        try service.createTenant("globex", email: "ops@globex.test", password: "other horse")
        try service.createFabric("orders", by: root)
        #expect(service.fabricExists(tenant: "acme", fabric: "orders"))
        #expect(!service.fabricExists(tenant: "globex", fabric: "orders"))
        #expect(!service.fabricExists(tenant: "nobody", fabric: "_system"))
        #expect(service.fabrics(tenant: "globex") == ["_system"])
        let globexRoot = Principal(tenant: "globex", username: "root")
        #expect(service.streamAccess(globexRoot, fabric: "orders", stream: "c8globals.x") == .none)
        #expect(service.isServerAdministrator(root))
        #expect(!service.isServerAdministrator(globexRoot))
        #expect(throws: AuthError.self) { try service.createTenant("globex2", email: "OPS@example.com", password: "long enough") }
    }

    @Test func usersLogInAndLoseAccessWhenDeactivatedOrDeleted() throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        let service = try makeService(directory)
        _ = try service.createUser("bob", email: "bob@example.com", password: "bob's password", by: root)
        let login = try service.login(tenant: "acme", username: "bob", password: "bob's password")
        #expect(service.authenticate(authorization: "bearer \(login.token)") == Principal(tenant: "acme", username: "bob"))
        _ = try service.updateUser("bob", UserChanges(active: false), by: root)
        #expect(service.authenticate(authorization: "bearer \(login.token)") == nil)
        _ = try service.updateUser("bob", UserChanges(password: "new password!", active: true), by: root)
        #expect(throws: AuthError.invalidCredentials) { try service.login(tenant: "acme", username: "bob", password: "bob's password") }
        _ = try service.login(email: "bob@example.com", password: "new password!")
        let bob = Principal(tenant: "acme", username: "bob")
        let key = try service.createKey("bobs-key", by: bob)
        try service.deleteUser("bob", by: root)
        #expect(service.principal(forKey: key.key) == nil)
        #expect(service.key(tenant: "acme", keyId: "bobs-key") == nil)
        #expect(throws: AuthError.self) { try service.deleteUser("root", by: root) }
        #expect(throws: AuthError.self) { try service.updateUser("root", UserChanges(active: false), by: root) }
    }

    @Test func usersWithoutEmailCannotLogInByEmptyEmail() throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        let service = try makeService(directory)
        _ = try service.createUser("noemail", email: nil, password: "a password", by: root)
        #expect(throws: AuthError.invalidCredentials) { try service.login(email: "", password: "a password") }
    }

    @Test func everythingSurvivesARestart() throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        let key: CreatedKey
        do {
            let service = try makeService(directory)
            try service.createFabric("orders", by: root)
            _ = try service.createUser("bob", email: nil, password: "bob's password", by: root)
            key = try service.createKey("k1", by: root)
            try service.setAccess(.readOnly, for: .key("k1"), fabric: "orders", stream: nil, by: root)
            try service.setAccess(.writeOnly, for: .user("bob"), fabric: "orders", stream: "c8locals.in", by: root)
        }
        let reopened = try AuthService(dataDirectory: directory.path, logger: Logger(label: "auth", level: .debug, sink: logs),
                                       configuration: fastConfiguration())
        let principal = try #require(reopened.principal(forKey: key.key))
        #expect(principal.keyId == "k1")
        #expect(reopened.fabrics(tenant: "acme") == ["_system", "orders"])
        #expect(reopened.streamAccess(principal, fabric: "orders", stream: "c8locals.x") == .readOnly)
        #expect(reopened.streamAccess(Principal(tenant: "acme", username: "bob"), fabric: "orders", stream: "c8locals.in") == .writeOnly)
        _ = try reopened.login(tenant: "acme", username: "bob", password: "bob's password")
    }

    @Test func versionOneAccountsFileStillLoads() throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        do { _ = try makeService(directory) }
        let path = directory.path + "/accounts.json"
        var object = try #require(JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path))) as? [String: Any])
        object["version"] = 1
        for key in ["fabrics", "keys", "grants"] { object.removeValue(forKey: key) }
        try JSONSerialization.data(withJSONObject: object).write(to: URL(fileURLWithPath: path))
        let reopened = try AuthService(dataDirectory: directory.path, logger: Logger(label: "auth", sink: logs),
                                       configuration: fastConfiguration())
        _ = try reopened.login(email: "ops@example.com", password: "correct horse")
        #expect(reopened.fabrics(tenant: "acme") == ["_system"])
    }
}
