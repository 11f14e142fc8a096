import Dispatch
import Foundation
import RivuletCore
import Synchronization
import Testing
@testable import RivuletHTTP

/// Echoes text messages and records what the transport reported.
final class EchoHandler: WebSocketHandler {
    /// Close codes passed to `webSocketDidClose`, one entry per call; `-1` stands for nil.
    let closeCodes = Mutex<[Int]>([])
    let opened = Atomic<Bool>(false)

    func webSocketDidOpen(_ connection: any WebSocketConnection) {
        opened.store(true, ordering: .relaxed)
    }

    func webSocket(_ connection: any WebSocketConnection, didReceiveText text: [UInt8]) {
        if text == Array("close-please".utf8) {
            connection.close(code: 4000, reason: "asked")
        } else if text == Array("from-another-thread".utf8) {
            DispatchQueue.global().async { connection.sendText(Array("later".utf8)) }
        } else {
            connection.sendText(text)
        }
    }

    func webSocket(_ connection: any WebSocketConnection, didReceiveBinary data: [UInt8]) {
        connection.sendText(Array("binary \(data.count)".utf8))
    }

    func webSocketDidClose(_ connection: any WebSocketConnection, code: UInt16?) {
        closeCodes.withLock { $0.append(code.map(Int.init) ?? -1) }
    }
}

/// Routes: `/slow` responds from another thread after a delay, `/echo` returns the body, `/ws` upgrades,
/// `/drop` never responds, `/remote` returns the peer address, and any other path returns the raw target.
final class TestService: HTTPService {
    let handler = EchoHandler()
    /// Signaled each time a `/slow` request reaches the service.
    let slowRequestReceived = DispatchSemaphore(value: 0)

    func handle(_ request: HTTPRequest, responder: any HTTPResponder) {
        switch request.path {
        case "/slow":
            slowRequestReceived.signal()
            DispatchQueue.global().asyncAfter(deadline: .now() + .milliseconds(100)) {
                responder.respond(HTTPResponse(status: 200, body: Array("slow".utf8)))
            }
        case "/echo":
            responder.respond(HTTPResponse(status: 200, headers: [("X-Method", request.method)], body: request.body))
        case "/ws":
            if request.isWebSocketUpgrade {
                responder.upgrade(to: handler, headers: [("X-Upgraded", "yes")])
            } else {
                responder.respond(HTTPResponse(status: 400, body: Array("not an upgrade".utf8)))
            }
        case "/drop":
            break
        case "/remote":
            responder.respond(HTTPResponse(status: 200, body: Array(request.remoteAddress.utf8)))
        default:
            responder.respond(HTTPResponse(status: 200, headers: [("Content-Type", "text/plain")], body: Array(request.target.utf8)))
        }
    }
}

struct HTTPServerTests {
    private func withServer(
        _ configure: (inout HTTPServerConfiguration) -> Void = { _ in },
        _ body: (HTTPServer, TestService) throws -> Void
    ) throws {
        var configuration = HTTPServerConfiguration(port: 0, loopCount: 2)
        configure(&configuration)
        let service = TestService()
        let server = try HTTPServer(
            configuration: configuration, service: service, logger: Logger(label: "test", level: .warning))
        try server.start()
        defer { server.shutdown() }
        try body(server, service)
    }

    @Test func keepAliveAndPipelining() throws {
        try withServer { server, _ in
            let client = try TestClient(port: server.boundPort)
            try client.send("GET /slow HTTP/1.1\r\nHost: x\r\n\r\nGET /a%2Fb?q=1 HTTP/1.1\r\nHost: x\r\n\r\n"
                            + "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n\r\nping")
            let first = try client.readResponse()
            let second = try client.readResponse()
            let third = try client.readResponse()
            #expect(first.text == "slow")
            #expect(second.text == "/a%2Fb?q=1")
            #expect(third.text == "ping")
            #expect(third.header("X-Method") == "POST")
            #expect(third.header("Server") == "rivulet")
            #expect(third.header("Connection") == "keep-alive")
            #expect(third.header("Date")?.hasSuffix("GMT") == true)

            try client.send("GET /again HTTP/1.1\r\nHost: x\r\n\r\n")
            #expect(try client.readResponse().text == "/again")
        }
    }

