import RivuletCore

extension Connection {
    /// Parses and dispatches whole requests while the pipeline has room.
    func parseRequests() {
        while mode == .http && !stopParsing && !awaitingUpgrade && outstandingRequestCount < Self.maxPipelinedRequests {
            let parsed: ParsedRequest?
            do {
                parsed = try parser.parse(&input)
            } catch {
                reject(error)
                return
            }
            guard let parsed else { break }
            requestStartedAt = nil
            dispatch(parsed)
        }
        if mode == .http && requestStartedAt == nil && (!parser.isIdle || !input.isEmpty) {
            requestStartedAt = loop.now
        }
        sendContinueIfReady()
    }

    /// Sends `100 Continue` once every earlier response is out, so the interim response cannot land in the
    /// middle of another response.
    private func sendContinueIfReady() {
        guard parser.pendingContinue, outstandingRequestCount == 0, mode == .http else { return }
        parser.pendingContinue = false
        output.append(contentsOf: "HTTP/1.1 100 Continue\r\n\r\n".utf8)
        loop.markTouched(self)
    }

    private func reject(_ error: HTTPParseError) {
        logger.debug("request rejected", [
            "connection": "\(id)", "remote": remoteAddress, "status": "\(error.status)", "reason": error.reason,
        ])
        stopParsing = true
        input.consume(input.count)
        let sequence = nextRequestSequence
        nextRequestSequence += 1
        requests[sequence] = RequestInfo(isHead: false, keepAlive: false, webSocketKey: nil)
        complete(sequence, .response(Self.errorResponse(status: error.status, message: error.reason)))
    }

    private func dispatch(_ parsed: ParsedRequest) {
        let head = parsed.head
        let sequence = nextRequestSequence
        nextRequestSequence += 1
        var info = RequestInfo(isHead: head.method == "HEAD", keepAlive: head.keepAlive, webSocketKey: nil)
        if !head.keepAlive { stopParsing = true }

        switch head.webSocket {
        case .none:
            break
        case .valid(let key):
            info.webSocketKey = key
            // Bytes after an upgrade request may already be WebSocket frames, so parsing waits for the service's decision.
            awaitingUpgrade = true
        case .unsupportedVersion:
            requests[sequence] = info
            var response = Self.errorResponse(status: 426, message: "unsupported WebSocket version: use 13")
            response.headers.append(("Sec-WebSocket-Version", "13"))
            complete(sequence, .response(response))
            return
        case .invalid(let reason):
            requests[sequence] = info
            complete(sequence, .response(Self.errorResponse(status: 400, message: reason)))
            return
        }
        requests[sequence] = info

        let request = HTTPRequest(
            method: head.method, target: head.target, headers: head.headers, body: parsed.body,
            remoteAddress: remoteAddress, connectionId: id, isWebSocketUpgrade: info.webSocketKey != nil)
        loop.context.service.handle(request, responder: ConnectionResponder(connection: self, sequence: sequence))
    }

    /// Records the completion of request `sequence` and writes every completion that is next in request order.
    /// Loop thread only. Completions for a connection that closed meanwhile are dropped.
    func complete(_ sequence: UInt64, _ completion: Completion) {
        guard mode == .http, requests[sequence] != nil, completions[sequence] == nil else { return }
        completions[sequence] = completion
        writeReadyResponses()
        loop.markTouched(self)
    }

    private func writeReadyResponses() {
        while mode == .http, let completion = completions.removeValue(forKey: nextResponseSequence) {
            let info = requests.removeValue(forKey: nextResponseSequence)!
            nextResponseSequence += 1
            lastActivityAt = loop.now
            let isLast = outstandingRequestCount == 0
            switch completion {
            case .response(let response):
                writeResponse(response, info: info, isLast: isLast)
            case .upgrade(let handler, let headers):
                guard let key = info.webSocketKey else {
                    let response = Self.errorResponse(status: 400, message: "request is not a WebSocket upgrade")
                    writeResponse(response, info: info, isLast: isLast)
                    continue
                }
                HTTPResponseEncoder.appendUpgrade(
                    acceptValue: WebSocketFrameEncoder.acceptValue(forKey: key), headers: headers, to: &output)
                becomeWebSocket(handler)
                return
            }
        }
        guard mode == .http else { return }
        if stopParsing && outstandingRequestCount == 0 && (peerClosedInput || loop.isShuttingDown) {
            closeAfterFlush = true
        }
        sendContinueIfReady()
        if !input.isEmpty { processInput() }
    }

    private func writeResponse(_ response: HTTPResponse, info: RequestInfo, isLast: Bool) {
        let serviceCloses = response.headers.contains { name, value in
            name.lowercased() == "connection" && value.lowercased().contains("close")
        }
        let closing = !info.keepAlive || serviceCloses || (isLast && (peerClosedInput || loop.isShuttingDown))
        HTTPResponseEncoder.append(
            response, keepAlive: !closing, isHead: info.isHead, date: loop.currentDate(), to: &output)
        if info.webSocketKey != nil {
            // The service refused the upgrade; the connection stays HTTP.
            awaitingUpgrade = false
        }
        if closing {
            stopParsing = true
            closeAfterFlush = true
            closeReason = info.keepAlive ? "closed after last response" : "request sent Connection: close"
            completions = [:]
            requests = [:]
            nextRequestSequence = nextResponseSequence
        }
    }

    /// Builds a small JSON error response in the shape of the API's error envelope.
    static func errorResponse(status: Int, message: String) -> HTTPResponse {
        var escaped = ""
        for scalar in message.unicodeScalars {
            switch scalar {
            case "\"": escaped += "\\\""
            case "\\": escaped += "\\\\"
            default:
                if scalar.value < 0x20 {
                    escaped += "\\u00" + (scalar.value < 0x10 ? "0" : "") + String(scalar.value, radix: 16)
                } else {
                    escaped.unicodeScalars.append(scalar)
                }
            }
        }
        let body = "{\"error\":true,\"code\":\(status),\"errorMessage\":\"\(escaped)\",\"errorNum\":\(status)}"
        return HTTPResponse(status: status, headers: [("Content-Type", "application/json")], body: Array(body.utf8))
    }
}
