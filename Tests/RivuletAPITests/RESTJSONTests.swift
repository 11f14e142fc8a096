import Foundation
import RivuletCore
import Testing
@testable import RivuletAPI

struct RESTJSONTests {
    @Test func encodesScalarsAndKeepsKeyOrder() {
        let value: RESTJSON = .object([("b", 1), ("a", true), ("c", .null), ("d", .double(1.5)), ("e", .array(["x", .int(-2)]))])
        #expect(String(decoding: value.encoded, as: UTF8.self) == #"{"b":1,"a":true,"c":null,"d":1.5,"e":["x",-2]}"#)
    }

    @Test func escapesStrings() throws {
        let text = "quote\" backslash\\ newline\n tab\t bell\u{07} é"
        let encoded = RESTJSON.string(text).encoded
        #expect(String(decoding: encoded, as: UTF8.self) == #""quote\" backslash\\ newline\n tab\t bell\u0007 é""#)
        #expect(try JSONSerialization.jsonObject(with: Data(encoded), options: [.fragmentsAllowed]) as? String == text)
    }

    @Test func nonFiniteNumbersBecomeZero() {
        #expect(RESTJSON.double(.nan).encoded == Array("0".utf8))
        #expect(RESTJSON.double(.infinity).encoded == Array("0".utf8))
    }

    @Test func pathPrefixesAreSplitOff() {
        let path = RESTPath("//_tenant/acme/_fabric/_system//_api/streams/c8globals.a%2Fb/")
        #expect(path.tenant == "acme")
        #expect(path.fabric == "_system")
        #expect(path.segments == ["streams", "c8globals.a/b"])
        #expect(RESTPath("/").segments.isEmpty)
        #expect(RESTPath("/_fabric").segments == ["_fabric"])
    }
}

struct APIErrorCatalogueTests {
    @Test func errorNumbersAreUniquePerMeaning() {
        let entries: [(String, APIError)] = [
            ("badParameter", .badParameter("")), ("unauthorized", .unauthorized()), ("forbidden", .forbidden("")),
            ("routeNotFound", .routeNotFound("", "")), ("methodNotAllowed", .methodNotAllowed("", "")),
            ("fabricNotFound", .fabricNotFound("")), ("tenantNotFound", .tenantNotFound("")),
            ("payloadTooLarge", .payloadTooLarge("")), ("tooManyRequests", .tooManyRequests("")),
            ("internalError", .internalError()), ("regionNotFound", .regionNotFound("")),
            ("streamExists", APIError(EngineError.streamExists(""))),
            ("subscriptionNotFound", APIError(EngineError.subscriptionNotFound(""))),
            ("subscriptionHasConsumers", APIError(EngineError.subscriptionHasConsumers(""))),
            ("consumerBusy", APIError(EngineError.consumerBusy(""))), ("producerBusy", APIError(EngineError.producerBusy(""))),
            ("streamHasClients", APIError(EngineError.streamHasClients(""))), ("notAllowed", APIError(EngineError.notAllowed(""))),
            ("unavailable", APIError(EngineError.unavailable(""))), ("storageFailure", APIError(EngineError.storageFailure(""))),
        ]
        var seen: [Int: String] = [:]
        for (name, error) in entries {
            if let other = seen[error.errorNum] {
                Issue.record("errorNum \(error.errorNum) used by both \(other) and \(name)")
            }
            seen[error.errorNum] = name
        }
    }

    @Test func sharedNumbersKeepTheirMeaning() {
        #expect(APIError.streamNotFound("x").errorNum == APIError(EngineError.streamNotFound("x")).errorNum)
        #expect(APIError.invalidCredentials().status == 401)
        #expect(APIError(EngineError.invalidArgument("x")).errorNum == APIError.badParameter("x").errorNum)
    }
}
