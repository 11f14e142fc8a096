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
}
