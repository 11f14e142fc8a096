import RivuletCore
import RivuletStorage
import Testing
@testable import RivuletServer

@Suite struct ServerConfigurationTests {
    private func configuration(_ arguments: [String], environment: [String: String] = [:]) -> ServerConfiguration? {
        guard case .run(let configuration) = ServerConfiguration.parse(arguments: arguments, environment: environment) else {
            return nil
        }
        return configuration
    }

    private func problems(_ arguments: [String], environment: [String: String] = [:]) -> [String] {
        guard case .invalid(let problems) = ServerConfiguration.parse(arguments: arguments, environment: environment) else {
            return []
        }
        return problems
    }

    @Test func defaultsMatchTheDocumentation() throws {
        let parsed = try #require(configuration([]))
        #expect(parsed.host == "127.0.0.1")
        #expect(parsed.port == 8000)
        #expect(parsed.dataDirectory == "./rivulet-data")
        #expect(parsed.fsync == .always)
        #expect(parsed.region == "local")
        #expect(parsed.autoCreateStreams)
        #expect(parsed.effectiveAdvertiseURL == "localhost:8000")
    }

    @Test func flagsOverrideEnvironment() throws {
        let parsed = try #require(configuration(["--port", "9001"], environment: ["RIVULET_PORT": "9000", "RIVULET_REGION": "eu"]))
        #expect(parsed.port == 9001)
        #expect(parsed.region == "eu")
    }

    @Test func acceptsInlineValues() throws {
        let parsed = try #require(configuration(["--fsync=interval=250ms", "--data-dir=/tmp/x"]))
        #expect(parsed.fsync == .interval(.milliseconds(250)))
        #expect(parsed.dataDirectory == "/tmp/x")
    }

    @Test func advertiseURLDropsPort443() throws {
        let parsed = try #require(configuration(["--port", "443", "--host", "0.0.0.0"]))
        #expect(parsed.effectiveAdvertiseURL == "localhost")
    }

    @Test func reportsEveryProblemAtOnce() {
        let found = problems(["--port", "70000", "--fsync", "sometimes", "--bogus", "--tls-cert", "a.pem"])
        #expect(found.count == 4)
        #expect(found.contains { $0.contains("--port '70000'") })
        #expect(found.contains { $0.contains("--fsync 'sometimes'") })
        #expect(found.contains { $0.contains("unknown option '--bogus'") })
        #expect(found.contains { $0.contains("--tls-cert and --tls-key") })
    }

    @Test func missingValueIsAnError() {
        #expect(problems(["--port"]) == ["option '--port' needs a value PORT"])
    }

    @Test func badEnvironmentNamesTheVariable() {
        #expect(problems([], environment: ["RIVULET_PORT": "x"]).first?.hasPrefix("RIVULET_PORT:") == true)
    }

    @Test func helpListsEveryOption() {
        #expect(ServerConfiguration.parse(arguments: ["--help"], environment: [:]) == .help)
        for option in ServeOptions.all {
            #expect(ServerConfiguration.serveHelp.contains(option.flag))
            #expect(ServerConfiguration.serveHelp.contains(option.environmentVariable))
        }
    }

    @Test func limitDefaults() throws {
        let limits = try #require(configuration([])).limits
        #expect(limits.maxHeaderBytes == 65_536)
        #expect(limits.maxBodyBytes == 8_388_608)
        #expect(limits.headerReadTimeout == .seconds(30))
        #expect(limits.maxWebSocketFrameBytes == 8_388_608)
        #expect(limits.maxWebSocketMessageBytes == 8_388_608)
        #expect(limits.maxConnections == 50_000)
        #expect(limits.maxConnectionsPerAddress == 1_000)
        #expect(limits.maxStreamsPerFabric == 10_000)
        #expect(limits.maxSubscriptionsPerStream == 1_000)
        #expect(limits.messageCacheBytes == 256 * 1024 * 1024)
        #expect(limits.maxFailedLoginsPerAddress == 10)
        #expect(limits.maxFailedLoginsPerAccount == 20)
        #expect(limits.failedLoginWindow == .seconds(60))
    }

    @Test func limitFlagsAndEnvironment() throws {
        let parsed = try #require(configuration(
            ["--max-header-bytes", "1024", "--header-read-timeout=500ms", "--max-streams-per-fabric", "3",
             "--failed-login-window", "2m"],
            environment: ["RIVULET_MAX_BODY_BYTES": "2048", "RIVULET_MAX_CONNECTIONS_PER_ADDRESS": "7",
                          "RIVULET_HEADER_READ_TIMEOUT": "9"]))
        #expect(parsed.limits.maxHeaderBytes == 1024)
        #expect(parsed.limits.maxBodyBytes == 2048)
        #expect(parsed.limits.headerReadTimeout == .milliseconds(500))
        #expect(parsed.limits.maxConnectionsPerAddress == 7)
        #expect(parsed.limits.maxStreamsPerFabric == 3)
        #expect(parsed.limits.failedLoginWindow == .seconds(120))
    }

    @Test func invalidLimitsAreRejected() {
        let found = problems(["--max-body-bytes", "0", "--header-read-timeout", "soon", "--max-connections", "-5"])
        #expect(found.count == 3)
        #expect(found.contains { $0.hasPrefix("--max-body-bytes '0' is invalid") })
        #expect(found.contains { $0.hasPrefix("--header-read-timeout 'soon' is invalid") })
        #expect(found.contains { $0.hasPrefix("--max-connections '-5' is invalid") })
    }

    @Test func messageCacheBytesFromFlagOrEnvironment() throws {
        let flagged = try #require(configuration(["--message-cache-bytes", "65536"], environment: [:]))
        #expect(flagged.limits.messageCacheBytes == 65_536)
        let fromEnvironment = try #require(configuration([], environment: ["RIVULET_MESSAGE_CACHE_BYTES": "1048576"]))
        #expect(fromEnvironment.limits.messageCacheBytes == 1_048_576)
        let found = problems(["--message-cache-bytes", "0"])
        #expect(found.contains { $0.hasPrefix("--message-cache-bytes '0' is invalid") })
    }

    @Test func outboundHighWaterFromFlagOrEnvironment() throws {
        #expect(try #require(configuration([], environment: [:])).limits.outboundHighWaterBytes == 16 * 1024 * 1024)
        let flagged = try #require(configuration(["--outbound-high-water-bytes", "65536"], environment: [:]))
        #expect(flagged.limits.outboundHighWaterBytes == 65_536)
        let fromEnvironment = try #require(
            configuration([], environment: ["RIVULET_OUTBOUND_HIGH_WATER_BYTES": "1048576"]))
        #expect(fromEnvironment.limits.outboundHighWaterBytes == 1_048_576)
        let found = problems(["--outbound-high-water-bytes", "0"])
        #expect(found.contains { $0.hasPrefix("--outbound-high-water-bytes '0' is invalid") })
    }

    @Test func bareDurationIsSeconds() {
        #expect(ServeOptions.parseDuration("15") == .seconds(15))
        #expect(ServeOptions.parseDuration("250ms") == .milliseconds(250))
        #expect(ServeOptions.parseDuration("1.5s") == nil)
    }
}
