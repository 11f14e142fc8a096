import RivuletAuth
import RivuletCore
import RivuletHTTP

// TODO: placeholder until the REST routes land; answers 501 for every path.
final class RESTRouter: Sendable {
    init(configuration: APIConfiguration, engine: any StreamEngine, auth: AuthService, logger: Logger) {}

    func handle(_ request: HTTPRequest, responder: any HTTPResponder) {
        responder.respond(HTTPResponse(status: 501))
    }
}
