import Foundation
import RivuletAPI
import RivuletAuth
import RivuletBroker
import RivuletCore
import RivuletHTTP
import RivuletStorage

/// Failures that stop the server from starting; each names what to fix.
public struct StartupError: Error, CustomStringConvertible {
    public var description: String
    /// 2 for configuration the operator must change, 1 for run-time failures.
    public var exitCode: Int32
}

/// The composition root: storage, engine, auth, API and transport, started in that order and stopped in reverse.
public final class Server: @unchecked Sendable {
    public let configuration: ServerConfiguration
    private let logger: Logger
    private let log: SegmentedLog
    private let engine: EmbeddedEngine
    private let http: HTTPServer
    public let administrator: AdministratorBootstrap

    /// Opens the data directory, recovers the log and binds the listener.
    public init(configuration: ServerConfiguration, logger: Logger) throws {
        self.configuration = configuration
        self.logger = logger
        try Server.checkReadable(configuration.tlsCertificatePath, option: "--tls-cert")
        try Server.checkReadable(configuration.tlsPrivateKeyPath, option: "--tls-key")
        try Server.prepareDataDirectory(configuration.dataDirectory)

        var logOptions = LogOptions()
        logOptions.fsync = configuration.fsync
        let started = ContinuousClock.now
        do {
            log = try SegmentedLog(directory: configuration.dataDirectory, options: logOptions, logger: logger.with(["component": "storage"]))
        } catch {
            throw StartupError(description: "cannot open the log in '\(configuration.dataDirectory)': \(error)", exitCode: 2)
        }
        var brokerConfiguration = BrokerConfiguration()
        brokerConfiguration.maxPayloadBytes = 5 * 1024 * 1024
        brokerConfiguration.maxStreamsPerFabric = configuration.limits.maxStreamsPerFabric
        brokerConfiguration.maxSubscriptionsPerStream = configuration.limits.maxSubscriptionsPerStream
        brokerConfiguration.messageCacheBytes = configuration.limits.messageCacheBytes
        // Equal to the sockets' high-water mark, so a paused burst always fills a socket's queue past the
        // mark and the socket reports it writable again once drained.
        brokerConfiguration.maxDispatchBurstBytes = configuration.limits.outboundHighWaterBytes
        engine = try EmbeddedEngine(log: log, configuration: brokerConfiguration, logger: logger.with(["component": "broker"]))
        logger.info("recovery finished", ["duration": "\(ContinuousClock.now - started)", "log_bytes": String(log.sizeBytes)])

        var authConfiguration = AuthConfiguration()
        authConfiguration.maxFailedLoginsPerSource = configuration.limits.maxFailedLoginsPerAddress
        authConfiguration.maxFailedLoginsPerAccount = configuration.limits.maxFailedLoginsPerAccount
        authConfiguration.failedLoginWindow = configuration.limits.failedLoginWindow
        let auth = try AuthService(dataDirectory: configuration.dataDirectory, logger: logger.with(["component": "auth"]),
                                   configuration: authConfiguration)

        var apiConfiguration = APIConfiguration()
        apiConfiguration.region = configuration.region
        apiConfiguration.advertiseURL = configuration.effectiveAdvertiseURL
        apiConfiguration.autoCreateStreams = configuration.autoCreateStreams
        let service = APIService(configuration: apiConfiguration, engine: engine, auth: auth, logger: logger)

        var httpConfiguration = HTTPServerConfiguration()
        httpConfiguration.host = configuration.host
        httpConfiguration.port = configuration.port
        let limits = configuration.limits
        httpConfiguration.maxRequestHeadBytes = limits.maxHeaderBytes
        httpConfiguration.maxRequestBodyBytes = limits.maxBodyBytes
        httpConfiguration.headerReadTimeout = limits.headerReadTimeout
        httpConfiguration.maxWebSocketFrameBytes = limits.maxWebSocketFrameBytes
        httpConfiguration.maxWebSocketMessageBytes = limits.maxWebSocketMessageBytes
        httpConfiguration.maxConnections = limits.maxConnections
        httpConfiguration.maxConnectionsPerAddress = limits.maxConnectionsPerAddress
        httpConfiguration.outboundHighWaterBytes = limits.outboundHighWaterBytes
        if let certificate = configuration.tlsCertificatePath, let key = configuration.tlsPrivateKeyPath {
            httpConfiguration.tls = TLSConfiguration(certificatePath: certificate, privateKeyPath: key)
        }
        do {
            http = try HTTPServer(configuration: httpConfiguration, service: service, logger: logger.with(["component": "http"]))
        } catch {
            engine.shutdown()
            log.close()
            throw StartupError(description: "\(error)", exitCode: 2)
        }

        // The first account exists before the listener accepts anything, so no client sees a server
        // without it.
        do {
            administrator = try auth.ensureAdministrator(
                email: configuration.adminEmail, password: configuration.adminPassword, tenant: configuration.adminTenant)
        } catch {
            engine.shutdown()
            log.close()
            throw StartupError(description: "cannot create the administrator account: \(error)", exitCode: 1)
        }

        do {
            try http.start()
        } catch {
            engine.shutdown()
            log.close()
            var description = "\(error)"
            if administrator.generatedPassword != nil, let file = administrator.passwordFile {
                description += "\nThe administrator account was created; its generated password is in \(file)."
            }
            throw StartupError(description: description, exitCode: 2)
        }
        if !administrator.created,
            configuration.adminEmail != nil || configuration.adminPassword != nil || configuration.adminTenant != nil {
            logger.warning("administrator options ignored: accounts already exist in the data directory",
                           ["email": administrator.email, "tenant": administrator.tenant])
        }
    }

