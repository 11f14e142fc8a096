import Foundation
import RivuletCore
import Testing
@testable import RivuletStorage

/// A bounded throughput measurement, run only when RIVULET_STORAGE_BENCHMARK=1 (best with `-c release`).
/// It prints the rate and asserts nothing about it.
@Suite(.serialized, .enabled(if: ProcessInfo.processInfo.environment["RIVULET_STORAGE_BENCHMARK"] == "1"))
struct AppendThroughputBenchmark {
    static let policies: [FsyncPolicy] = [.always, .never]

    @Test(arguments: policies)
    func appendHundredByteRecords(policy: FsyncPolicy) throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let log = try SegmentedLog(directory: directory.path, options: LogOptions(fsync: policy), logger: quietLogger())
        defer { log.close() }

        let producerCount = 8
        let recordsPerProducer = 25_000
        let window = 1000
        let body = [UInt8](repeating: 0x61, count: 100)
        let completions = DispatchGroup()
        let started = ContinuousClock.now

        DispatchQueue.concurrentPerform(iterations: producerCount) { producer in
            // Like a producer connection: at most `window` appends in flight.
            let inFlight = DispatchSemaphore(value: window)
            for index in 0..<recordsPerProducer {
                guard inFlight.wait(timeout: .now() + 60) == .success else { return }
                completions.enter()
                let stored = LogRecord(type: .message, streamId: UInt64(producer), sequence: UInt64(index), timestamp: 0, body: body)
                log.append([stored]) { _ in
                    inFlight.signal()
                    completions.leave()
                }
            }
        }
        #expect(completions.wait(timeout: .now() + 120) == .success)

        let elapsed = ContinuousClock.now - started
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        let total = producerCount * recordsPerProducer
        print("storage benchmark: fsync=\(policy) records=\(total) bodyBytes=100 seconds=\(String(format: "%.3f", seconds)) recordsPerSecond=\(Int(Double(total) / seconds))")
    }
}
