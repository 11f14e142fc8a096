import RivuletCore
import RivuletHTTP
import Testing

@testable import RivuletAPI

private func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }

private let testLogger = Logger(label: "test", level: .debug, sink: MemorySink())

@Suite struct WebSocketProducerHandlerTests {
    private func openProducer(maxPayloadBytes: Int = 1024) -> (WebSocketProducerHandler, StubProducer, RecordingConnection) {
        let producer = StubProducer(name: "p1")
        let handler = WebSocketProducerHandler(producer: producer, maxPayloadBytes: maxPayloadBytes,
                                               nowMillis: { 1_000 }, logger: testLogger)
        let connection = RecordingConnection()
        handler.webSocketDidOpen(connection)
        return (handler, producer, connection)
    }

    /// Hands the handler `frames` as the event loop does for one socket read: each frame, then the end of the read.
    private func read(_ frames: [String], into handler: WebSocketProducerHandler, from connection: RecordingConnection) {
        for frame in frames { handler.webSocket(connection, didReceiveText: bytes(frame)) }
        handler.webSocketDidFinishReading(connection)
    }

    @Test func acksFollowPublishOrderWhenCompletionsDoNot() {
        let (handler, producer, connection) = openProducer()
        for context in ["a", "b", "c"] {
            read([#"{"payload":"aGk=","context":"\#(context)"}"#], into: handler, from: connection)
        }
        producer.complete(2, .success(MessageID(streamId: 1, sequence: 3)))
        producer.complete(1, .failure(.storageFailure("disk full")))
        #expect(connection.frames.isEmpty)
        producer.complete(0, .success(MessageID(streamId: 1, sequence: 1)))
        #expect(connection.frames == [
            #"{"result":"ok","messageId":"CAEQAQ==","context":"a","errorCode":0,"schemaVersion":0}"#,
            #"{"result":"send-error:8","errorMsg":"disk full","context":"b","errorCode":0,"schemaVersion":0}"#,
            #"{"result":"ok","messageId":"CAEQAw==","context":"c","errorCode":0,"schemaVersion":0}"#,
        ])
    }

