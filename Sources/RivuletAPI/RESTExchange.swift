import RivuletCore
import RivuletHTTP

/// One REST request on its way to a response: the request, its id, and the responder it must complete once.
struct RESTExchange: Sendable {
    let request: HTTPRequest
    /// Unique per request; returned in `x-gdn-requestid` and put in every log line about the request.
    let requestId: String
    let region: String
    let responder: any HTTPResponder
    let logger: Logger

    /// Sends `{"error":false,"code":status,"result":result}`.
    func succeed(_ status: Int = 200, result: RESTJSON) {
        respond(status: status, body: .object([("error", false), ("code", .int(status)), ("result", result)]))
    }

    /// Sends the success envelope with `fields` at the top level, for fields that SDKs read outside `result`.
    func succeed(_ status: Int = 200, fields: [(String, RESTJSON)]) {
        respond(status: status, body: .object([("error", false), ("code", .int(status))] + fields))
    }

    /// Sends `{"error":true,"code":status,"errorMessage":...,"errorNum":...}`; every 429 carries `Retry-After`.
    func fail(_ error: APIError, extraHeaders: [(String, String)] = []) {
        let body: RESTJSON = .object([
            ("error", true), ("code", .int(error.status)),
            ("errorMessage", .string(error.message)), ("errorNum", .int(error.errorNum)),
        ])
        logger.debug("request failed", ["requestId": requestId, "status": String(error.status), "errorNum": String(error.errorNum)])
        var headers = extraHeaders
        if error.status == 429, !headers.contains(where: { $0.0.lowercased() == "retry-after" }) {
            // A 429 without its own wait comes from a concurrency limit, which frees a slot when a running call ends.
            headers.append(("retry-after", "1"))
        }
        respond(status: error.status, body: body, extraHeaders: headers)
    }

    /// Sends `body` as is, with the headers every REST response carries.
    func respond(status: Int, body: RESTJSON, extraHeaders: [(String, String)] = []) {
        responder.respond(HTTPResponse(status: status, headers: standardHeaders + extraHeaders, body: body.encoded))
    }

    /// Reports an unexpected failure as a 500 and logs it with the request id.
    func failUnexpectedly(_ error: any Error) {
        logger.error("request failed unexpectedly", ["requestId": requestId, "error": String(describing: error)])
        fail(.internalError())
    }

    var standardHeaders: [(String, String)] {
        [
            ("content-type", "application/json"),
            ("x-gdn-requestid", requestId),
            ("x-gdn-region", region),
            // Bearer tokens travel in a header, never in cookies, so any origin may call the API (browser examples do).
            ("access-control-allow-origin", "*"),
            ("access-control-expose-headers", "x-gdn-requestid, x-gdn-region"),
        ]
    }
}
