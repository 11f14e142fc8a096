import Testing

@testable import RivuletAPI

@Suite struct PulsarJSONScannerTests {
    @Test(arguments: [
        "1", "-0.5e+10", "true", "null", #""s""#, "[]", "{}", #"[1,"a",{"b":[null,false]}]"#, #"{"a":{"b":{"c":[]}}}"#,
        " [ 1 , 2 ] ", #"{"}":"]"}"#,
    ])
    func skipsCompleteValue(_ text: String) throws {
        var scanner = PulsarJSONScanner(Array(text.utf8))
        try scanner.skipValue()
        try scanner.expectEnd()
    }

    @Test(arguments: ["[", "[1", "[1,]", "{\"a\"}", "{\"a\":}", "{,}", "[1 2]", "{\"a\":1,}", "]", "+1", ".5", "1e", "nul"])
    func rejectsInvalidValue(_ text: String) {
        var scanner = PulsarJSONScanner(Array(text.utf8))
        #expect(throws: PulsarJSONError.self) {
            try scanner.skipValue()
            try scanner.expectEnd()
        }
    }

    @Test func readsStringWithAllEscapes() throws {
        var scanner = PulsarJSONScanner(Array(#""\"\\\/\b\f\n\r\t\u0000\u00FF\uD834\uDD1E end""#.utf8))
        let decoded = String(decoding: try scanner.readString(), as: UTF8.self)
        #expect(decoded == "\"\\/\u{08}\u{0C}\n\r\t\u{00}ÿ𝄞 end")
    }

    @Test func numbersKeepTheirText() throws {
        var scanner = PulsarJSONScanner(Array("-12.50E3".utf8))
        #expect(try scanner.readScalar() == .number(Array("-12.50E3".utf8)))
    }

    @Test func writerEscapesAndReadsBack() throws {
        let original = "tab\t \"quote\" back\\slash \u{01} é 😀 / end"
        var writer = PulsarJSONWriter()
        writer.addString("k", original)
        var scanner = PulsarJSONScanner(writer.finish())
        try scanner.beginObject()
        var first = true
        #expect(try scanner.nextMemberKey(first: &first).map(Array.init) == Array("k".utf8))
        #expect(try scanner.readScalar() == .string(Array(original.utf8)))
        #expect(try scanner.nextMemberKey(first: &first) == nil)
        try scanner.expectEnd()
    }
}
