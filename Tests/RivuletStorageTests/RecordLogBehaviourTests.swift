import Foundation
import Synchronization
import Testing
@testable import RivuletStorage

/// Behaviour every `RecordLog` shares, run against the memory and the file implementation.
@Suite struct RecordLogBehaviourTests {
    @Test(arguments: StoreKind.allCases)
    func appendThenRead(kind: StoreKind) throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let log = try kind.open(in: directory)
        defer { log.close() }

        let records = (0..<5).map { record($0) }
        let positions = try appendAndWait(log, records).get()

        #expect(positions.count == records.count)
        #expect(positions == positions.sorted())
        for (position, expected) in zip(positions, records) {
            #expect(try log.read(at: position) == expected)
        }
        #expect(log.endPosition > positions[positions.count - 1])
    }

    @Test(arguments: StoreKind.allCases)
    func emptyAndLargeBodiesRoundTrip(kind: StoreKind) throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let log = try kind.open(in: directory)
        defer { log.close() }

        let records = [record(0, bodyBytes: 0), record(1, bodyBytes: 300_000), record(2, bodyBytes: 1)]
        let positions = try appendAndWait(log, records).get()

        for (position, expected) in zip(positions, records) {
            #expect(try log.read(at: position) == expected)
        }
    }

    @Test(arguments: StoreKind.allCases)
    func concurrentAppendersKeepOrder(kind: StoreKind) throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let log = try kind.open(in: directory)
        defer { log.close() }

        let callerCount = 8
        let appendsPerCaller = 200
        let results = Mutex<[Int: [LogPosition]]>([:])
        let completions = DispatchGroup()
        DispatchQueue.concurrentPerform(iterations: callerCount) { caller in
            // Each caller appends without waiting for its earlier appends, as a connection does.
            for index in 0..<appendsPerCaller {
                completions.enter()
                log.append([record(index, stream: UInt64(caller))]) { outcome in
                    if case .success(let positions) = outcome {
                        results.withLock { $0[caller, default: []].append(positions[0]) }
                    }
                    completions.leave()
                }
            }
        }
        #expect(completions.wait(timeout: .now() + 60) == .success)

        let byCaller = results.withLock { $0 }
        var all: [LogPosition] = []
        for caller in 0..<callerCount {
            let positions = byCaller[caller] ?? []
            #expect(positions.count == appendsPerCaller)
            #expect(positions == positions.sorted())
            all += positions
        }
        #expect(Set(all).count == callerCount * appendsPerCaller)

        var sequences: [UInt64: [UInt64]] = [:]
        for (_, stored) in try replayAll(log) { sequences[stored.streamId, default: []].append(stored.sequence) }
        for caller in 0..<callerCount {
            #expect(sequences[UInt64(caller)] == Array(0..<UInt64(appendsPerCaller)))
        }
    }

    @Test(arguments: StoreKind.allCases)
    func readInsideCompletion(kind: StoreKind) throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let log = try kind.open(in: directory)
        defer { log.close() }

        let mismatches = Mutex<[Int]>([])
        let completions = DispatchGroup()
        for index in 0..<300 {
            let appended = record(index, bodyBytes: index % 50)
            completions.enter()
            log.append([appended]) { outcome in
                let readBack = try? log.read(at: outcome.get()[0])
                if readBack != appended { mismatches.withLock { $0.append(index) } }
                completions.leave()
            }
        }

        #expect(completions.wait(timeout: .now() + 60) == .success)
        #expect(mismatches.withLock { $0 } == [])
    }

    @Test(arguments: StoreKind.allCases)
    func replayStartsAtPosition(kind: StoreKind) throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let log = try kind.open(in: directory)
        defer { log.close() }

        let records = (0..<10).map { record($0) }
        let positions = try appendAndWait(log, records).get()

        let all = try replayAll(log)
        #expect(all.map(\.0) == positions)
        #expect(all.map(\.1) == records)

        let tail = try replayAll(log, from: positions[6])
        #expect(tail.map(\.1) == Array(records[6...]))
        #expect(try replayAll(log, from: log.endPosition).isEmpty)
    }

    @Test(arguments: StoreKind.allCases)
    func appendsAfterCloseFail(kind: StoreKind) throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let log = try kind.open(in: directory)
        _ = try appendAndWait(log, [record(0)]).get()
        log.close()

        let outcome = appendAndWait(log, [record(1)])
        #expect(outcome == .failure(.closed))
    }

    @Test(arguments: StoreKind.allCases)
    func checkpointRoundTrip(kind: StoreKind) throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let log = try kind.open(in: directory)
        defer { log.close() }

        #expect(try log.latestCheckpoint() == nil)
        let positions = try appendAndWait(log, [record(0), record(1)]).get()
        let first = Checkpoint(position: positions[1], state: Array("first".utf8))
        try log.writeCheckpoint(first)
        #expect(try log.latestCheckpoint() == first)

        let second = Checkpoint(position: log.endPosition, state: [])
        try log.writeCheckpoint(second)
        #expect(try log.latestCheckpoint() == second)
    }

    @Test(arguments: StoreKind.allCases)
    func releaseKeepsLaterRecords(kind: StoreKind) throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let log = try kind.open(in: directory, options: LogOptions(segmentBytes: 4096))
        defer { log.close() }

        let records = (0..<300).map { record($0, bodyBytes: 60) }
        let positions = try appendAndWait(log, records).get()
        let sizeBefore = log.sizeBytes

        log.releaseSegments(before: positions[200])

        #expect(log.sizeBytes < sizeBefore)
        #expect(try replayAll(log, from: positions[200]).map(\.1) == Array(records[200...]))
        #expect(try log.read(at: positions[299]) == records[299])
        #expect(throws: StorageError.self) { try log.read(at: positions[0]) }
    }
}
