import Foundation
import RivuletCore
import Synchronization
import Testing
@testable import RivuletHTTP

/// Keeps the connection it is handed and records every writability change the transport reports.
final class WritabilityRecordingHandler: WebSocketHandler {
    let connection = Mutex<(any WebSocketConnection)?>(nil)
    let changes = Mutex<[Bool]>([])

    func webSocketDidOpen(_ connection: any WebSocketConnection) {
        self.connection.withLock { $0 = connection }
    }

    func webSocket(_ connection: any WebSocketConnection, didReceiveText text: [UInt8]) {
        connection.sendText(text)
    }

    func webSocket(_ connection: any WebSocketConnection, didReceiveBinary data: [UInt8]) {}

    func webSocketDidClose(_ connection: any WebSocketConnection, code: UInt16?) {}

    func webSocketDidChangeWritability(_ connection: any WebSocketConnection, writable: Bool) {
        changes.withLock { $0.append(writable) }
    }
}

/// Upgrades every request to `handler`.
final class WritabilityService: HTTPService {
    let handler = WritabilityRecordingHandler()

    func handle(_ request: HTTPRequest, responder: any HTTPResponder) {
        responder.upgrade(to: handler, headers: [])
    }
}

struct WebSocketWritabilityTests {
    private static let highWater = 64 * 1024

    private func withServer(_ body: (HTTPServer, WritabilityService) throws -> Void) throws {
        var configuration = HTTPServerConfiguration(port: 0, loopCount: 1)
        configuration.outboundHighWaterBytes = Self.highWater
        let service = WritabilityService()
        let server = try HTTPServer(
            configuration: configuration, service: service, logger: Logger(label: "test", level: .warning))
        try server.start()
        defer { server.shutdown() }
        try body(server, service)
    }

    @Test func smallRepliesKeepConnectionWritable() throws {
        try withServer { server, service in
            let client = try TestClient(port: server.boundPort)
            #expect(try client.upgrade(path: "/ws").status == 101)
            for index in 0..<20 {
                try client.sendFrame(.text, Array("small \(index)".utf8))
                #expect(try client.readFrame() == .text(Array("small \(index)".utf8)))
            }
            #expect(service.handler.changes.withLock { $0 }.isEmpty)
        }
    }

    @Test func stalledReaderTurnsUnwritableThenWritable() throws {
        try withServer { server, service in
            let client = try TestClient(port: server.boundPort)
            #expect(try client.upgrade(path: "/ws").status == 101)
            #expect(eventually { service.handler.connection.withLock { $0 } != nil })
            let connection = try #require(service.handler.connection.withLock { $0 })

            // The client reads nothing, so the kernel buffers fill and then frames stay queued in the server.
            // The test thread sends like a well-behaved sender on another thread: only while the connection is
            // writable, and it stops once a pause outlasts 200 ms. Without reports it would send all 4096 frames.
            let changes = { service.handler.changes.withLock { $0 } }
            let maxFrames = 4096
            var sent = 0
            while sent < maxFrames {
                if changes().last == false {
                    guard eventually(seconds: 0.2, { changes().last != false }) else { break }
                }
                let prefix = Array(String(format: "%08d", sent).utf8)
                connection.sendTexts([prefix + [UInt8](repeating: UInt8(ascii: "x"), count: 16 * 1024 - prefix.count)])
                sent += 1
            }
            #expect(sent < maxFrames)
            #expect(changes().first == false)
            #expect(zip(changes(), changes().dropFirst()).allSatisfy { $0 != $1 })

            for index in 0..<sent {
                guard case .text(let payload) = try client.readFrame() else {
                    Issue.record("frame \(index) of \(sent) is missing")
                    return
                }
                #expect(String(decoding: payload.prefix(8), as: UTF8.self) == String(format: "%08d", index))
            }
            #expect(eventually { changes().last == true })
            #expect(connection.bufferedBytes == 0)
        }
    }
}
