import RivuletAuth
import RivuletCore
import RivuletHTTP

// TODO: placeholder until the WebSocket endpoints land; answers 501 for every path.
final class WebSocketGateway: Sendable {
    init(configuration: APIConfiguration, engine: any StreamEngine, auth: any Authenticating, logger: Logger) {}

    func handle(_ request: HTTPRequest, responder: any HTTPResponder) {
        responder.respond(HTTPResponse(status: 501))
    }
}
