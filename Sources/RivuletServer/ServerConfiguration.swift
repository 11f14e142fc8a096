import RivuletCore
import RivuletStorage

/// Settings of `rivulet serve`, with their defaults.
///
/// Precedence: defaults < environment (`RIVULET_<NAME>`) < command-line flags.
public struct ServerConfiguration: Sendable, Equatable {
    public var host = "127.0.0.1"
    public var port = 8000
    public var dataDirectory = "./rivulet-data"
    public var tlsCertificatePath: String?
    public var tlsPrivateKeyPath: String?
    public var adminEmail: String?
    public var adminPassword: String?
    public var adminTenant: String?
    /// `host[:port]` reported as `tags.url` by `/datacenter/local`; derived from host and port when nil.
    public var advertiseURL: String?
    public var region = "local"
    public var fsync: FsyncPolicy = .always
    public var autoCreateStreams = true
    public var logLevel: LogLevel = .info
    /// Bounds on request sizes, connections, names and logins; see `ServerLimits`.
    public var limits = ServerLimits()

    public init() {}

    /// The `tags.url` clients see: the advertised URL, or host and port (the port left out when it is 443).
    public var effectiveAdvertiseURL: String {
        if let advertiseURL { return advertiseURL }
        let visibleHost: String
        switch host {
        case "0.0.0.0", "::", "127.0.0.1", "::1": visibleHost = "localhost"
        default: visibleHost = host
        }
        return port == 443 ? visibleHost : "\(visibleHost):\(port)"
    }

    public var usesTLS: Bool { tlsCertificatePath != nil }
}

/// One option of `rivulet serve`: its flag, environment variable, help text and how it is applied.
struct ServeOption: Sendable {
    let name: String
    let valueName: String?
    let help: String
    let defaultText: String
    let apply: @Sendable (inout ServerConfiguration, String) -> String?

    var flag: String { "--" + name }
    var environmentVariable: String { "RIVULET_" + name.uppercased().replacingOccurrences(of: "-", with: "_") }
}

enum ServeOptions {
    static let all: [ServeOption] = [
        ServeOption(name: "host", valueName: "HOST", help: "Address to listen on (IPv4, IPv6 or a host name).",
                    defaultText: "127.0.0.1") { config, value in
            guard !value.isEmpty else { return "--host must not be empty" }
            config.host = value
            return nil
        },
        ServeOption(name: "port", valueName: "PORT", help: "TCP port for REST and WebSocket traffic, 1 to 65535.",
                    defaultText: "8000") { config, value in
            guard let port = Int(value), (1...65535).contains(port) else {
                return "--port '\(value)' is invalid: use a whole number from 1 to 65535"
            }
            config.port = port
            return nil
        },
        ServeOption(name: "data-dir", valueName: "DIR", help: "Directory for the log, checkpoints, accounts and secrets.",
                    defaultText: "./rivulet-data") { config, value in
            guard !value.isEmpty else { return "--data-dir must not be empty" }
            config.dataDirectory = value
            return nil
        },
        ServeOption(name: "tls-cert", valueName: "FILE", help: "PEM certificate chain; with --tls-key the port speaks only HTTPS and WSS.",
                    defaultText: "none (plain HTTP)") { config, value in
            config.tlsCertificatePath = value
            return nil
        },
        ServeOption(name: "tls-key", valueName: "FILE", help: "PEM private key matching --tls-cert.",
                    defaultText: "none") { config, value in
            config.tlsPrivateKeyPath = value
            return nil
        },
        ServeOption(name: "admin-email", valueName: "EMAIL", help: "Email of the first account, created on first start with an empty data directory.",
                    defaultText: "admin@rivulet.local") { config, value in
            guard value.contains("@") else { return "--admin-email '\(value)' is invalid: it must contain '@'" }
            config.adminEmail = value
            return nil
        },
        ServeOption(name: "admin-password", valueName: "PASSWORD", help: "Password of the first account; without it one is generated, printed once and written to <data-dir>/initial-admin-password.",
                    defaultText: "generated") { config, value in
            guard value.count >= 8 else { return "--admin-password is too short: use at least 8 characters" }
            config.adminPassword = value
            return nil
        },
        ServeOption(name: "admin-tenant", valueName: "NAME", help: "Tenant of the first account.",
                    defaultText: "the admin email with '@' replaced by '_'") { config, value in
            guard !value.isEmpty, !value.contains("/") else { return "--admin-tenant '\(value)' is invalid: use a non-empty name without '/'" }
            config.adminTenant = value
            return nil
        },
        ServeOption(name: "advertise-url", valueName: "HOST[:PORT]", help: "What /datacenter/local reports as tags.url; clients connect to 'api-' + this.",
                    defaultText: "derived from --host and --port") { config, value in
            guard !value.isEmpty, !value.contains("/") else {
                return "--advertise-url '\(value)' is invalid: give HOST or HOST:PORT without a scheme"
            }
            config.advertiseURL = value
            return nil
        },
        ServeOption(name: "region", valueName: "NAME", help: "Region name reported by /datacenter endpoints and x-gdn-region.",
                    defaultText: "local") { config, value in
            guard !value.isEmpty else { return "--region must not be empty" }
            config.region = value
            return nil
        },
        ServeOption(name: "fsync", valueName: "POLICY", help: "When a publish is acknowledged: 'always' (fdatasync first, group-committed), 'interval=DURATION' (e.g. interval=100ms, 1s) or 'never'.",
                    defaultText: "always") { config, value in
            guard let policy = FsyncPolicy(parsing: value) else {
                return "--fsync '\(value)' is invalid: use always, never or interval=DURATION (e.g. interval=100ms)"
            }
            config.fsync = policy
            return nil
        },
        ServeOption(name: "no-auto-create", valueName: nil, help: "Producers and consumers of a missing stream get 404 instead of creating it.",
                    defaultText: "off (streams are created on connect)") { config, _ in
            config.autoCreateStreams = false
            return nil
        },
        ServeOption(name: "log-level", valueName: "LEVEL", help: "trace, debug, info, warning or error.",
                    defaultText: "info") { config, value in
            guard let level = LogLevel(name: value) else {
                return "--log-level '\(value)' is invalid: use trace, debug, info, warning or error"
            }
            config.logLevel = level
            return nil
        },
    ] + limitOptions
}

