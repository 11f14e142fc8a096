import Foundation
import RivuletCore
import Synchronization
@testable import RivuletAuth

/// A clock the test moves by hand, in epoch seconds.
final class ManualClock: Sendable {
    private let current: Mutex<Double>

    init(_ start: Double = 1_800_000_000) { current = Mutex(start) }

    var now: Double { current.withLock { $0 } }

    func advance(by seconds: Double) { current.withLock { $0 += seconds } }

    var function: @Sendable () -> Double { { self.now } }
}

/// A fresh directory under the system temporary directory, removed by `remove()`.
struct TemporaryDirectory {
    let path: String

    init() {
        path = NSTemporaryDirectory() + "rivulet-auth-test-" + UUID().uuidString
        try! FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    func remove() { try? FileManager.default.removeItem(atPath: path) }
}

/// Few iterations keep password hashing fast in tests; the production default is exercised by its own constant.
func fastConfiguration() -> AuthConfiguration {
    var configuration = AuthConfiguration()
    configuration.passwordIterations = 1_000
    return configuration
}

func hexBytes(_ hex: String) -> [UInt8] {
    var bytes = [UInt8]()
    var index = hex.startIndex
    while index < hex.endIndex {
        let next = hex.index(index, offsetBy: 2)
        bytes.append(UInt8(hex[index..<next], radix: 16)!)
        index = next
    }
    return bytes
}

func fileMode(_ path: String) -> Int {
    let attributes = try! FileManager.default.attributesOfItem(atPath: path)
    return (attributes[.posixPermissions] as! NSNumber).intValue
}
