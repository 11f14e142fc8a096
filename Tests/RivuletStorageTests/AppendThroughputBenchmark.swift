import Foundation
import RivuletCore
import Testing
@testable import RivuletStorage

/// A bounded throughput measurement, run only when RIVULET_STORAGE_BENCHMARK=1 (best with `-c release`).
/// It prints the rate and asserts nothing about it. RIVULET_STORAGE_BENCHMARK_PRODUCERS (default 8) sets the
/// number of producer threads and RIVULET_STORAGE_BENCHMARK_WINDOW (default 1000) their appends in flight.
@Suite(.serialized, .enabled(if: ProcessInfo.processInfo.environment["RIVULET_STORAGE_BENCHMARK"] == "1"))
struct AppendThroughputBenchmark {
    static let policies: [FsyncPolicy] = [.always, .never]

    @Test(arguments: policies)
    func appendHundredByteRecords(policy: FsyncPolicy) throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let log = try SegmentedLog(directory: directory.path, options: LogOptions(fsync: policy), logger: quietLogger())
        defer { log.close() }

        let environment = ProcessInfo.processInfo.environment
        let producerCount = environment["RIVULET_STORAGE_BENCHMARK_PRODUCERS"].flatMap { Int($0) } ?? 8
        let window = environment["RIVULET_STORAGE_BENCHMARK_WINDOW"].flatMap { Int($0) } ?? 1000
        let recordsPerProducer = 200_000 / producerCount
        let body = [UInt8](repeating: 0x61, count: 100)
        let completions = DispatchGroup()
        let started = ContinuousClock.now

        // One thread per producer (not concurrentPerform, which runs iterations one after another on one core).
        let producersDone = DispatchGroup()
        for producer in 0..<producerCount {
            producersDone.enter()
            Thread {
                // Like a producer connection: at most `window` appends in flight.
                let inFlight = DispatchSemaphore(value: window)
                for index in 0..<recordsPerProducer {
                    guard inFlight.wait(timeout: .now() + 60) == .success else { break }
                    completions.enter()
                    let stored = LogRecord(type: .message, streamId: UInt64(producer), sequence: UInt64(index), timestamp: 0, body: body)
                    log.append([stored]) { _ in
                        inFlight.signal()
                        completions.leave()
                    }
                }
                producersDone.leave()
            }.start()
        }
        #expect(producersDone.wait(timeout: .now() + 120) == .success)
        #expect(completions.wait(timeout: .now() + 120) == .success)

        let elapsed = ContinuousClock.now - started
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        let total = producerCount * recordsPerProducer
        print("storage benchmark: fsync=\(policy) producers=\(producerCount) window=\(window) records=\(total) bodyBytes=100 seconds=\(String(format: "%.3f", seconds)) recordsPerSecond=\(Int(Double(total) / seconds)) groups=\(log.shared.groupCount.load(ordering: .relaxed)) syncs=\(log.shared.syncCount.load(ordering: .relaxed)) syncMilliseconds=\(log.shared.syncNanoseconds.load(ordering: .relaxed) / 1_000_000)")
    }
}
