import RivuletCore
import RivuletHTTP
import Testing

@testable import RivuletAPI

@Suite struct WebSocketQueryTests {
    private func query(_ text: String) -> WebSocketQuery {
        WebSocketQuery(HTTPRequest(method: "GET", target: "/x?" + text))
    }

    private func consumerOptions(_ text: String, cap: Int = 1000) throws -> ConsumerOptions {
        try query(text).consumerOptions(subscription: "sub", maxReceiverQueueSize: cap)
    }

    @Test func consumerDefaults() throws {
        let options = try consumerOptions("")
        #expect(options.type == .exclusive)
        #expect(options.initialPosition == .earliest)
        #expect(options.receiverQueueSize == 1000)
        #expect(options.ackTimeout == nil)
        #expect(options.pullMode == false)
        #expect(options.subscription == "sub")
    }

    @Test func consumerValuesParsed() throws {
        let options = try consumerOptions(
            "subscriptionType=key_shared&subscriptionInitialPosition=LATEST&receiverQueueSize=5&ackTimeoutMillis=1000"
                + "&negativeAckRedeliveryDelay=250&maxRedeliverCount=3&deadLetterTopic=dlq&pullMode=TRUE"
                + "&consumerName=c1&priorityLevel=2&batchingMaxPublishDelayMs=9")
        #expect(options.type == .keyShared)
        #expect(options.initialPosition == .latest)
        #expect(options.receiverQueueSize == 5)
        #expect(options.ackTimeout == .milliseconds(1000))
        #expect(options.negativeAckRedeliveryDelay == .milliseconds(250))
        #expect(options.maxRedeliverCount == 3)
        #expect(options.deadLetterTopic == "dlq")
        #expect(options.pullMode == true)
        #expect(options.consumerName == "c1")
        #expect(options.priorityLevel == 2)
    }

    @Test func receiverQueueSizeCapped() throws {
        #expect(try consumerOptions("receiverQueueSize=50000").receiverQueueSize == 1000)
        #expect(try consumerOptions("receiverQueueSize=50000", cap: 200).receiverQueueSize == 200)
        #expect(try consumerOptions("receiverQueueSize=0").receiverQueueSize == 0)
    }

    @Test func firstRepeatedValueCounts() throws {
        #expect(try consumerOptions("subscriptionType=Shared&subscriptionType=nonsense").type == .shared)
    }

    @Test(arguments: ["1", "True", "TRUE", "true"])
    func booleanTrueForms(_ text: String) throws {
        #expect(try consumerOptions("pullMode=\(text)").pullMode == true)
    }

    @Test(arguments: ["0", "False", "false"])
    func booleanFalseForms(_ text: String) throws {
        #expect(try consumerOptions("pullMode=\(text)").pullMode == false)
    }

    @Test(arguments: [
        "subscriptionType=Everyone", "receiverQueueSize=abc", "receiverQueueSize=-1", "receiverQueueSize=99999999999",
        "ackTimeoutMillis=999", "ackTimeoutMillis=1", "pullMode=yes", "subscriptionInitialPosition=Middle",
        "maxRedeliverCount=0", "deadLetterTopic=dlq", "subscriptionMode=Temporary", "priorityLevel=x",
    ])
    func consumerRejectsInvalidValue(_ text: String) {
        #expect {
            _ = try consumerOptions(text)
        } throws: { error in
            guard let error = error as? APIError else { return false }
            return error.status == 400 && error.message.hasPrefix("Invalid query params: ")
        }
    }

    @Test func ackTimeoutZeroMeansOff() throws {
        #expect(try consumerOptions("ackTimeoutMillis=0").ackTimeout == nil)
    }

    @Test func producerValuesParsed() throws {
        let settings = try query(
            "producerName=p1&sendTimeoutMillis=0&batchingEnabled=False&batchingMaxMessages=10&maxPendingMessages=5"
                + "&batchingMaxPublishDelay=10&messageRoutingMode=roundrobinpartition&compressionType=ZLib"
                + "&hashingScheme=murmur3_32hash&initialSequenceId=-1&batchingMaxPublishDelayMs=10"
        ).producerSettings()
        #expect(settings.producerName == "p1")
        #expect(settings.sendTimeoutMillis == 0)
        #expect(settings.messageRoutingMode == "RoundRobinPartition")
        #expect(settings.compressionType == "ZLIB")
        #expect(settings.hashingScheme == "Murmur3_32Hash")
        #expect(settings.initialSequenceId == -1)
    }

    @Test(arguments: ["messageRoutingMode=Random", "compressionType=GZIP", "sendTimeoutMillis=soon",
                      "batchingEnabled=maybe", "initialSequenceId=1.5", "hashingScheme=md5"])
    func producerRejectsInvalidValue(_ text: String) {
        #expect(throws: APIError.self) { _ = try query(text).producerSettings() }
    }

    @Test func readerStartPositions() throws {
        #expect(try query("").readerSettings(maxReceiverQueueSize: 1000).start == .latest)
        #expect(try query("messageId=EARLIEST").readerSettings(maxReceiverQueueSize: 1000).start == .earliest)
        #expect(try query("messageId=latest").readerSettings(maxReceiverQueueSize: 1000).start == .latest)
        let id = MessageID(streamId: 1, sequence: 300)
        let encoded = id.encoded.replacingOccurrences(of: "+", with: "%2B").replacingOccurrences(of: "/", with: "%2F")
            .replacingOccurrences(of: "=", with: "%3D")
        #expect(try query("messageId=\(encoded)").readerSettings(maxReceiverQueueSize: 1000).start == .after(id))
    }

    @Test func readerRejectsInvalidMessageId() {
        #expect(throws: APIError.badParameter(
            "Invalid query params: messageId 'not-an-id' is not earliest, latest or a base64 message id (percent-encode '+' and '/')")
        ) {
            _ = try query("messageId=not-an-id").readerSettings(maxReceiverQueueSize: 1000)
        }
    }

    @Test func readerQueueSizeCapped() throws {
        let settings = try query("receiverQueueSize=5000&readerName=r").readerSettings(maxReceiverQueueSize: 1000)
        #expect(settings.receiverQueueSize == 1000)
        #expect(settings.readerName == "r")
    }
}
