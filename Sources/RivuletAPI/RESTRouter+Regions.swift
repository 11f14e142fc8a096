import RivuletCore

extension RESTRouter {
    /// `/datacenter/local`, `/datacenter/all`, `/datacenter/{name}` and `/datacenter/_tenant/{tenant}`.
    ///
    /// These answers are bare objects and arrays without the envelope, because jsC8, pyC8 and the docs' examples
    /// read `tags.url` and `[0].dcInfo` at the top level. Errors still use the error envelope.
    func routeDatacenter(_ call: RESTCall) throws {
        let rest = Array(call.segments.dropFirst())
        guard !rest.isEmpty, rest.count <= 2, rest.count == 1 || rest[0] == "_tenant" else {
            throw APIError.routeNotFound(call.method, call.request.path)
        }
        try Self.require(call, "GET")
        let exchange = call.exchange
        switch rest[0] {
        case "local":
            exchange.respond(status: 200, body: regionJSON())
        case "all":
            exchange.respond(status: 200, body: .array([regionJSON()]))
        case "_tenant":
            guard rest.count == 2 else { throw APIError.routeNotFound(call.method, call.request.path) }
            let tenant = rest[1]
            guard tenant == call.principal.tenant else {
                throw APIError.forbidden("tenant '\(tenant)' differs from your tenant '\(call.principal.tenant)'")
            }
            exchange.respond(status: 200, body: .array([
                .object([("tenant", .string(tenant)), ("dcInfo", .array([regionJSON()]))]),
            ]))
        case configuration.region:
            exchange.respond(status: 200, body: regionJSON())
        default:
            throw APIError.regionNotFound(rest[0])
        }
    }

    /// Returns this server's one region in GDN's data-centre shape.
    func regionJSON() -> RESTJSON {
        let url = configuration.advertiseURL
        let host = String(url.split(separator: ":", maxSplits: 1).first ?? Substring(url))
        return .object([
            ("_id", .string("_clusters/" + configuration.region)),
            ("_key", .string(configuration.region)),
            ("_rev", "1"),
            ("host", .string(host)),
            ("local", true),
            ("name", .string(configuration.region)),
            ("spot_region", false),
            ("status", 1),
            ("tags", .object([("api", .string("api-" + url)), ("url", .string(url))])),
            ("locationInfo", .object([
                ("city", ""), ("countrycode", ""), ("countryname", ""),
                ("latitude", .double(0)), ("longitude", .double(0)), ("url", .string(url)),
            ])),
        ])
    }

    /// Returns a fabric in the shape of `/database/current`, where `dcList` is a comma-separated string of region names.
    func fabricJSON(_ fabric: String, tenant: String) -> RESTJSON {
        .object([
            ("name", .string(fabric)),
            ("isSystem", .bool(fabric == "_system")),
            ("options", .object([
                ("dcList", .string(configuration.region)),
                ("associated_regions", .array([.string(configuration.region)])),
                ("clusters", .array([.string(configuration.region)])),
                ("spotDc", ""),
                ("status", "active"),
                ("tenant", .string(tenant)),
                ("realTime", false),
                ("metadata", .emptyObject),
            ])),
        ])
    }
}
