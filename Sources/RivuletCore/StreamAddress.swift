/// Whether a stream lives in one region (`c8local`) or is replicated to every region of its fabric (`c8global`).
public enum StreamScope: String, Sendable, Hashable, Codable {
    case local
    case global

    /// The WebSocket namespace prefix: `c8local` or `c8global` (singular), followed by `.{fabric}`.
    public var namespacePrefix: String { self == .global ? "c8global" : "c8local" }

    /// The topic prefix: `c8locals.` or `c8globals.` (plural, with the dot).
    public var topicPrefix: String { self == .global ? "c8globals." : "c8locals." }
}

/// The full address of a stream: tenant, fabric, scope and the bare name the user created.
///
/// The topic (`c8globals.orders`) is what every REST call after create and every WebSocket URL uses.
public struct StreamAddress: Hashable, Sendable, Codable, CustomStringConvertible {
    public var tenant: String
    public var fabric: String
    public var scope: StreamScope
    /// The name without its `c8locals.`/`c8globals.` prefix.
    public var name: String

    public init(tenant: String, fabric: String, scope: StreamScope, name: String) {
        self.tenant = tenant
        self.fabric = fabric
        self.scope = scope
        self.name = name
    }

    /// Builds an address from a prefixed topic name (`c8globals.orders`); returns nil without a known prefix.
    public init?(tenant: String, fabric: String, topic: String) {
        guard let (scope, name) = StreamAddress.splitTopic(topic) else { return nil }
        self.init(tenant: tenant, fabric: fabric, scope: scope, name: name)
    }

    /// `c8globals.orders` for a global stream named `orders`.
    public var topic: String { scope.topicPrefix + name }

    /// `c8global._system` for a global stream in fabric `_system`.
    public var namespace: String { scope.namespacePrefix + "." + fabric }

    /// `persistent://tenant/c8global.fabric/c8globals.name`, the Pulsar form.
    public var description: String { "persistent://\(tenant)/\(namespace)/\(topic)" }

    /// Splits `c8globals.x` or `c8locals.x` into scope and bare name.
    public static func splitTopic(_ topic: String) -> (StreamScope, String)? {
        if topic.hasPrefix(StreamScope.global.topicPrefix) {
            return (.global, String(topic.dropFirst(StreamScope.global.topicPrefix.count)))
        }
        if topic.hasPrefix(StreamScope.local.topicPrefix) {
            return (.local, String(topic.dropFirst(StreamScope.local.topicPrefix.count)))
        }
        return nil
    }
}

/// Name rules shared by every layer.
public enum NameRules {
    /// Maximum length of a bare stream name.
    public static let maxStreamNameLength = 230
    /// Maximum length of a subscription name.
    public static let maxSubscriptionNameLength = 240

    /// Returns nil when `name` is a valid bare stream name, else a message that names the value and the rule.
    ///
    /// A valid name has 1 to 230 characters, starts with a letter, then uses letters, digits, `.`, `_` or `-`,
    /// and never contains `..`.
    public static func streamNameProblem(_ name: String) -> String? {
        guard !name.isEmpty, name.utf8.count <= maxStreamNameLength else {
            return "stream name '\(printable(name))' is invalid: use 1 to \(maxStreamNameLength) characters"
        }
        guard let first = name.unicodeScalars.first, first.isASCIILetter else {
            return "stream name '\(printable(name))' is invalid: it must start with a letter"
        }
        guard name.unicodeScalars.allSatisfy({ $0.isASCIILetter || $0.isASCIIDigit || $0 == "." || $0 == "_" || $0 == "-" }) else {
            return "stream name '\(printable(name))' is invalid: use letters, digits, '.', '_' or '-'"
        }
        guard !name.contains("..") else {
            return "stream name '\(name)' is invalid: it must not contain '..'"
        }
        return nil
    }

    /// Returns nil when `name` is a valid subscription name, else a message naming the value and the rule.
    ///
    /// Subscriptions allow 1 to 240 printable ASCII characters other than `/`, and never `..`.
    public static func subscriptionNameProblem(_ name: String) -> String? {
        guard !name.isEmpty, name.utf8.count <= maxSubscriptionNameLength else {
            return "subscription name '\(printable(name))' is invalid: use 1 to \(maxSubscriptionNameLength) characters"
        }
        guard name.unicodeScalars.allSatisfy({ $0.value > 0x20 && $0.value < 0x7F && $0 != "/" }), !name.contains("..") else {
            return "subscription name '\(printable(name))' is invalid: use printable characters other than '/', spaces and '..'"
        }
        return nil
    }
}

extension NameRules {
    /// Maximum length of a tenant or fabric name.
    public static let maxTenantOrFabricNameLength = 64

    /// Returns nil when `name` is a valid tenant name, else a message naming the value and the rule.
    ///
    /// Tenants allow 1 to 64 letters, digits, `.`, `_` or `-`, and never `..`.
    public static func tenantNameProblem(_ name: String) -> String? {
        plainNameProblem(name, kind: "tenant")
    }

    /// Returns nil when `name` is a valid fabric name, else a message naming the value and the rule.
    ///
    /// Fabrics allow 1 to 64 letters, digits, `.`, `_` or `-`, and never `..`.
    public static func fabricNameProblem(_ name: String) -> String? {
        plainNameProblem(name, kind: "fabric")
    }

    /// Returns `name` cut to 80 characters with everything but printable ASCII replaced by `?`, so a message
    /// that quotes a rejected name never carries a NUL or control character into a log or a response.
    static func printable(_ name: String) -> String {
        String(String.UnicodeScalarView(name.unicodeScalars.prefix(80).map { scalar in
            scalar.value >= 0x20 && scalar.value < 0x7F ? scalar : "?"
        }))
    }

    private static func plainNameProblem(_ name: String, kind: String) -> String? {
        let shown = printable(name)
        guard !name.isEmpty, name.utf8.count <= maxTenantOrFabricNameLength else {
            return "\(kind) name '\(shown)' is invalid: use 1 to \(maxTenantOrFabricNameLength) characters"
        }
        let allowed = name.unicodeScalars.allSatisfy { $0.isASCIILetter || $0.isASCIIDigit || $0 == "." || $0 == "_" || $0 == "-" }
        guard allowed, !name.contains("..") else {
            return "\(kind) name '\(shown)' is invalid: use letters, digits, '.', '_' or '-', and no '..'"
        }
        return nil
    }
}

extension Unicode.Scalar {
    var isASCIILetter: Bool { (value >= 0x41 && value <= 0x5A) || (value >= 0x61 && value <= 0x7A) }
    var isASCIIDigit: Bool { value >= 0x30 && value <= 0x39 }
}