    @Test func rejectedFrameWaitsForEarlierAcks() {
        let (handler, producer, connection) = openProducer()
        read([#"{"payload":"aGk=","context":"1"}"#, "noop", #"{"payload":"!!","context":"3"}"#], into: handler, from: connection)
        #expect(connection.frames.isEmpty)
        producer.complete(0, .success(MessageID(streamId: 0, sequence: 0)))
        #expect(connection.frames.count == 3)
        #expect(connection.frames[1].hasPrefix(#"{"result":"send-error:3","errorMsg":"#))
        #expect(!connection.frames[1].contains("context"))
        #expect(connection.frames[2].hasPrefix(#"{"result":"send-error:7","errorMsg":"#))
        #expect(connection.frames[2].contains(#""context":"3""#))
        #expect(connection.closes.isEmpty)
    }

    @Test func acksFromManyThreadsStayInOrder() async {
        let (handler, producer, connection) = openProducer()
        let count = 200
        for index in 0..<count {
            read([#"{"payload":"","context":"\#(index)"}"#], into: handler, from: connection)
        }
        await withTaskGroup(of: Void.self) { group in
            for index in (0..<count).reversed() {
                group.addTask { producer.complete(index, .success(MessageID(streamId: 0, sequence: UInt64(index)))) }
            }
        }
        let contexts = connection.frames.map { $0.components(separatedBy: #""context":""#)[1].components(separatedBy: "\"")[0] }
        #expect(contexts == (0..<count).map(String.init))
    }

    @Test func publishCarriesFrameFieldsAndProducerName() throws {
        let (handler, producer, connection) = openProducer()
        read([#"{"payload":"aGk=","key":"k","properties":{"a":1},"deliverAfterMs":500}"#], into: handler, from: connection)
        let request = try #require(producer.requests.first)
        #expect(request.payload == bytes("hi"))
        #expect(request.key == "k")
        #expect(request.properties.first?.1 == "1")
        #expect(request.deliverAt == 1_500)
        #expect(request.producerName == "p1")
    }

    @Test func oversizedPayloadIsRefusedWithoutPublishing() {
        let (handler, producer, connection) = openProducer(maxPayloadBytes: 2)
        read([#"{"payload":"aGVsbG8=","context":"x"}"#], into: handler, from: connection)
        #expect(producer.requests.isEmpty)
        #expect(connection.frames.count == 1)
        #expect(connection.frames[0].hasPrefix(#"{"result":"send-error:8","errorMsg":"payload of 5 bytes"#))
    }

    @Test func binaryFramesAreIgnored() {
        let (handler, producer, connection) = openProducer()
        handler.webSocket(connection, didReceiveBinary: bytes(#"{"payload":"aGk="}"#))
        #expect(producer.requests.isEmpty)
        #expect(connection.frames.isEmpty)
    }

    @Test func closingSocketClosesProducerOnceAndDropsLateAcks() {
        let (handler, producer, connection) = openProducer()
        read([#"{"payload":"aGk="}"#], into: handler, from: connection)
        handler.webSocketDidClose(connection, code: 1000)
        handler.webSocketDidClose(connection, code: nil)
        producer.complete(0, .success(MessageID(streamId: 0, sequence: 0)))
        #expect(producer.closeCount == 1)
        #expect(connection.frames.isEmpty)
    }
    @Test func framesOfOneReadArePublishedAsOneBatch() {
        let (handler, producer, connection) = openProducer()
        read([#"{"payload":"YQ==","context":"1"}"#, #"{"payload":"Yg==","context":"2"}"#], into: handler, from: connection)
        read([#"{"payload":"Yw==","context":"3"}"#], into: handler, from: connection)
        #expect(producer.batchSizes == [2, 1])
        #expect(producer.requests.map(\.payload) == [bytes("a"), bytes("b"), bytes("c")])
        for index in 0..<3 { producer.complete(index, .success(MessageID(streamId: 1, sequence: UInt64(index + 1)))) }
        #expect(connection.frames.count == 3)
        #expect(connection.frames.allSatisfy { $0.hasPrefix(#"{"result":"ok""#) })
    }

    @Test func rejectedFrameInsideABatchKeepsItsPlace() {
        let (handler, producer, connection) = openProducer()
        read([#"{"payload":"YQ==","context":"1"}"#, "noop", #"{"payload":"Yg==","context":"3"}"#], into: handler, from: connection)
        #expect(producer.batchSizes == [2])
        producer.complete(1, .success(MessageID(streamId: 1, sequence: 2)))
        producer.complete(0, .success(MessageID(streamId: 1, sequence: 1)))
        #expect(connection.frames.count == 3)
        #expect(connection.frames[0].contains(#""context":"1""#))
        #expect(connection.frames[1].hasPrefix(#"{"result":"send-error:3""#))
        #expect(connection.frames[2].contains(#""context":"3""#))
    }

    @Test func framesBeforeTheCloseAreStillPublished() {
        let (handler, producer, connection) = openProducer()
        handler.webSocket(connection, didReceiveText: bytes(#"{"payload":"YQ=="}"#))
        handler.webSocketDidClose(connection, code: 1000)
        #expect(producer.requests.count == 1)
        #expect(producer.closeCount == 1)
    }
}

@Suite struct WebSocketConsumerHandlerTests {
    private let id = MessageID(streamId: 1, sequence: 5)

    private func openConsumer(_ consumer: StubConsumer = StubConsumer(subscription: "sub"))
        -> (WebSocketConsumerHandler, StubConsumer, RecordingConnection) {
        let handler = WebSocketConsumerHandler(logger: testLogger)
        handler.attach(consumer)
        let connection = RecordingConnection()
        handler.webSocketDidOpen(connection)
        return (handler, consumer, connection)
    }

    @Test func commandsReachTheConsumer() {
        let (handler, consumer, connection) = openConsumer()
        let encoded = id.encoded
        for frame in [
            #"{"messageId":"\#(encoded)"}"#,
            #"{"type":"somethingElse","messageId":"\#(encoded)"}"#,
            #"{"messageId":"\#(encoded)","ackType":"cumulative"}"#,
            #"{"type":"negativeAcknowledge","messageId":"\#(encoded)"}"#,
            #"{"type":"permit","permitMessages":3}"#,
            #"{"type":"permit","permitMessages":"2"}"#,
        ] {
            handler.webSocket(connection, didReceiveText: bytes(frame))
        }
        #expect(consumer.recorded == [
            .acknowledgeBatch([id, id]), .acknowledgeCumulative(id), .negativeAcknowledge(id), .permit(3), .permit(2),
        ])
        #expect(connection.frames.isEmpty)
    }

    @Test func acksOfOneReadAreAppliedTogether() {
        let (handler, consumer, connection) = openConsumer()
        let other = MessageID(streamId: 1, sequence: 6)
        handler.webSocket(connection, didReceiveText: bytes(#"{"messageId":"\#(id.encoded)"}"#))
        handler.webSocket(connection, didReceiveText: bytes(#"{"messageId":"\#(other.encoded)"}"#))
        #expect(consumer.recorded.isEmpty)

        handler.webSocketDidFinishReading(connection)
        #expect(consumer.recorded == [.acknowledgeBatch([id, other])])

        handler.webSocketDidFinishReading(connection)
        #expect(consumer.recorded == [.acknowledgeBatch([id, other])])
    }

    @Test func pendingAcksApplyBeforeClose() {
        let (handler, consumer, connection) = openConsumer()
        handler.webSocket(connection, didReceiveText: bytes(#"{"messageId":"\#(id.encoded)"}"#))
        handler.webSocketDidClose(connection, code: 1000)
        #expect(consumer.recorded == [.acknowledgeBatch([id]), .close])
    }

    @Test func messageIdWithBatchFieldsIsAccepted() {
        let (handler, consumer, connection) = openConsumer()
        handler.webSocket(connection, didReceiveText: bytes(#"{"messageId":"CAwQBSABMAM="}"#))
        handler.webSocketDidFinishReading(connection)
        #expect(consumer.recorded == [.acknowledgeBatch([MessageID(streamId: 12, sequence: 5)])])
    }

    @Test(arguments: [
        #""noop""#, "noop", "", "[1]", "{", #"{"type":"permit"}"#, #"{"type":"permit","permitMessages":0}"#,
        #"{"messageId":"not base64"}"#, #"{"messageId":"CAA="}"#, #"{"ackType":"cumulative"}"#,
        #"{"type":"negativeAcknowledge"}"#, #"{"messageId":{"nested":true}}"#,
    ])
    func nonCommandFramesAreIgnored(_ frame: String) {
        let (handler, consumer, connection) = openConsumer()
        handler.webSocket(connection, didReceiveText: bytes(frame))
        #expect(consumer.recorded.isEmpty)
        #expect(connection.frames.isEmpty)
        #expect(connection.closes.isEmpty)
    }

    @Test func isEndOfTopicAnswersFalse() {
        let (handler, _, connection) = openConsumer()
        handler.webSocket(connection, didReceiveText: bytes(#"{"type":"isEndOfTopic"}"#))
        #expect(connection.frames == [#"{"endOfTopic":false}"#])
    }

    @Test func refusedCumulativeAckSendsErrorFrame() {
        let (handler, _, connection) = openConsumer(
            StubConsumer(subscription: "sub", cumulativeError: .notAllowed("cumulative acks are not allowed on Shared subscriptions")))
        handler.webSocket(connection, didReceiveText: bytes(#"{"messageId":"\#(id.encoded)","ackType":"Cumulative"}"#))
        #expect(connection.frames == [
            #"{"result":"error","errorMsg":"cumulative acks are not allowed on Shared subscriptions","messageId":"\#(id.encoded)"}"#,
        ])
        #expect(connection.closes.isEmpty)
    }

    @Test func unsubscribeClosesCleanly() {
        let (handler, consumer, connection) = openConsumer()
        handler.webSocket(connection, didReceiveText: bytes(#"{"type":"unsubscribe"}"#))
        #expect(consumer.recorded == [.unsubscribe])
        #expect(connection.closes.map(\.code) == [1000])
    }

    @Test func failedUnsubscribeClosesWith4003() throws {
        let (handler, _, connection) = openConsumer(
            StubConsumer(subscription: "sub", unsubscribeError: .subscriptionHasConsumers("subscription 'sub' has 2 consumers")))
        handler.webSocket(connection, didReceiveText: bytes(#"{"type":"unsubscribe"}"#))
        let close = try #require(connection.closes.first)
        #expect(close.code == 4003)
        #expect(close.reason.hasPrefix("Failed to de-serialize from JSON"))
        #expect(close.reason.utf8.count <= 123)
    }

    @Test func socketCloseClosesConsumerOnce() {
        let (handler, consumer, connection) = openConsumer()
        handler.webSocketDidClose(connection, code: nil)
        handler.webSocketDidClose(connection, code: 1000)
        handler.deliver([Fixtures.delivery(sequence: 1)])
        #expect(consumer.recorded == [.close])
        #expect(connection.frames.isEmpty)
    }

    @Test func engineCloseBeforeOpenClosesAfterFlush() {
        let handler = WebSocketConsumerHandler(logger: testLogger)
        handler.attach(StubConsumer(subscription: "sub"))
        handler.deliver([Fixtures.delivery(sequence: 1)])
        handler.engineClosed(reason: "stream 'c8globals.orders' was deleted")
        let connection = RecordingConnection()
        handler.webSocketDidOpen(connection)
        #expect(connection.frames.count == 1)
        #expect(connection.closes.map(\.code) == [1000])
        #expect(connection.closes.first?.reason == "stream 'c8globals.orders' was deleted")
    }

    @Test func engineCloseAfterOpenClosesAtOnce() {
        let (handler, _, connection) = openConsumer()
        handler.engineClosed(reason: String(repeating: "é", count: 100))
        #expect(connection.closes.count == 1)
        #expect(connection.closes.first.map { $0.reason.utf8.count <= 123 } == true)
    }

    @Test func binaryFramesAreIgnored() {
        let (handler, consumer, connection) = openConsumer()
        handler.webSocket(connection, didReceiveBinary: bytes(#"{"messageId":"\#(id.encoded)"}"#))
        #expect(consumer.recorded.isEmpty)
    }
}

@Suite struct WebSocketReaderHandlerTests {
    private func openReader() -> (WebSocketReaderHandler, StubReader, RecordingConnection) {
        let reader = StubReader()
        let handler = WebSocketReaderHandler(logger: testLogger)
        handler.attach(reader)
        let connection = RecordingConnection()
        handler.webSocketDidOpen(connection)
        return (handler, reader, connection)
    }

    @Test func framesWithMessageIdFreeASlot() {
        let (handler, reader, connection) = openReader()
        let id = MessageID(streamId: 2, sequence: 8)
        handler.webSocket(connection, didReceiveText: bytes(#"{"messageId":"\#(id.encoded)"}"#))
        handler.webSocket(connection, didReceiveText: bytes(#"{"type":"negativeAcknowledge","messageId":"\#(id.encoded)"}"#))
        handler.webSocket(connection, didReceiveText: bytes(#""noop""#))
        handler.webSocket(connection, didReceiveText: bytes(#"{"messageId":"garbage"}"#))
        #expect(reader.recorded == [.acknowledge(id), .acknowledge(id)])
    }

    @Test func isEndOfTopicAnswered() {
        let (handler, reader, connection) = openReader()
        handler.webSocket(connection, didReceiveText: bytes(#"{"type":"isEndOfTopic"}"#))
        #expect(connection.frames == [#"{"endOfTopic":false}"#])
        #expect(reader.recorded.isEmpty)
    }

    @Test func socketCloseClosesReader() {
        let (handler, reader, connection) = openReader()
        handler.webSocketDidClose(connection, code: 1001)
        #expect(reader.recorded == [.close])
    }
}
