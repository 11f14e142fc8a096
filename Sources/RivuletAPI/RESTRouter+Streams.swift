import RivuletCore

extension RESTRouter {
    /// Routes the stream endpoints under `/_fabric/{f}/_api/streams`, with every alias that `RESTPath` folds in.
    ///
    /// In the first segment, the fixed words `ttl`, `clearbacklog`, `subscription`, `unsubscribe` and `persistent` win
    /// over stream names. Per-stream calls use prefixed names (`c8locals.x`), so only create can meet such a clash.
    func routeStreams(_ call: RESTCall) throws {
        let fabric = try call.fabric()
        let scope = StreamScopeContext(tenant: call.principal.tenant, fabric: fabric)
        let rest = Array(call.segments.dropFirst())
        switch rest.count {
        case 0:
            try Self.require(call, "GET")
            try listStreams(call, scope, filter: try RESTQuery.bool(call.request, "global").map(Self.scope(global:)))
        case 1:
            try routeStreamsWord(call, scope, rest[0])
        case 2:
            try routeStreamsPair(call, scope, rest[0], rest[1])
        case 3 where rest[1] == "subscriptions":
            try Self.require(call, "DELETE")
            try deleteSubscription(call, scope, topic: rest[0], subscription: rest[2])
        case 3 where rest[1] == "expiry":
            try Self.require(call, "POST")
            let seconds = try RESTQuery.count(rest[2], name: "expiry seconds")
            let address = try scope.address(rest[0])
            try perform(call.exchange) { [engine] in
                try engine.expireMessages(address, olderThanSeconds: seconds)
                return .emptyObject
            }
        default:
            throw APIError.routeNotFound(call.method, call.request.path)
        }
    }

    private func routeStreamsWord(_ call: RESTCall, _ scope: StreamScopeContext, _ word: String) throws {
        switch (word, call.method) {
        case ("persistent", "GET"):
            try listStreams(call, scope, filter: try Self.legacyScopeFilter(call))
        case ("ttl", "GET"):
            try perform(call.exchange) { [engine] in .int(engine.messageTTL(tenant: scope.tenant, fabric: scope.fabric)) }
        case ("clearbacklog", "POST"):
            // NOTE: because of this route, REST cannot create a stream named `clearbacklog`; WebSocket auto-creation can.
            try clearBacklog(call, scope, subscription: nil)
        case (_, "POST"):
            try createStream(call, scope, name: word)
        case (_, "DELETE"):
            let address = try scope.address(word)
            let force = try RESTQuery.bool(call.request, "force") ?? true
            try perform(call.exchange, status: 202) { [engine, logger] in
                try engine.deleteStream(address, force: force)
                logger.info("deleted stream", ["requestId": call.exchange.requestId, "stream": address.description])
                return .emptyObject
            }
        default:
            throw APIError.methodNotAllowed(call.method, call.request.path)
        }
    }

    private func routeStreamsPair(_ call: RESTCall, _ scope: StreamScopeContext, _ first: String, _ second: String) throws {
        switch first {
        case "subscription":
            try Self.require(call, "DELETE")
            try unsubscribeEverywhere(call, scope, subscription: second)
        case "unsubscribe":
            try Self.require(call, "POST")
            try unsubscribeEverywhere(call, scope, subscription: second)
        case "clearbacklog":
            try Self.require(call, "POST")
            try clearBacklog(call, scope, subscription: second)
        case "ttl":
            try Self.require(call, "POST")
            let seconds = try RESTQuery.count(second, name: "TTL seconds")
            try perform(call.exchange) { [engine] in
                try engine.setMessageTTL(tenant: scope.tenant, fabric: scope.fabric, seconds: seconds)
                return .emptyObject
            }
        default:
            try routeStreamAction(call, scope, topic: first, action: second)
        }
    }

    private func routeStreamAction(_ call: RESTCall, _ scope: StreamScopeContext, topic: String, action: String) throws {
        switch action {
        case "publish":
            try Self.require(call, "POST")
            try publish(call, address: try scope.address(topic))
        case "backlog":
            try Self.require(call, "GET")
            let address = try scope.address(topic)
            try perform(call.exchange) { [engine, configuration] in
                RESTStreamShapes.backlog(try engine.backlog(address), address: address, region: configuration.region)
            }
        case "stats":
            try Self.require(call, "GET")
            let address = try scope.address(topic)
            try perform(call.exchange) { [engine] in RESTStreamShapes.stats(try engine.stats(address)) }
        case "subscriptions":
            try Self.require(call, "GET")
            let address = try scope.address(topic)
            try perform(call.exchange) { [engine] in .array(try engine.subscriptions(address).map { .string($0) }) }
        case "presence":
            try Self.require(call, "GET")
            let address = try scope.address(topic)
            try perform(call.exchange) { [engine, configuration] in
                let stats = try engine.stats(address)
                let createdAt = engine.listStreams(tenant: address.tenant, fabric: address.fabric, scope: address.scope)
                    .first { $0.address == address }?.createdAt ?? 0
                return RESTStreamShapes.presence(stats, address: address, createdAt: createdAt, region: configuration.region)
            }
        default:
            throw APIError.routeNotFound(call.method, call.request.path)
        }
    }

    // MARK: Endpoints

