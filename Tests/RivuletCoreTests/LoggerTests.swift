import Testing
@testable import RivuletCore

@Suite struct LoggerTests {
    @Test func writesKeyValueLine() throws {
        let sink = MemorySink()
        let logger = Logger(label: "broker", sink: sink).with(["tenant": "acme"])
        logger.info("stream created", ["stream": "c8globals.orders"])
        let line = try #require(sink.lines.first)
        #expect(line.contains(" level=info component=broker msg=\"stream created\" tenant=acme stream=c8globals.orders"))
    }

    @Test func dropsLinesBelowLevel() {
        let sink = MemorySink()
        let logger = Logger(label: "x", level: .warning, sink: sink)
        logger.info("ignored")
        logger.warning("kept")
        #expect(sink.lines.count == 1)
    }

    @Test func quotesValuesThatWouldSplit() {
        #expect(Logger.quoted("plain") == "plain")
        #expect(Logger.quoted("a b") == "\"a b\"")
        #expect(Logger.quoted("k=v") == "\"k=v\"")
        #expect(Logger.quoted("line\nbreak") == "\"line\\nbreak\"")
        #expect(Logger.quoted("") == "\"\"")
    }
}

@Suite struct StreamAddressTests {
    @Test func splitsPrefixedTopics() {
        let address = StreamAddress(tenant: "t", fabric: "_system", topic: "c8globals.orders")
        #expect(address?.scope == .global)
        #expect(address?.name == "orders")
        #expect(address?.namespace == "c8global._system")
        #expect(StreamAddress(tenant: "t", fabric: "f", topic: "c8locals.x")?.scope == .local)
        #expect(StreamAddress(tenant: "t", fabric: "f", topic: "orders") == nil)
    }

    @Test func validatesStreamNames() {
        #expect(NameRules.streamNameProblem("orders_2024-v1.x") == nil)
        #expect(NameRules.streamNameProblem("123") != nil)
        #expect(NameRules.streamNameProblem("_#") != nil)
        #expect(NameRules.streamNameProblem("") != nil)
        #expect(NameRules.streamNameProblem("a b") != nil)
        #expect(NameRules.streamNameProblem(String(repeating: "a", count: 231)) != nil)
        #expect(NameRules.streamNameProblem(String(repeating: "a", count: 230)) == nil)
    }

    @Test func validatesSubscriptionNames() {
        #expect(NameRules.subscriptionNameProblem("testconsumer") == nil)
        #expect(NameRules.subscriptionNameProblem("a/b") != nil)
        #expect(NameRules.subscriptionNameProblem("..") != nil)
        #expect(NameRules.subscriptionNameProblem("") != nil)
        #expect(NameRules.subscriptionNameProblem("nul\u{0}") != nil)
    }
}
