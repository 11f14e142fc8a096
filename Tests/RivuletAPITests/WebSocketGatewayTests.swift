import RivuletAuth
import RivuletCore
import RivuletHTTP
import Testing

@testable import RivuletAPI

@Suite struct WebSocketGatewayTests {
    @Test func producerUpgradesAfterOpening() throws {
        let engine = StubEngine()
        let responder = RecordingResponder()
        Fixtures.gateway(engine: engine).handle(Fixtures.request(Fixtures.producerPath + "?producerName=p1"), responder: responder)
        #expect(responder.response == nil)
        #expect(responder.handler is WebSocketProducerHandler)
        let opened = try #require(engine.opened.first)
        #expect(opened.address == Fixtures.stream)
        #expect(opened.producerName == "p1")
        #expect(opened.createIfMissing == true)
    }

    @Test func consumerGetsOptionsFromQuery() throws {
        let engine = StubEngine()
        let responder = RecordingResponder()
        Fixtures.gateway(engine: engine).handle(
            Fixtures.request(Fixtures.consumerPath + "?subscriptionType=shared&receiverQueueSize=10"), responder: responder)
        #expect(responder.handler is WebSocketConsumerHandler)
        let options = try #require(engine.opened.first?.options)
        #expect(options.subscription == "sub")
        #expect(options.type == .shared)
        #expect(options.receiverQueueSize == 10)
        #expect(options.initialPosition == .earliest)
    }

    @Test func readerGetsStartFromQuery() throws {
        let engine = StubEngine(existing: [Fixtures.stream])
        let responder = RecordingResponder()
        Fixtures.gateway(engine: engine).handle(Fixtures.request(Fixtures.readerPath + "?messageId=earliest"), responder: responder)
        #expect(responder.handler is WebSocketReaderHandler)
        #expect(engine.opened.first?.readerStart == .earliest)
        #expect(engine.opened.first?.receiverQueueSize == 1000)
    }

    // MARK: Authentication

    @Test(arguments: [
        [(name: "Authorization", value: "apikey good-key")],
        [(name: "authorization", value: "APIKEY good-key")],
        [(name: "Authorization", value: "Bearer good-jwt")],
    ])
    func headerCredentialsAccepted(_ headers: [(name: String, value: String)]) {
        let responder = RecordingResponder()
        Fixtures.gateway(engine: StubEngine()).handle(Fixtures.request(Fixtures.producerPath, headers: headers), responder: responder)
        #expect(responder.handler != nil)
    }

    @Test func oneTimePasswordWorksOnce() {
        let engine = StubEngine()
        let gateway = Fixtures.gateway(engine: engine)
        let first = RecordingResponder()
        gateway.handle(Fixtures.request(Fixtures.consumerPath + "?otp=otp-1", headers: []), responder: first)
        #expect(first.handler != nil)
        let second = RecordingResponder()
        gateway.handle(Fixtures.request(Fixtures.consumerPath + "?otp=otp-1", headers: []), responder: second)
        #expect(second.response?.status == 401)
    }

    @Test(arguments: ["good-jwt", "Bearer%20good-jwt", "Bearer+good-jwt", "bearer%20good-jwt", "apikey%20good-key"])
    func tokenQueryAccepted(_ token: String) {
        let auth = Fixtures.authenticator()
        let responder = RecordingResponder()
        Fixtures.gateway(engine: StubEngine(), auth: auth)
            .handle(Fixtures.request(Fixtures.producerPath + "?token=\(token)", headers: []), responder: responder)
        #expect(responder.handler != nil)
    }

    @Test func headerWinsOverQueryCredentials() {
        let responder = RecordingResponder()
        Fixtures.gateway(engine: StubEngine()).handle(
            Fixtures.request(Fixtures.producerPath + "?otp=otp-1", headers: [("Authorization", "apikey wrong")]), responder: responder)
        #expect(responder.response?.status == 401)
    }

