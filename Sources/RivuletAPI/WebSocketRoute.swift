import RivuletCore
import RivuletHTTP

/// The three Pulsar WebSocket v2 endpoints.
public enum WebSocketRole: String, Sendable, CaseIterable {
    case producer
    case consumer
    case reader
}

/// A parsed `/_ws/ws/v2/{role}/persistent/{tenant}/{namespace}/{topic}[/{subscription}]` path.
public struct WebSocketRoute: Sendable, Equatable {
    public var role: WebSocketRole
    public var address: StreamAddress
    /// The subscription name; set exactly when `role` is `.consumer`.
    public var subscription: String?

    public init(role: WebSocketRole, address: StreamAddress, subscription: String?) {
        self.role = role
        self.address = address
        self.subscription = subscription
    }

    /// The consumer path shape, for messages that tell a client what to send.
    static let consumerPattern = "/_ws/ws/v2/consumer/persistent/{tenant}/{namespace}/{topic}/{subscription}"

    /// Parses the raw (not yet percent-decoded) request path.
    ///
    /// Repeated slashes are collapsed and the `/_ws` prefix is stripped. Topic and subscription are
    /// percent-decoded with `+` read as a space, as Java's URLDecoder does; tenant and namespace are taken as
    /// they are. Throws 404 for a path that names no endpoint and 400 for a malformed endpoint path.
    public static func parse(path: String) throws(APIError) -> WebSocketRoute {
        var segments = PathNormalization.collapseSlashes(path).split(separator: "/", omittingEmptySubsequences: true)
        if segments.first == "_ws" { segments.removeFirst() }
        guard segments.count >= 3, segments[0] == "ws", segments[1] == "v2",
            let role = WebSocketRole(rawValue: String(segments[2]))
        else {
            throw APIError.routeNotFound("GET", path)
        }
        guard segments.count >= 4 else { throw APIError.badParameter("Invalid topic name format: the path names no stream") }
        guard segments[3] == "persistent" else {
            throw APIError.badParameter("Invalid topic name format: domain '\(segments[3])' is not supported; use 'persistent'")
        }
        guard segments.count >= 7 else {
            throw APIError.badParameter(
                "Invalid topic name format: use /_ws/ws/v2/\(role.rawValue)/persistent/{tenant}/{namespace}/{topic}")
        }
        let tenant = String(segments[4])
        let namespace = String(segments[5])
        let topic = PercentDecoding.decode(segments[6], plusAsSpace: true)
        let extra = segments.dropFirst(7)
        let subscription = try subscriptionSegment(role: role, extra: extra, tenant: tenant, namespace: namespace,
                                                   topic: segments[6])
        let address = try streamAddress(tenant: tenant, namespace: namespace, topic: topic)
        return WebSocketRoute(role: role, address: address, subscription: subscription)
    }

    private static func subscriptionSegment(
        role: WebSocketRole, extra: ArraySlice<Substring>, tenant: String, namespace: String, topic: Substring
    ) throws(APIError) -> String? {
        guard role == .consumer else {
            guard extra.isEmpty else {
                // Producers and readers take no subscription: a client that adds one meant to consume.
                let consumerPath = "/_ws/ws/v2/consumer/persistent/\(tenant)/\(namespace)/\(topic)/\(extra.joined(separator: "/"))"
                throw APIError.badParameter(
                    "Invalid topic name format: the \(role.rawValue) path takes no subscription; "
                        + "to consume, connect to \(consumerPath)")
            }
            return nil
        }
        guard let raw = extra.first else { throw APIError.badParameter("Empty subscription name") }
        guard extra.count == 1 else {
            throw APIError.badParameter("Invalid topic name format: use \(consumerPattern)")
        }
        let subscription = PercentDecoding.decode(raw, plusAsSpace: true)
        if let problem = NameRules.subscriptionNameProblem(subscription) {
            throw APIError.badParameter(problem)
        }
        return subscription
    }

    private static func streamAddress(tenant: String, namespace: String, topic: String) throws(APIError) -> StreamAddress {
        let scope: StreamScope
        let fabric: String
        if namespace.hasPrefix(StreamScope.global.namespacePrefix + ".") {
            scope = .global
            fabric = String(namespace.dropFirst(StreamScope.global.namespacePrefix.count + 1))
        } else if namespace.hasPrefix(StreamScope.local.namespacePrefix + ".") {
            scope = .local
            fabric = String(namespace.dropFirst(StreamScope.local.namespacePrefix.count + 1))
        } else {
            throw APIError.badParameter(
                "namespace '\(namespace)' is invalid: use c8global.{fabric} or c8local.{fabric}")
        }
        guard !fabric.isEmpty else {
            throw APIError.badParameter("namespace '\(namespace)' is invalid: the fabric name is empty")
        }
        if let problem = NameRules.tenantNameProblem(tenant) { throw APIError.badParameter(problem) }
        if let problem = NameRules.fabricNameProblem(fabric) { throw APIError.badParameter(problem) }
        // NOTE: collection streams, whose topic has no prefix, are not served on the WebSocket paths yet.
        guard topic.hasPrefix(scope.topicPrefix) else {
            let bare = StreamAddress.splitTopic(topic)?.1 ?? topic
            throw APIError.badParameter(
                "topic '\(topic)' does not match namespace '\(namespace)': use '\(scope.topicPrefix)\(bare)'")
        }
        let name = String(topic.dropFirst(scope.topicPrefix.count))
        if let problem = NameRules.streamNameProblem(name) {
            throw APIError.badParameter(problem)
        }
        return StreamAddress(tenant: tenant, fabric: fabric, scope: scope, name: name)
    }
}
