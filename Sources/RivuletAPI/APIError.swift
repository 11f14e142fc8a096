import RivuletCore

/// One entry of the error catalogue: HTTP status, stable `errorNum` and a message naming the value involved.
///
/// `errorNum` values are part of the API: never reuse or renumber one. Numbers below 2000 follow the ArangoDB
/// codes GDN inherited (jsC8 checks 1228 for "fabric not found"); Rivulet's own start at 21000.
public struct APIError: Error, Sendable, Equatable {
    public var status: Int
    public var errorNum: Int
    public var message: String

    public init(status: Int, errorNum: Int, message: String) {
        self.status = status
        self.errorNum = errorNum
        self.message = message
    }

    public static func badParameter(_ message: String) -> APIError { APIError(status: 400, errorNum: 400, message: message) }
    public static func unauthorized(_ message: String = "not authorized: send 'Authorization: bearer <jwt>' or 'apikey <key>'") -> APIError {
        APIError(status: 401, errorNum: 401, message: message)
    }
    public static func forbidden(_ message: String) -> APIError { APIError(status: 403, errorNum: 11, message: message) }
    public static func routeNotFound(_ method: String, _ path: String) -> APIError {
        APIError(status: 404, errorNum: 404, message: "no route for \(method) \(path)")
    }
    public static func methodNotAllowed(_ method: String, _ path: String) -> APIError {
        APIError(status: 405, errorNum: 405, message: "method \(method) is not allowed on \(path)")
    }
    public static func fabricNotFound(_ fabric: String) -> APIError {
        APIError(status: 404, errorNum: 1228, message: "fabric '\(fabric)' not found")
    }
    public static func tenantNotFound(_ tenant: String) -> APIError {
        APIError(status: 404, errorNum: 21010, message: "tenant '\(tenant)' not found")
    }
    public static func payloadTooLarge(_ message: String) -> APIError { APIError(status: 413, errorNum: 21008, message: message) }
    public static func tooManyRequests(_ message: String) -> APIError { APIError(status: 429, errorNum: 21009, message: message) }
    public static func internalError() -> APIError {
        APIError(status: 500, errorNum: 4, message: "internal server error; the server log has the details for this request id")
    }

    /// Maps an engine failure to its catalogue entry.
    public init(_ error: EngineError) {
        switch error {
        case .streamNotFound(let text): self.init(status: 404, errorNum: 21001, message: text)
        case .streamExists(let text): self.init(status: 409, errorNum: 21002, message: text)
        case .subscriptionNotFound(let text): self.init(status: 404, errorNum: 21003, message: text)
        case .subscriptionHasConsumers(let text): self.init(status: 412, errorNum: 21004, message: text)
        case .consumerBusy(let text): self.init(status: 409, errorNum: 21005, message: text)
        case .producerBusy(let text): self.init(status: 409, errorNum: 21006, message: text)
        case .streamHasClients(let text): self.init(status: 412, errorNum: 21007, message: text)
        case .payloadTooLarge(let text): self.init(status: 413, errorNum: 21008, message: text)
        case .invalidArgument(let text): self.init(status: 400, errorNum: 400, message: text)
        case .notAllowed(let text): self.init(status: 400, errorNum: 21011, message: text)
        case .unavailable(let text): self.init(status: 503, errorNum: 21012, message: text)
        case .storageFailure(let text): self.init(status: 500, errorNum: 21013, message: text)
        }
    }
}
