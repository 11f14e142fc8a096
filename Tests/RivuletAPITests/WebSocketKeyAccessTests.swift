import Foundation
import RivuletAuth
import RivuletCore
import RivuletHTTP
import Testing

@testable import RivuletAPI

/// Handshakes against a real AuthService: the stream level decides before the engine is touched.
@Suite struct WebSocketKeyAccessTests {
    let directory = NSTemporaryDirectory() + "rivulet-ws-access-" + UUID().uuidString
    let auth: AuthService
    let root = Principal(tenant: "demo", username: "root")

    init() throws {
        var configuration = AuthConfiguration()
        configuration.passwordIterations = 1_000
        auth = try AuthService(dataDirectory: directory, logger: Logger(label: "test", sink: MemorySink()), configuration: configuration)
        _ = try auth.ensureAdministrator(email: "ops@demo.test", password: "correct horse", tenant: "demo")
    }

    func handshake(_ path: String, key: String, engine: StubEngine) -> RecordingResponder {
        let gateway = WebSocketGateway(configuration: APIConfiguration(), engine: engine, auth: auth,
                                       logger: Logger(label: "test", sink: MemorySink()), nowMillis: { 0 })
        let responder = RecordingResponder()
        gateway.handle(Fixtures.request(path, headers: [("Authorization", "apikey \(key)")]), responder: responder)
        return responder
    }

    func key(_ keyId: String, _ level: AccessLevel, stream: String? = "c8globals.orders") throws -> String {
        let created = try auth.createKey(keyId, by: root)
        try auth.setAccess(level, for: .key(keyId), fabric: "_system", stream: stream, by: root)
        return created.key
    }

    @Test func readOnlyKeyCannotProduceButCanConsume() throws {
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let key = try key("ro", .readOnly)
        let engine = StubEngine(existing: [Fixtures.stream])
        let refused = handshake(Fixtures.producerPath, key: key, engine: engine)
        #expect(refused.response?.status == 403)
        #expect(engine.opened.isEmpty)
        #expect(handshake(Fixtures.consumerPath, key: key, engine: engine).handler != nil)
        #expect(handshake(Fixtures.readerPath, key: key, engine: engine).handler != nil)
    }

    @Test func writeOnlyKeyCannotConsumeOrRead() throws {
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let key = try key("wo", .writeOnly)
        let engine = StubEngine(existing: [Fixtures.stream])
        #expect(handshake(Fixtures.consumerPath, key: key, engine: engine).response?.status == 403)
        #expect(handshake(Fixtures.readerPath, key: key, engine: engine).response?.status == 403)
        #expect(engine.opened.isEmpty)
        #expect(handshake(Fixtures.producerPath, key: key, engine: engine).handler != nil)
    }

    @Test func creatingAMissingStreamNeedsFabricReadWrite() throws {
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let streamOnly = try key("stream-rw", .readWrite)
        #expect(handshake(Fixtures.producerPath, key: streamOnly, engine: StubEngine()).response?.status == 403)
        let fabricWide = try key("fabric-rw", .readWrite, stream: nil)
        #expect(handshake(Fixtures.producerPath, key: fabricWide, engine: StubEngine()).handler != nil)
    }

    @Test func unknownFabricIs404() throws {
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let key = try key("any", .readWrite, stream: nil)
        let path = "/_ws/ws/v2/producer/persistent/demo/c8global.nowhere/c8globals.orders"
        #expect(handshake(path, key: key, engine: StubEngine()).response?.status == 404)
    }
}