    /// Stops accepting connections, closes sockets, flushes the engine and closes the log.
    public func shutdown() {
        logger.info("shutting down")
        http.shutdown()
        engine.shutdown()
        log.close()
        logger.info("stopped")
    }

    public var boundPort: Int { http.boundPort }

    /// Fails before anything is written when a TLS file given on the command line cannot be read.
    static func checkReadable(_ path: String?, option: String) throws {
        guard let path else { return }
        guard access(path, R_OK) == 0 else {
            let reason = String(cString: strerror(errno))
            throw StartupError(description: "cannot read \(option) file '\(path)': \(reason)", exitCode: 2)
        }
    }

    static func prepareDataDirectory(_ path: String) throws {
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) {
            guard isDirectory.boolValue else {
                throw StartupError(description: "--data-dir '\(path)' exists and is not a directory", exitCode: 2)
            }
        } else {
            do {
                try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true,
                                                        attributes: [.posixPermissions: 0o700])
            } catch {
                let reason = String(cString: strerror(errno))
                throw StartupError(description: "cannot create --data-dir '\(path)': \(reason)", exitCode: 2)
            }
        }
        guard access(path, W_OK | X_OK) == 0 else {
            throw StartupError(description: "--data-dir '\(path)' is not writable by this user", exitCode: 2)
        }
    }

    /// Starts the server, prints where it listens and how to log in, and runs until SIGINT or SIGTERM.
    static func runUntilSignalled(_ configuration: ServerConfiguration) -> Int32 {
        let logger = Logger(label: "server", level: configuration.logLevel)
        signal(SIGPIPE, SIG_IGN)
        var blocked = sigset_t()
        sigemptyset(&blocked)
        sigaddset(&blocked, SIGINT)
        sigaddset(&blocked, SIGTERM)
        // Blocked before any thread starts, so every thread inherits the mask and sigwait below receives them.
        pthread_sigmask(SIG_BLOCK, &blocked, nil)

        let server: Server
        do {
            server = try Server(configuration: configuration, logger: logger)
        } catch let error as StartupError {
            RivuletCommandLine.printError("rivulet serve: \(error.description)")
            return error.exitCode
        } catch {
            RivuletCommandLine.printError("rivulet serve: \(error)")
            return 1
        }
        server.announce()

        var received: Int32 = 0
        sigwait(&blocked, &received)
        logger.info("signal received", ["signal": received == SIGINT ? "SIGINT" : "SIGTERM"])
        server.shutdown()
        return 0
    }

    /// Prints the listening address and login instructions to standard output, once.
    func announce() {
        let scheme = configuration.usesTLS ? "https" : "http"
        let address = configuration.host.contains(":") ? "[\(configuration.host)]" : configuration.host
        logger.info("listening", ["url": "\(scheme)://\(address):\(boundPort)", "tls": String(configuration.usesTLS),
                                  "region": configuration.region, "advertise_url": configuration.effectiveAdvertiseURL])
        var lines = [
            "Rivulet is serving \(scheme)://\(address):\(boundPort) (region \(configuration.region), data in \(configuration.dataDirectory))",
            "Log in: POST \(scheme)://\(address):\(boundPort)/_open/auth with {\"email\": \"\(administrator.email)\", \"password\": ...}",
            "Tenant: \(administrator.tenant)",
        ]
        let passwordFile = administrator.passwordFile ?? "\(configuration.dataDirectory)/initial-admin-password"
        if let generated = administrator.generatedPassword {
            lines.append("Generated administrator password (shown once, also in \(passwordFile)): \(generated)")
        } else if FileManager.default.fileExists(atPath: passwordFile) {
            lines.append("The administrator password generated on first start is in \(passwordFile).")
        }
        RivuletCommandLine.printOutput(lines.joined(separator: "\n"))
    }
}
