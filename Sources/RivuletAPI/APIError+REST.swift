/// Catalogue entries only the REST routes use.
extension APIError {
    public static func invalidCredentials() -> APIError {
        APIError(status: 401, errorNum: 401, message: "login failed: wrong email, tenant, username or password")
    }
    public static func regionNotFound(_ name: String) -> APIError {
        APIError(status: 404, errorNum: 21014, message: "region '\(name)' not found")
    }
    public static func streamNotFound(_ name: String) -> APIError {
        APIError(status: 404, errorNum: 21001, message: "stream '\(name)' not found: use the full name such as 'c8globals.\(name)' or 'c8locals.\(name)'")
    }
}
