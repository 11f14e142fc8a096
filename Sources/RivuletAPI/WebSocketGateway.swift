import Foundation
import RivuletAuth
import RivuletCore
import RivuletHTTP

/// The Pulsar WebSocket v2 endpoints under `/_ws/ws/v2/{producer|consumer|reader}/persistent/...`.
///
/// A handshake that cannot succeed is refused before the upgrade with an HTTP status and a GDN error body, so
/// the producer, consumer or reader is opened on the engine first and the socket is accepted only after that
/// worked. The path is checked first. Consumers then check the query before credentials, while producers and
/// readers check credentials before the query, as Pulsar does.
final class WebSocketGateway: Sendable {
    private let configuration: APIConfiguration
    private let engine: any StreamEngine
    private let auth: any Authenticating
    private let logger: Logger
    private let nowMillis: @Sendable () -> Int64
    /// Lets the consumers of every subscription share the frame of a message instead of each encoding it.
    private let frameCache = DeliveryFrameCache()

    convenience init(configuration: APIConfiguration, engine: any StreamEngine, auth: any Authenticating, logger: Logger) {
        self.init(configuration: configuration, engine: engine, auth: auth, logger: logger, nowMillis: WebSocketGateway.wallClockMillis)
    }

    /// `nowMillis` is the clock that turns `deliverAfterMs` into a delivery time; tests pass a fixed one.
    init(configuration: APIConfiguration, engine: any StreamEngine, auth: any Authenticating, logger: Logger,
         nowMillis: @escaping @Sendable () -> Int64) {
        self.configuration = configuration
        self.engine = engine
        self.auth = auth
        self.logger = logger
        self.nowMillis = nowMillis
    }

    /// Handles one request under `/_ws/` with a refusal or an upgrade to a producer, consumer or reader socket.
    /// Runs on the connection's event-loop thread.
    func handle(_ request: HTTPRequest, responder: any HTTPResponder) {
        var connectionLogger = logger.with(["connection": "\(request.connectionId)"])
        do throws(APIError) {
            let route = try WebSocketRoute.parse(path: request.path)
            connectionLogger = connectionLogger.with(routeMetadata(route))
            guard request.isWebSocketUpgrade else {
                throw APIError.badParameter("\(request.path) is a WebSocket endpoint: send a GET with 'Upgrade: websocket'")
            }
            let handler = try open(route, request: request, logger: connectionLogger)
            // NOTE: the engine handle is released in webSocketDidClose; this relies on the transport calling it
            // even when an accepted upgrade never reaches webSocketDidOpen.
            responder.upgrade(to: handler, headers: [])
        } catch {
            // The path only, never the target: the query can carry an OTP or a token.
            connectionLogger.info("WebSocket handshake rejected", [
                "status": "\(error.status)", "reason": error.message, "path": request.path,
            ])
            responder.respond(WebSocketGateway.refusal(error))
        }
    }

    private func open(_ route: WebSocketRoute, request: HTTPRequest, logger: Logger) throws(APIError) -> any WebSocketHandler {
        let query = WebSocketQuery(request)
        switch route.role {
        case .producer:
            try authorize(request, query: query, route: route)
            return try openProducer(route.address, settings: try query.producerSettings(), request: request, logger: logger)
        case .consumer:
            let options = try query.consumerOptions(
                subscription: route.subscription ?? "", maxReceiverQueueSize: configuration.maxReceiverQueueSize)
            try authorize(request, query: query, route: route)
            return try openConsumer(route.address, options: options, request: request, logger: logger)
        case .reader:
            try authorize(request, query: query, route: route)
            let settings = try query.readerSettings(maxReceiverQueueSize: configuration.maxReceiverQueueSize)
            return try openReader(route.address, settings: settings, logger: logger)
        }
    }

    private func openProducer(_ address: StreamAddress, settings: ProducerSettings, request: HTTPRequest,
                              logger: Logger) throws(APIError) -> any WebSocketHandler {
        do {
            let producer = try engine.openProducer(
                address, name: settings.producerName, remoteAddress: request.remoteAddress,
                createIfMissing: configuration.autoCreateStreams)
            return WebSocketProducerHandler(
                producer: producer, maxPayloadBytes: configuration.maxPayloadBytes, nowMillis: nowMillis,
                logger: logger.with(["producer": producer.producerName]))
        } catch {
            throw APIError(error)
        }
    }

