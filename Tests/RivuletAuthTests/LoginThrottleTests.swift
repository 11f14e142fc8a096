import RivuletCore
import Testing
@testable import RivuletAuth

struct LoginThrottleTests {
    @Test func blocksAfterMaxFailuresWithinWindow() {
        let throttle = LoginThrottle(maxFailures: 3, window: 60)
        for second in 0..<3 {
            #expect(!throttle.isBlocked("10.0.0.1:5000", now: Double(second)))
            throttle.recordFailure("10.0.0.1:\(5000 + second)", now: Double(second))
        }
        #expect(throttle.isBlocked("10.0.0.1:6000", now: 10))
        #expect(!throttle.isBlocked("10.0.0.2:6000", now: 10))
        #expect(!throttle.isBlocked("10.0.0.1:6000", now: 60))
    }

    @Test func successResetsTheCount() {
        let throttle = LoginThrottle(maxFailures: 2, window: 60)
        throttle.recordFailure("10.0.0.1:1", now: 0)
        throttle.recordSuccess("10.0.0.1:2")
        throttle.recordFailure("10.0.0.1:3", now: 1)
        #expect(!throttle.isBlocked("10.0.0.1:4", now: 2))
    }

    @Test func emptySourceIsNeverBlocked() {
        let throttle = LoginThrottle(maxFailures: 1, window: 60)
        throttle.recordFailure("", now: 0)
        throttle.recordFailure("", now: 0)
        #expect(!throttle.isBlocked("", now: 0))
    }

    @Test func tableStaysBounded() {
        let throttle = LoginThrottle(maxFailures: 1, window: 60, capacity: 2)
        for index in 0..<5 { throttle.recordFailure("10.0.0.\(index):1", now: Double(index)) }
        #expect(throttle.isBlocked("10.0.0.4:1", now: 5))
        #expect(!throttle.isBlocked("10.0.0.0:1", now: 5))
    }

    @Test(arguments: [("127.0.0.1:8000", "127.0.0.1"), ("[::1]:8000", "::1"), ("::1", "::1"), ("host", "host"), ("", "")])
    func hostDropsThePort(source: String, host: String) {
        #expect(LoginThrottle.host(source) == host)
    }

    @Test func serviceRejectsSourceAfterRepeatedFailures() throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        var configuration = fastConfiguration()
        configuration.maxFailedLoginsPerSource = 2
        let service = try AuthService(dataDirectory: directory.path, logger: Logger(label: "auth", sink: MemorySink()),
                                      configuration: configuration, now: ManualClock().function)
        _ = try service.ensureAdministrator(email: "ops@example.com", password: "correct horse", tenant: "acme")
        for _ in 0..<2 {
            #expect(throws: AuthError.invalidCredentials) {
                try service.login(email: "ops@example.com", password: "wrong", sourceAddress: "10.0.0.9:1")
            }
        }
        #expect(throws: AuthError.tooManyAttempts(retryAfterSeconds: 60)) {
            try service.login(email: "ops@example.com", password: "correct horse", sourceAddress: "10.0.0.9:2")
        }
        #expect(try service.login(email: "ops@example.com", password: "correct horse", sourceAddress: "10.0.0.8:1").principal.tenant == "acme")
    }

    @Test func serviceRejectsAccountFailingFromManySources() throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        var configuration = fastConfiguration()
        configuration.maxFailedLoginsPerSource = 100
        configuration.maxFailedLoginsPerAccount = 3
        let clock = ManualClock()
        let service = try AuthService(dataDirectory: directory.path, logger: Logger(label: "auth", sink: MemorySink()),
                                      configuration: configuration, now: clock.function)
        _ = try service.ensureAdministrator(email: "ops@example.com", password: "correct horse", tenant: "acme")
        for source in 1...3 {
            #expect(throws: AuthError.invalidCredentials) {
                try service.login(email: "OPS@example.com", password: "wrong", sourceAddress: "10.0.1.\(source):1")
            }
        }
        #expect(throws: AuthError.tooManyAttempts(retryAfterSeconds: 60)) {
            try service.login(email: "ops@example.com", password: "correct horse", sourceAddress: "10.0.2.1:1")
        }
        // Another account from the same sources is unaffected.
        #expect(throws: AuthError.invalidCredentials) {
            try service.login(tenant: "acme", username: "nobody", password: "wrong", sourceAddress: "10.0.1.1:1")
        }
    }

    @Test func retryAfterCountsDownToTheWindowEnd() {
        let throttle = LoginThrottle(maxFailures: 1, window: 60)
        throttle.recordFailure(key: "email:a@b", now: 100)
        #expect(throttle.retryAfter(key: "email:a@b", now: 100) == 60)
        #expect(throttle.retryAfter(key: "email:a@b", now: 145) == 15)
        #expect(throttle.retryAfter(key: "email:a@b", now: 160) == nil)
        #expect(throttle.retryAfter(key: "email:c@d", now: 100) == nil)
    }
}
