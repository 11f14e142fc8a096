import Foundation
import RivuletCore

/// Entry point of the `rivulet` executable: parses the subcommand and runs it.
public enum RivuletCommandLine {
    /// The release version, printed by `rivulet --version`.
    public static let version = "0.1.0"

    static let usage = """
        Usage: rivulet <command> [options]

        Commands:
          serve     Run the streams server (see 'rivulet serve --help').
          bench     Drive a running server with load and print results (see 'rivulet bench --help').
          version   Print the version.
          help      Show this help, or 'help serve' for the server's options.

        Rivulet serves the Macrometa GDN Streams API: REST under /_fabric/{fabric}/_api/streams
        and Pulsar WebSocket v2 sockets under /_ws/ws/v2/, with durable local storage.
        """

    /// Runs the command and returns the process exit code: 0 on success, 2 on bad usage or configuration,
    /// 1 when the server failed at run time.
    public static func run(_ arguments: [String]) -> Int32 {
        let rest = Array(arguments.dropFirst())
        guard let command = rest.first else {
            printError(usage)
            return 2
        }
        switch command {
        case "help", "--help", "-h":
            if rest.dropFirst().first == "serve" {
                printOutput(ServerConfiguration.serveHelp)
            } else {
                printOutput(usage)
            }
            return 0
        case "version", "--version":
            printOutput("rivulet \(version)")
            return 0
        case "serve":
            return serve(Array(rest.dropFirst()))
        case "bench":
            return BenchCommand.run(Array(rest.dropFirst()))
        default:
            printError("rivulet: unknown command '\(command)'\n\n\(usage)")
            return 2
        }
    }

    static func serve(_ arguments: [String]) -> Int32 {
        switch ServerConfiguration.parse(arguments: arguments, environment: ProcessInfo.processInfo.environment) {
        case .help:
            printOutput(ServerConfiguration.serveHelp)
            return 0
        case .invalid(let problems):
            for problem in problems { printError("rivulet serve: \(problem)") }
            return 2
        case .run(let configuration):
            return Server.runUntilSignalled(configuration)
        }
    }

    static func printOutput(_ text: String) {
        writeLine(text, to: 1)
    }

    static func printError(_ text: String) {
        writeLine(text, to: 2)
    }

    private static func writeLine(_ text: String, to descriptor: Int32) {
        let bytes = Array((text + "\n").utf8)
        bytes.withUnsafeBytes { buffer in
            var offset = 0
            while offset < buffer.count {
                let written = write(descriptor, buffer.baseAddress! + offset, buffer.count - offset)
                guard written > 0 else { return }
                offset += written
            }
        }
    }
}