    private func openConsumer(_ address: StreamAddress, options: ConsumerOptions, request: HTTPRequest,
                              logger: Logger) throws(APIError) -> any WebSocketHandler {
        let handler = WebSocketConsumerHandler(logger: logger, frameCache: frameCache)
        do {
            let consumer = try engine.subscribe(
                address, options: options, remoteAddress: request.remoteAddress,
                createIfMissing: configuration.autoCreateStreams, sink: handler)
            handler.attach(consumer)
            return handler
        } catch {
            throw APIError(error)
        }
    }

    private func openReader(_ address: StreamAddress, settings: ReaderSettings, logger: Logger) throws(APIError) -> any WebSocketHandler {
        let handler = WebSocketReaderHandler(logger: logger)
        do {
            let reader = try engine.openReader(
                address, start: settings.start, receiverQueueSize: settings.receiverQueueSize, sink: handler)
            handler.attach(reader)
            return handler
        } catch {
            throw APIError(error)
        }
    }

    /// Checks credentials: the `Authorization` header, else `?otp=` (redeemed here, once), else `?token=`
    /// with or without its `Bearer ` prefix. 401 without valid credentials, 403 for another tenant's stream.
    /// Then the fabric must exist (404) and the stream level must allow the role (403): producers need `rw` or
    /// `wo`, consumers and readers `rw` or `ro`, and creating a missing stream needs fabric level `rw`.
    private func authorize(_ request: HTTPRequest, query: WebSocketQuery, route: WebSocketRoute) throws(APIError) {
        let tenant = route.address.tenant
        let principal: Principal?
        if let header = request.headers["Authorization"] {
            principal = auth.authenticate(authorization: header)
        } else if let otp = query.value("otp") {
            principal = auth.redeemOneTimePassword(otp)
        } else if let token = query.value("token") {
            principal = auth.authenticate(authorization: WebSocketGateway.authorizationValue(token: token))
        } else {
            throw APIError.unauthorized(
                "credentials are missing: send 'Authorization: bearer <jwt>' or 'apikey <key>', or the query parameter otp")
        }
        guard let principal else {
            throw APIError.unauthorized("Failed to authenticate: the credentials are invalid or expired")
        }
        guard principal.tenant == tenant else {
            throw APIError.forbidden("Not authorized: tenant '\(principal.tenant)' cannot use streams of tenant '\(tenant)'")
        }
        try checkAccess(principal, route: route)
    }

    private func checkAccess(_ principal: Principal, route: WebSocketRoute) throws(APIError) {
        let address = route.address
        guard auth.fabricExists(tenant: address.tenant, fabric: address.fabric) else { throw .fabricNotFound(address.fabric) }
        let level = auth.streamAccess(principal, fabric: address.fabric, stream: address.topic)
        let allowed = route.role == .producer ? level.canPublish : level.canConsume
        guard allowed else {
            let needed = route.role == .producer ? "'rw' or 'wo'" : "'rw' or 'ro'"
            throw .forbidden("Not authorized: \(route.role.rawValue) on '\(address.topic)' needs stream level \(needed)")
        }
        if configuration.autoCreateStreams, route.role != .reader, !engine.streamExists(address),
            auth.fabricAccess(principal, fabric: address.fabric) != .readWrite {
            throw .forbidden("Not authorized: stream '\(address.topic)' does not exist, and creating it needs fabric level 'rw'")
        }
    }

    /// Turns a `token` query value into an `Authorization` value: a bare token is a bearer JWT, and a value
    /// that already names its scheme (`Bearer ...`, `apikey ...`) is taken as it is.
    static func authorizationValue(token: String) -> String {
        let lowered = token.lowercased()
        if lowered.hasPrefix("bearer ") || lowered.hasPrefix("apikey ") { return token }
        return "bearer " + token
    }

    private func routeMetadata(_ route: WebSocketRoute) -> KeyValuePairs<String, String> {
        [
            "role": route.role.rawValue, "tenant": route.address.tenant, "fabric": route.address.fabric,
            "stream": route.address.topic, "subscription": route.subscription ?? "",
        ]
    }

    /// Builds the refusal response, whose body is `{"error":true,"code":N,"errorMessage":...,"errorNum":N}`.
    static func refusal(_ error: APIError) -> HTTPResponse {
        var writer = PulsarJSONWriter()
        writer.addBool("error", true)
        writer.addInteger("code", error.status)
        writer.addString("errorMessage", error.message)
        writer.addInteger("errorNum", error.errorNum)
        return HTTPResponse(status: error.status, headers: [("Content-Type", "application/json")], body: writer.finish())
    }

    static let wallClockMillis: @Sendable () -> Int64 = {
        Int64((Date().timeIntervalSince1970 * 1000).rounded(.down))
    }
}
