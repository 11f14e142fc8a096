import RivuletHTTP

/// Query parameter parsing with GDN's lenient forms.
enum RESTQuery {
    /// Parses `true`/`false` in any case and `1`/`0`; nil when the parameter is absent.
    /// - Throws: `APIError.badParameter` for any other value.
    static func bool(_ request: HTTPRequest, _ name: String) throws(APIError) -> Bool? {
        guard let value = request.queryValue(name) else { return nil }
        switch value.lowercased() {
        case "true", "1": return true
        case "false", "0": return false
        default: throw .badParameter("query parameter '\(name)' is '\(value)': use true, false, 1 or 0")
        }
    }

    /// Parses a non-negative whole number from a path segment.
    static func count(_ text: String, name: String) throws(APIError) -> Int {
        guard let value = Int(text), value >= 0 else {
            throw .badParameter("\(name) '\(text)' is invalid: use a whole number of 0 or more")
        }
        return value
    }
}