    @Test func responseFromAnotherThread() throws {
        try withServer { server, _ in
            let client = try TestClient(port: server.boundPort)
            try client.send("GET /slow HTTP/1.1\r\nHost: x\r\n\r\n")
            let response = try client.readResponse()
            #expect(response.status == 200)
            #expect(response.text == "slow")
            #expect(response.header("Content-Length") == "4")
        }
    }

    @Test func chunkedBodyWithExpectContinue() throws {
        try withServer { server, _ in
            let client = try TestClient(port: server.boundPort)
            try client.send("POST /echo HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nTransfer-Encoding: chunked\r\n\r\n")
            #expect(try client.readResponse().status == 100)
            try client.send("3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n")
            #expect(try client.readResponse().text == "abcde")
        }
    }

    @Test func headHasNoBodyAndHTTP10Closes() throws {
        try withServer { server, _ in
            let client = try TestClient(port: server.boundPort)
            try client.send("HEAD /thing HTTP/1.1\r\nHost: x\r\n\r\n")
            let head = try client.readResponse(isHead: true)
            #expect(head.header("Content-Length") == "6")
            try client.send("GET /next HTTP/1.0\r\n\r\n")
            let next = try client.readResponse()
            #expect(next.text == "/next")
            #expect(next.header("Connection") == "close")
            #expect(try client.readsEndOfStream())
        }
    }

    @Test func malformedRequestGets400AndClose() throws {
        try withServer { server, _ in
            let client = try TestClient(port: server.boundPort)
            try client.send("GET / HTTP/1.1\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n")
            let response = try client.readResponse()
            #expect(response.status == 400)
            #expect(response.header("Connection") == "close")
            #expect(try client.readsEndOfStream())
        }
    }

    @Test func oversizeLimitsAnswer431And413() throws {
        try withServer({ $0.maxRequestHeadBytes = 512; $0.maxRequestBodyBytes = 100 }) { server, _ in
            let headClient = try TestClient(port: server.boundPort)
            try headClient.send("GET / HTTP/1.1\r\nX-Long: " + String(repeating: "a", count: 600) + "\r\n\r\n")
            #expect(try headClient.readResponse().status == 431)

            let bodyClient = try TestClient(port: server.boundPort)
            try bodyClient.send("POST /echo HTTP/1.1\r\nContent-Length: 101\r\n\r\n")
            #expect(try bodyClient.readResponse().status == 413)
        }
    }

    @Test func droppedResponderAnswers500() throws {
        try withServer { server, _ in
            let client = try TestClient(port: server.boundPort)
            try client.send("GET /drop HTTP/1.1\r\nHost: x\r\n\r\nGET /after HTTP/1.1\r\nHost: x\r\n\r\n")
            #expect(try client.readResponse().status == 500)
            #expect(try client.readResponse().text == "/after")
        }
    }

    @Test func slowHeaderIsDisconnected() throws {
        try withServer({ $0.headerReadTimeout = .milliseconds(200) }) { server, _ in
            let client = try TestClient(port: server.boundPort)
            try client.send("GET / HTTP/1.1\r\nHost:")
            #expect(try client.readsEndOfStream())
        }
    }

    @Test func webSocketEcho() throws {
        try withServer { server, service in
            let client = try TestClient(port: server.boundPort)
            let handshake = try client.upgrade(path: "/ws")
            #expect(handshake.status == 101)
            #expect(handshake.header("Sec-WebSocket-Accept") == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=")
            #expect(handshake.header("X-Upgraded") == "yes")

            try client.sendFrame(.text, Array("hel".utf8), fin: false)
            try client.sendFrame(.ping, Array("p".utf8))
            try client.sendFrame(.continuation, Array("lo".utf8))
            #expect(try client.readFrame() == .pong(Array("p".utf8)))
            #expect(try client.readFrame() == .text(Array("hello".utf8)))

            try client.sendFrame(.text, Array("from-another-thread".utf8))
            #expect(try client.readFrame() == .text(Array("later".utf8)))

            try client.sendFrame(.close, [0x03, 0xE8])
            #expect(try client.readFrame() == .close(code: 1000, reason: []))
            #expect(try client.readFrame() == nil)
            #expect(eventually { service.handler.closeCodes.withLock { $0 } == [1000] })
        }
    }