    @Test func missingCredentialsAre401() throws {
        let engine = StubEngine()
        let responder = RecordingResponder()
        Fixtures.gateway(engine: engine).handle(Fixtures.request(Fixtures.producerPath, headers: []), responder: responder)
        let response = try #require(responder.response)
        #expect(response.status == 401)
        #expect(responder.bodyText.hasPrefix(#"{"error":true,"code":401,"errorMessage":"#))
        #expect(response.headers.first { $0.0 == "Content-Type" }?.1 == "application/json")
        #expect(engine.opened.isEmpty)
    }

    @Test func invalidCredentialsAre401() {
        let responder = RecordingResponder()
        Fixtures.gateway(engine: StubEngine()).handle(
            Fixtures.request(Fixtures.readerPath, headers: [("Authorization", "apikey nope")]), responder: responder)
        #expect(responder.response?.status == 401)
    }

    @Test func otherTenantIs403() {
        let engine = StubEngine()
        let responder = RecordingResponder()
        Fixtures.gateway(engine: engine).handle(
            Fixtures.request(Fixtures.consumerPath, headers: [("Authorization", "apikey other-key")]), responder: responder)
        #expect(responder.response?.status == 403)
        #expect(engine.opened.isEmpty)
    }

    @Test func consumerChecksQueryBeforeCredentials() {
        let responder = RecordingResponder()
        Fixtures.gateway(engine: StubEngine()).handle(
            Fixtures.request(Fixtures.consumerPath + "?subscriptionType=bad", headers: []), responder: responder)
        #expect(responder.response?.status == 400)
    }

    @Test func producerChecksCredentialsBeforeQuery() {
        let responder = RecordingResponder()
        Fixtures.gateway(engine: StubEngine()).handle(
            Fixtures.request(Fixtures.producerPath + "?compressionType=bad", headers: []), responder: responder)
        #expect(responder.response?.status == 401)
    }

    // MARK: Refusals

    @Test func refusalBodyIsTheGDNEnvelope() {
        let responder = RecordingResponder()
        Fixtures.gateway(engine: StubEngine()).handle(
            Fixtures.request("/_ws/ws/v2/consumer/persistent/demo/c8global._system/c8globals.orders/"), responder: responder)
        #expect(responder.response?.status == 400)
        #expect(responder.bodyText == #"{"error":true,"code":400,"errorMessage":"Empty subscription name","errorNum":400}"#)
    }

    @Test func seedConsumerURLOnProducerPathIs400() {
        let responder = RecordingResponder()
        Fixtures.gateway(engine: StubEngine()).handle(
            Fixtures.request("/_ws/ws/v2/producer/persistent/demo/c8global._system/c8globals.orders/testconsumer"),
            responder: responder)
        #expect(responder.response?.status == 400)
        #expect(responder.bodyText.contains("/_ws/ws/v2/consumer/persistent/demo/c8global._system/c8globals.orders/testconsumer"))
    }

    @Test func plainRequestWithoutUpgradeIs400() {
        let responder = RecordingResponder()
        Fixtures.gateway(engine: StubEngine()).handle(Fixtures.request(Fixtures.producerPath, upgrade: false), responder: responder)
        #expect(responder.response?.status == 400)
    }

    @Test(arguments: [
        (EngineError.consumerBusy("Exclusive subscription 'sub' already has a consumer"), 409),
        (EngineError.producerBusy("producer 'p1' is connected"), 409),
        (EngineError.streamNotFound("stream 'orders' not found"), 404),
        (EngineError.invalidArgument("bad"), 400),
        (EngineError.unavailable("shutting down"), 503),
        (EngineError.storageFailure("disk"), 500),
    ])
    func engineErrorsMapToStatus(_ error: EngineError, _ status: Int) {
        for path in [Fixtures.producerPath, Fixtures.consumerPath, Fixtures.readerPath] {
            let responder = RecordingResponder()
            Fixtures.gateway(engine: StubEngine(existing: [Fixtures.stream], openError: error))
                .handle(Fixtures.request(path), responder: responder)
            #expect(responder.response?.status == status, "\(path)")
            #expect(responder.handler == nil)
            #expect(responder.bodyText.contains(#""errorMessage":"\#(error.message)""#))
        }
    }

