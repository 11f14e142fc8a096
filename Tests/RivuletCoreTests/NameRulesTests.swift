import Testing
import RivuletCore

struct NameRulesTests {
    @Test(arguments: ["_system", "acme", "admin_rivulet.local", "a-b.c_d", String(repeating: "x", count: 64)])
    func validTenantAndFabricNames(name: String) {
        #expect(NameRules.tenantNameProblem(name) == nil)
        #expect(NameRules.fabricNameProblem(name) == nil)
    }

    @Test(arguments: ["", "..", "a..b", "a/b", "a\u{0}b", "a\nb", "a b", "ü", String(repeating: "x", count: 65)])
    func invalidTenantAndFabricNames(name: String) {
        #expect(NameRules.tenantNameProblem(name) != nil)
        #expect(NameRules.fabricNameProblem(name) != nil)
    }

    @Test func problemNeverQuotesControlCharacters() throws {
        let problem = try #require(NameRules.fabricNameProblem("bad\u{0}\u{1B}[31m"))
        #expect(problem == "fabric name 'bad??[31m' is invalid: use letters, digits, '.', '_' or '-', and no '..'")
    }

    @Test(arguments: ["", "..x", "x/y", "a\u{0}", "a\u{7F}", "1abc", ".hidden"])
    func invalidStreamNames(name: String) {
        #expect(NameRules.streamNameProblem(name) != nil)
    }

    @Test(arguments: ["", "..", "a/b", "a\u{0}", "tab\there"])
    func invalidSubscriptionNames(name: String) {
        #expect(NameRules.subscriptionNameProblem(name) != nil)
    }
}

struct NameRulesMessageTests {
    @Test func streamNameWithDotsIsRejected() {
        #expect(NameRules.streamNameProblem("a..b") == "stream name 'a..b' is invalid: it must not contain '..'")
        #expect(NameRules.streamNameProblem("a.b.c") == nil)
    }

    @Test func subscriptionProblemReplacesControlCharacters() {
        #expect(NameRules.subscriptionNameProblem("a\u{0}b")
            == "subscription name 'a?b' is invalid: use printable characters other than '/', spaces and '..'")
    }
}