    @Test func webSocketServerInitiatedClose() throws {
        try withServer { server, service in
            let client = try TestClient(port: server.boundPort)
            #expect(try client.upgrade(path: "/ws").status == 101)
            try client.sendFrame(.text, Array("close-please".utf8))
            #expect(try client.readFrame() == .close(code: 4000, reason: Array("asked".utf8)))
            try client.sendFrame(.close, [0x0F, 0xA0])
            #expect(try client.readFrame() == nil)
            #expect(eventually { service.handler.closeCodes.withLock { $0 } == [4000] })
        }
    }

    @Test func webSocketUnmaskedFrameGets1002() throws {
        try withServer { server, service in
            let client = try TestClient(port: server.boundPort)
            #expect(try client.upgrade(path: "/ws").status == 101)
            try client.sendFrame(.text, Array("hi".utf8), masked: false)
            guard case .close(let code, _) = try client.readFrame() else {
                Issue.record("expected a close frame")
                return
            }
            #expect(code == 1002)
            #expect(try client.readFrame() == nil)
            #expect(eventually { service.handler.closeCodes.withLock { $0 } == [-1] })
        }
    }

    @Test func webSocketWrongVersionGets426() throws {
        try withServer { server, _ in
            let client = try TestClient(port: server.boundPort)
            let response = try client.upgrade(path: "/ws", version: "8")
            #expect(response.status == 426)
            #expect(response.header("Sec-WebSocket-Version") == "13")
        }
    }

    @Test func shutdownClosesWebSocketWith1001() throws {
        var configuration = HTTPServerConfiguration(port: 0, loopCount: 1, closeHandshakeTimeout: .milliseconds(500))
        configuration.host = "localhost"
        let service = TestService()
        let server = try HTTPServer(configuration: configuration, service: service, logger: Logger(label: "test", level: .warning))
        try server.start()
        let client = try TestClient(port: server.boundPort)
        #expect(try client.upgrade(path: "/ws").status == 101)
        let shutdown = DispatchSemaphore(value: 0)
        DispatchQueue.global().async {
            server.shutdown()
            shutdown.signal()
        }
        guard case .close(let code, _) = try client.readFrame() else {
            Issue.record("expected a close frame")
            return
        }
        #expect(code == 1001)
        try client.sendFrame(.close, [0x03, 0xE9])
        #expect(shutdown.wait(timeout: .now() + 10) == .success)
        server.shutdown()
        #expect(service.handler.closeCodes.withLock { $0 } == [1001])
    }

