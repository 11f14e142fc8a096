import Foundation
import RivuletServer

// Keep this file to plain startup statements: closures written here are main-actor isolated.
Foundation.exit(RivuletCommandLine.run(CommandLine.arguments))