/// The result of reading `rivulet serve`'s environment and arguments.
public enum ServeParseResult: Equatable, Sendable {
    case run(ServerConfiguration)
    case help
    /// Every problem found, one message each.
    case invalid([String])
}

extension ServerConfiguration {
    /// Reads environment variables, then flags (`--name value` or `--name=value`); reports all problems at once.
    public static func parse(arguments: [String], environment: [String: String]) -> ServeParseResult {
        var configuration = ServerConfiguration()
        var problems: [String] = []

        for option in ServeOptions.all {
            guard let value = environment[option.environmentVariable] else { continue }
            if option.valueName == nil {
                guard ["1", "true", "yes"].contains(value.lowercased()) else { continue }
            }
            if let problem = option.apply(&configuration, value) {
                problems.append("\(option.environmentVariable): \(problem)")
            }
        }

        var index = 0
        while index < arguments.count {
            let argument = arguments[index]
            index += 1
            if argument == "--help" || argument == "-h" { return .help }
            guard argument.hasPrefix("--") else {
                problems.append("unexpected argument '\(argument)': options start with '--' (see 'rivulet serve --help')")
                continue
            }
            let (flagName, inlineValue) = splitFlag(argument)
            guard let option = ServeOptions.all.first(where: { $0.flag == flagName }) else {
                problems.append("unknown option '\(flagName)' (see 'rivulet serve --help')")
                continue
            }
            var value = inlineValue ?? ""
            if option.valueName != nil && inlineValue == nil {
                guard index < arguments.count else {
                    problems.append("option '\(flagName)' needs a value \(option.valueName ?? "")")
                    continue
                }
                value = arguments[index]
                index += 1
            }
            if let problem = option.apply(&configuration, value) { problems.append(problem) }
        }

        if (configuration.tlsCertificatePath == nil) != (configuration.tlsPrivateKeyPath == nil) {
            problems.append("--tls-cert and --tls-key must be given together")
        }
        return problems.isEmpty ? .run(configuration) : .invalid(problems)
    }

    private static func splitFlag(_ argument: String) -> (String, String?) {
        guard let equals = argument.firstIndex(of: "=") else { return (argument, nil) }
        return (String(argument[..<equals]), String(argument[argument.index(after: equals)...]))
    }

    /// The text of `rivulet serve --help`.
    public static var serveHelp: String {
        var lines = [
            "Usage: rivulet serve [options]",
            "",
            "Serves the GDN Streams API (REST and Pulsar WebSocket v2) from one process.",
            "Every option can also be set as an environment variable RIVULET_<NAME>; flags win.",
            "",
            "Options:",
        ]
        for option in ServeOptions.all {
            let usage = option.valueName.map { "\(option.flag) \($0)" } ?? option.flag
            lines.append("  \(usage)")
            lines.append("      \(option.help)")
            lines.append("      Default: \(option.defaultText). Environment: \(option.environmentVariable).")
        }
        lines.append("  -h, --help")
        lines.append("      Show this help.")
        return lines.joined(separator: "\n")
    }
}