    @Test func startReportsAddressInUse() throws {
        try withServer { server, _ in
            let second = try HTTPServer(
                configuration: HTTPServerConfiguration(port: server.boundPort, loopCount: 1),
                service: TestService(), logger: Logger(label: "test", level: .warning))
            #expect {
                try second.start()
            } throws: { error in
                "\(error)".contains("127.0.0.1:\(server.boundPort)")
            }
        }
    }

    @Test func missingCertificateIsNamed() {
        let tls = TLSConfiguration(certificatePath: "/nonexistent/cert.pem", privateKeyPath: "/nonexistent/key.pem")
        #expect {
            _ = try HTTPServer(configuration: HTTPServerConfiguration(tls: tls), service: TestService(),
                               logger: Logger(label: "test", level: .warning))
        } throws: { error in
            "\(error)".contains("/nonexistent/cert.pem")
        }
    }

    @Test func tlsRoundTrip() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("rivulet-tls-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let certificate = directory.appendingPathComponent("cert.pem").path
        let key = directory.appendingPathComponent("key.pem").path

        let openssl = Process()
        openssl.executableURL = URL(fileURLWithPath: "/usr/bin/openssl")
        openssl.arguments = ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                             "-keyout", key, "-out", certificate, "-days", "1", "-subj", "/CN=localhost"]
        openssl.standardOutput = FileHandle.nullDevice
        openssl.standardError = FileHandle.nullDevice
        try openssl.run()
        openssl.waitUntilExit()
        try #require(openssl.terminationStatus == 0)

        try withServer({ $0.tls = TLSConfiguration(certificatePath: certificate, privateKeyPath: key) }) { server, service in
            let client = try TestClient(port: server.boundPort)
            try client.startTLS()
            #expect(client.tlsVersion == "TLSv1.3")
            try client.send("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 6\r\n\r\nsecret")
            #expect(try client.readResponse().text == "secret")

            let webSocket = try TestClient(port: server.boundPort)
            try webSocket.startTLS()
            #expect(try webSocket.upgrade(path: "/ws").status == 101)
            let big = [UInt8](repeating: UInt8(ascii: "z"), count: 100_000)
            try webSocket.sendFrame(.text, big)
            #expect(try webSocket.readFrame() == .text(big))
            try webSocket.sendFrame(.close, [0x03, 0xE8])
            #expect(try webSocket.readFrame() == .close(code: 1000, reason: []))
            #expect(eventually { service.handler.closeCodes.withLock { $0 } == [1000] })
        }
    }

    @Test func idleKeepAliveIsClosed() throws {
        try withServer({ $0.keepAliveIdleTimeout = .milliseconds(200) }) { server, _ in
            let client = try TestClient(port: server.boundPort)
            try client.send("GET /one HTTP/1.1\r\nHost: x\r\n\r\n")
            #expect(try client.readResponse().text == "/one")
            #expect(try client.readsEndOfStream())
        }
    }

    @Test func webSocketPingsAndIdleClose() throws {
        try withServer({
            $0.webSocketPingInterval = .milliseconds(100)
            $0.webSocketIdleTimeout = .milliseconds(400)
        }) { server, service in
            let client = try TestClient(port: server.boundPort)
            #expect(try client.upgrade(path: "/ws").status == 101)
            #expect(try client.readFrame() == .ping([]))
            var closeCode: UInt16?
            while let frame = try client.readFrame() {
                if case .close(let code, _) = frame {
                    closeCode = code
                    break
                }
            }
            #expect(closeCode == 1001)
            try client.sendFrame(.close, [0x03, 0xE9])
            #expect(eventually { service.handler.closeCodes.withLock { $0 } == [1001] })
        }
    }

    @Test func connectionsAboveLimitAreClosed() throws {
        try withServer({ $0.maxConnections = 1; $0.loopCount = 1 }) { server, _ in
            let first = try TestClient(port: server.boundPort)
            try first.send("GET /first HTTP/1.1\r\nHost: x\r\n\r\n")
            #expect(try first.readResponse().text == "/first")
            let second = try TestClient(port: server.boundPort)
            #expect(try second.readsEndOfStream())
        }
    }

    @Test func nonReadingClientStopsServerReads() throws {
        try withServer({ $0.outboundHighWaterBytes = 64 * 1024 }) { server, _ in
            let client = try TestClient(port: server.boundPort, timeoutSeconds: 1)
            #expect(try client.upgrade(path: "/ws").status == 101)
            let payload = [UInt8](repeating: UInt8(ascii: "x"), count: 16 * 1024)
            var sentBytes = 0
            // Once the echo queue passes the high-water mark the server stops reading, so the client's writes
            // block when the kernel buffers fill. Without backpressure all 256 MiB would go through.
            do {
                while sentBytes < 256 * 1024 * 1024 {
                    try client.sendFrame(.text, payload)
                    sentBytes += payload.count
                }
            } catch {}
            #expect(sentBytes < 64 * 1024 * 1024)
        }
    }

    @Test func listensOnIPv6Loopback() throws {
        var configuration = HTTPServerConfiguration(host: "::1", port: 0, loopCount: 1)
        configuration.maxConnections = 10
        let server = try HTTPServer(configuration: configuration, service: TestService(),
                                    logger: Logger(label: "test", level: .warning))
        do {
            try server.start()
        } catch {
            // Hosts without an IPv6 loopback cannot run this check.
            #expect("\(error)".contains("[::1]:0"))
            return
        }
        defer { server.shutdown() }
        let client = try TestClient(port: server.boundPort, ipv6: true)
        try client.send("GET /remote HTTP/1.1\r\nHost: x\r\n\r\n")
        #expect(try client.readResponse().text.hasPrefix("[::1]:"))
    }

    @Test func halfClosedClientStillGetsResponse() throws {
        try withServer { server, _ in
            let client = try TestClient(port: server.boundPort)
            try client.send("GET /slow HTTP/1.1\r\nHost: x\r\n\r\n")
            shutdown(client.fd, Int32(SHUT_WR))
            let response = try client.readResponse()
            #expect(response.text == "slow")
            #expect(response.header("Connection") == "close")
            #expect(try client.readsEndOfStream())
        }
    }

    @Test func shutdownFinishesInFlightResponse() throws {
        let service = TestService()
        // The grace time is this timeout plus one second. It must outlast the 100 ms response even when a loaded
        // machine delays the response's timer, and shutdown ends as soon as the response is written.
        let configuration = HTTPServerConfiguration(port: 0, loopCount: 1, closeHandshakeTimeout: .seconds(5))
        let server = try HTTPServer(configuration: configuration, service: service,
                                    logger: Logger(label: "test", level: .warning))
        try server.start()
        let client = try TestClient(port: server.boundPort)
        try client.send("GET /slow HTTP/1.1\r\nHost: x\r\n\r\n")
        #expect(service.slowRequestReceived.wait(timeout: .now() + 5) == .success)
        let stopped = DispatchSemaphore(value: 0)
        DispatchQueue.global().async {
            server.shutdown()
            stopped.signal()
        }
        let response = try client.readResponse()
        #expect(response.text == "slow")
        #expect(response.header("Connection") == "close")
        #expect(try client.readsEndOfStream())
        #expect(stopped.wait(timeout: .now() + 10) == .success)
        #expect(throws: HTTPServerError.self) { try server.start() }
    }

    @Test func requestSentByteAtATime() throws {
        try withServer { server, _ in
            let client = try TestClient(port: server.boundPort)
            for byte in "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc".utf8 {
                try client.send([byte])
            }
            #expect(try client.readResponse().text == "abc")
        }
    }

    @Test func webSocketOversizeMessageGets1009() throws {
        try withServer({ $0.maxWebSocketMessageBytes = 1000 }) { server, service in
            let client = try TestClient(port: server.boundPort)
            #expect(try client.upgrade(path: "/ws").status == 101)
            try client.sendFrame(.binary, [UInt8](repeating: 1, count: 1001))
            guard case .close(let code, _) = try client.readFrame() else {
                Issue.record("expected a close frame")
                return
            }
            #expect(code == 1009)
            #expect(eventually { service.handler.closeCodes.withLock { $0 } == [-1] })
        }
    }

    @Test func connectionsAbovePerAddressLimitAreClosed() throws {
        try withServer({ $0.maxConnectionsPerAddress = 2; $0.loopCount = 1 }) { server, _ in
            let first = try TestClient(port: server.boundPort)
            var second: TestClient? = try TestClient(port: server.boundPort)
            try first.send("GET /first HTTP/1.1\r\nHost: x\r\n\r\n")
            #expect(try first.readResponse().text == "/first")
            let third = try TestClient(port: server.boundPort)
            #expect(try third.readsEndOfStream())

            // Closing one frees its slot for the next connection from the same address. The client closes its
            // end too, as real clients do; otherwise the server waits out its close timeout before releasing.
            try second?.send("GET /second HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            #expect(try second?.readResponse().text == "/second")
            #expect(try second?.readsEndOfStream() == true)
            second = nil
            #expect(eventually {
                guard let fourth = try? TestClient(port: server.boundPort),
                      (try? fourth.send("GET /fourth HTTP/1.1\r\nHost: x\r\n\r\n")) != nil else { return false }
                return (try? fourth.readResponse().text) == "/fourth"
            })
        }
    }

    @Test func webSocketOversizeFrameGets1009() throws {
        try withServer({ $0.maxWebSocketFrameBytes = 100; $0.maxWebSocketMessageBytes = 1000 }) { server, service in
            let client = try TestClient(port: server.boundPort)
            #expect(try client.upgrade(path: "/ws").status == 101)
            try client.sendFrame(.binary, [UInt8](repeating: 1, count: 101))
            guard case .close(let code, _) = try client.readFrame() else {
                Issue.record("expected a close frame")
                return
            }
            #expect(code == 1009)
            #expect(eventually { service.handler.closeCodes.withLock { $0 } == [-1] })
        }
    }
}