    @Test func missingStreamWithoutAutoCreateIs404() {
        let engine = StubEngine()
        let gateway = Fixtures.gateway(engine: engine, configure: { $0.autoCreateStreams = false })
        for path in [Fixtures.producerPath, Fixtures.consumerPath] {
            let responder = RecordingResponder()
            gateway.handle(Fixtures.request(path), responder: responder)
            #expect(responder.response?.status == 404, "\(path)")
        }
    }

    @Test func readerOnMissingStreamIs404EvenWithAutoCreate() {
        let responder = RecordingResponder()
        Fixtures.gateway(engine: StubEngine()).handle(Fixtures.request(Fixtures.readerPath), responder: responder)
        #expect(responder.response?.status == 404)
    }

    @Test func logsNeverContainCredentials() {
        let sink = MemorySink()
        let gateway = Fixtures.gateway(engine: StubEngine(), sink: sink)
        gateway.handle(Fixtures.request(Fixtures.producerPath + "?otp=secret-otp", headers: []), responder: RecordingResponder())
        gateway.handle(Fixtures.request(Fixtures.producerPath + "?token=secret-token", headers: []), responder: RecordingResponder())
        #expect(sink.lines.count == 2)
        #expect(sink.lines.allSatisfy { !$0.contains("secret") })
        #expect(sink.lines.allSatisfy { $0.contains("status=401") })
        #expect(sink.lines.allSatisfy { $0.contains("connection=42") })
    }

    @Test func openAndCloseAreLoggedWithIds() throws {
        let sink = MemorySink()
        let responder = RecordingResponder()
        Fixtures.gateway(engine: StubEngine(), sink: sink).handle(Fixtures.request(Fixtures.consumerPath), responder: responder)
        let handler = try #require(responder.handler)
        let connection = RecordingConnection()
        handler.webSocketDidOpen(connection)
        handler.webSocketDidClose(connection, code: 1000)
        let lifecycle = sink.lines.filter { $0.contains("level=info") }
        #expect(lifecycle.count == 2)
        for line in lifecycle {
            #expect(line.contains("tenant=demo"))
            #expect(line.contains("stream=c8globals.orders"))
            #expect(line.contains("subscription=sub"))
            #expect(line.contains("connection=42"))
        }
        #expect(lifecycle.last?.contains("code=1000") == true)
    }

    // MARK: Deliveries before the socket opens

    @Test func deliveriesBeforeOpenAreFlushedInOrder() throws {
        let engine = StubEngine(initialDeliveries: [Fixtures.delivery(sequence: 1), Fixtures.delivery(sequence: 2)])
        let responder = RecordingResponder()
        Fixtures.gateway(engine: engine).handle(Fixtures.request(Fixtures.consumerPath), responder: responder)
        let handler = try #require(responder.handler as? WebSocketConsumerHandler)
        handler.deliver([Fixtures.delivery(sequence: 3)])
        let connection = RecordingConnection()
        #expect(connection.frames.isEmpty)
        handler.webSocketDidOpen(connection)
        handler.deliver([Fixtures.delivery(sequence: 4)])
        let ids = connection.frames.map { MessageID(encoded: extractMessageId($0)) }
        #expect(ids == (1...4).map { MessageID(streamId: 1, sequence: UInt64($0)) })
    }

    @Test func readerDeliveriesBeforeOpenAreFlushed() throws {
        let engine = StubEngine(existing: [Fixtures.stream], initialDeliveries: [Fixtures.delivery(sequence: 9)])
        let responder = RecordingResponder()
        Fixtures.gateway(engine: engine).handle(Fixtures.request(Fixtures.readerPath), responder: responder)
        let handler = try #require(responder.handler as? WebSocketReaderHandler)
        let connection = RecordingConnection()
        handler.webSocketDidOpen(connection)
        #expect(connection.frames.count == 1)
        #expect(connection.frames.first.map(extractMessageId) == MessageID(streamId: 1, sequence: 9).encoded)
    }

    private func extractMessageId(_ frame: String) -> String {
        let afterKey = frame.components(separatedBy: #""messageId":""#)[1]
        return afterKey.components(separatedBy: "\"")[0]
    }
}