    private func listStreams(_ call: RESTCall, _ scope: StreamScopeContext, filter: StreamScope?) throws {
        try perform(call.exchange) { [self, engine] in
            let streams = engine.listStreams(tenant: scope.tenant, fabric: scope.fabric, scope: filter)
                .filter { self.canSee(call.principal, fabric: scope.fabric, stream: $0.address.topic) }
                .sorted { $0.address.topic < $1.address.topic }
            return .array(streams.map { RESTStreamShapes.record($0) })
        }
    }

    /// Create takes the bare name; a leading `c8locals.`/`c8globals.` is stripped and then decides the scope.
    private func createStream(_ call: RESTCall, _ scope: StreamScopeContext, name: String) throws {
        let global = try RESTQuery.bool(call.request, "global")
        var bareName = name
        var streamScope = Self.scope(global: global ?? false)
        if let (prefixScope, bare) = StreamAddress.splitTopic(name) {
            if let global, Self.scope(global: global) != prefixScope {
                throw APIError.badParameter(
                    "stream name '\(name)' has the \(prefixScope.rawValue) prefix but global=\(global): drop the prefix or fix 'global'")
            }
            streamScope = prefixScope
            bareName = bare
        }
        if let problem = NameRules.streamNameProblem(bareName) { throw APIError.badParameter(problem) }
        let address = StreamAddress(tenant: scope.tenant, fabric: scope.fabric, scope: streamScope, name: bareName)
        try perform(call.exchange, status: 202) { [engine, logger] in
            try engine.createStream(address)
            logger.info("created stream", ["requestId": call.exchange.requestId, "stream": address.description])
            return .object([("stream-id", .string(address.topic))])
        }
    }

    /// Publishes the raw body, whatever its content type, and responds once the engine reports the message durable.
    private func publish(_ call: RESTCall, address: StreamAddress) throws {
        let payload = call.request.body
        guard payload.count <= configuration.maxPayloadBytes else {
            throw APIError.payloadTooLarge(
                "message of \(payload.count) bytes exceeds the limit of \(configuration.maxPayloadBytes) bytes")
        }
        try reserve(pendingEngineCalls, limit: Self.maxConcurrentEngineCalls, what: "stream operations")
        let exchange = call.exchange
        engine.publish(address, PublishRequest(payload: payload)) { [self] result in
            self.pendingEngineCalls.subtract(1, ordering: .relaxed)
            switch result {
            case .success: exchange.succeed(202, result: .emptyObject)
            case .failure(let error): exchange.fail(APIError(error))
            }
        }
    }

    private func deleteSubscription(_ call: RESTCall, _ scope: StreamScopeContext, topic: String, subscription: String) throws {
        let address = try scope.address(topic)
        if let problem = NameRules.subscriptionNameProblem(subscription) { throw APIError.badParameter(problem) }
        try perform(call.exchange) { [engine] in
            try engine.deleteSubscription(address, subscription: subscription)
            return .emptyObject
        }
    }

    /// `global` absent means both scopes, since SDKs disagree on its default.
    private func unsubscribeEverywhere(_ call: RESTCall, _ scope: StreamScopeContext, subscription: String) throws {
        if let problem = NameRules.subscriptionNameProblem(subscription) { throw APIError.badParameter(problem) }
        let filter = try RESTQuery.bool(call.request, "global").map(Self.scope(global:))
        try perform(call.exchange) { [engine] in
            try engine.unsubscribeEverywhere(tenant: scope.tenant, fabric: scope.fabric, scope: filter, subscription: subscription)
            return .emptyObject
        }
    }

    private func clearBacklog(_ call: RESTCall, _ scope: StreamScopeContext, subscription: String?) throws {
        if let subscription, let problem = NameRules.subscriptionNameProblem(subscription) {
            throw APIError.badParameter(problem)
        }
        let filter = try RESTQuery.bool(call.request, "global").map(Self.scope(global:))
        try perform(call.exchange) { [engine] in
            try engine.clearBacklog(tenant: scope.tenant, fabric: scope.fabric, scope: filter, subscription: subscription)
            return .emptyObject
        }
    }

    // MARK: Helpers

    static func scope(global: Bool) -> StreamScope { global ? .global : .local }

    /// Returns the scope filter of the legacy `GET /streams/persistent?local=`: `global` wins when present, else `local` decides.
    private static func legacyScopeFilter(_ call: RESTCall) throws(APIError) -> StreamScope? {
        if let global = try RESTQuery.bool(call.request, "global") { return scope(global: global) }
        return try RESTQuery.bool(call.request, "local").map { $0 ? .local : .global }
    }
}

/// The tenant and fabric of a stream call, and how a topic in the path becomes an address.
struct StreamScopeContext: Sendable {
    let tenant: String
    let fabric: String

    /// Resolves a prefixed topic; the prefix decides the scope and the `global` parameter is ignored.
    /// - Throws: `APIError.badParameter` for a name that breaks the stream name rules, and
    ///   `APIError.streamNotFound` for a valid name without a `c8locals.`/`c8globals.` prefix.
    func address(_ topic: String) throws(APIError) -> StreamAddress {
        // NOTE: collection streams (bare names) do not exist yet, so a bare name is always unknown.
        guard let address = StreamAddress(tenant: tenant, fabric: fabric, topic: topic) else {
            if let problem = NameRules.streamNameProblem(topic) { throw .badParameter(problem) }
            throw .streamNotFound(topic)
        }
        if let problem = NameRules.streamNameProblem(address.name) { throw .badParameter(problem) }
        return address
    }
}
