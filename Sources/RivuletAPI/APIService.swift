import RivuletAuth
import RivuletCore
import RivuletHTTP

/// The GDN surface behind the transport: WebSocket endpoints under `/_ws/`, REST routes everywhere else.
public final class APIService: HTTPService {
    private let rest: RESTRouter
    private let sockets: WebSocketGateway

    public init(configuration: APIConfiguration, engine: any StreamEngine, auth: AuthService, logger: Logger) {
        self.rest = RESTRouter(configuration: configuration, engine: engine, auth: auth, logger: logger.with(["component": "rest"]))
        self.sockets = WebSocketGateway(configuration: configuration, engine: engine, auth: auth, logger: logger.with(["component": "websocket"]))
    }

    public func handle(_ request: HTTPRequest, responder: any HTTPResponder) {
        if PathNormalization.collapseSlashes(request.path).hasPrefix("/_ws/") {
            sockets.handle(request, responder: responder)
        } else {
            rest.handle(request, responder: responder)
        }
    }
}

/// Path clean-up shared by REST and WebSocket routing.
public enum PathNormalization {
    /// Collapses repeated slashes (`//_ws/ws` becomes `/_ws/ws`); the docs' examples produce them.
    public static func collapseSlashes(_ path: String) -> String {
        guard path.contains("//") else { return path }
        var result = ""
        result.reserveCapacity(path.count)
        var previousWasSlash = false
        for character in path {
            if character == "/" {
                if previousWasSlash { continue }
                previousWasSlash = true
            } else {
                previousWasSlash = false
            }
            result.append(character)
        }
        return result
    }
}
