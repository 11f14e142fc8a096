import Foundation
import RivuletCore
import Testing
@testable import RivuletStorage

@Suite struct SegmentedLogTests {
    static let policies: [FsyncPolicy] = [.always, .interval(.milliseconds(5)), .never]

    @Test func createsMissingDirectoryAndFirstSegment() throws {
        let parent = try TemporaryDirectory()
        defer { parent.remove() }
        let path = parent.path + "/nested/data"

        let log = try SegmentedLog(directory: path, options: LogOptions(), logger: quietLogger())
        defer { log.close() }

        #expect(FileManager.default.fileExists(atPath: path + "/log/00000000000000000000.seg"))
        #expect(log.endPosition == .zero)
        #expect(log.sizeBytes == 0)
    }

    @Test func unusableDirectoryErrorNamesPath() throws {
        let parent = try TemporaryDirectory()
        defer { parent.remove() }
        let path = parent.path + "/plain-file"
        try writeFileBytes(path, [1, 2, 3])

        #expect {
            try SegmentedLog(directory: path, options: LogOptions(), logger: quietLogger())
        } throws: { error in
            guard case StorageError.io(let message) = error else { return false }
            return message.contains(path)
        }
    }

    @Test func secondOpenOfDirectoryFails() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let log = try SegmentedLog(directory: directory.path, options: LogOptions(), logger: quietLogger())

        #expect(throws: StorageError.self) {
            try SegmentedLog(directory: directory.path, options: LogOptions(), logger: quietLogger())
        }
        log.close()
        let reopened = try SegmentedLog(directory: directory.path, options: LogOptions(), logger: quietLogger())
        reopened.close()
    }

    @Test func droppingLogReleasesDirectory() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        var log: SegmentedLog? = try SegmentedLog(directory: directory.path, options: LogOptions(), logger: quietLogger())
        let positions = try appendAndWait(log!, [record(0)]).get()
        log = nil

        let reopened = try SegmentedLog(directory: directory.path, options: LogOptions(), logger: quietLogger())
        defer { reopened.close() }
        #expect(try replayAll(reopened).map(\.0) == positions)
    }

    @Test func invalidOptionsAreRejected() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }

        #expect(throws: StorageError.self) {
            try SegmentedLog(directory: directory.path, options: LogOptions(segmentBytes: 100), logger: quietLogger())
        }
    }

    @Test func positionsAreByteOffsets() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let log = try SegmentedLog(directory: directory.path, options: LogOptions(), logger: quietLogger())
        defer { log.close() }

        let positions = try appendAndWait(log, [record(0, bodyBytes: 10), record(1, bodyBytes: 5)]).get()

        #expect(positions == [LogPosition(0), LogPosition(50)])
        #expect(log.endPosition == LogPosition(95))
        #expect(log.sizeBytes == 95)
        #expect(log.syncedPosition == LogPosition(95))
    }

    @Test func recordOverLimitIsRejected() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let log = try SegmentedLog(directory: directory.path, options: LogOptions(maxRecordBytes: 1000), logger: quietLogger())
        defer { log.close() }

        #expect(appendAndWait(log, [record(0, bodyBytes: 1001)]) == .failure(.recordTooLarge(1001)))
        #expect(try appendAndWait(log, [record(1, bodyBytes: 1000)]).get().count == 1)
    }

    @Test func segmentsRollAndReadAcross() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let log = try SegmentedLog(directory: directory.path, options: LogOptions(segmentBytes: 4096), logger: quietLogger())
        defer { log.close() }

        let records = (0..<200).map { record($0, bodyBytes: 100) }
        var positions: [LogPosition] = []
        for chunk in stride(from: 0, to: records.count, by: 25) {
            positions += try appendAndWait(log, Array(records[chunk..<(chunk + 25)])).get()
        }

        let files = directory.segmentFiles()
        #expect(files.count == 200 * 140 / (4096 / 140 * 140) + 1)
        for file in files {
            let size = try FileManager.default.attributesOfItem(atPath: file)[.size] as? Int ?? -1
            #expect(size <= 4096)
        }
        let secondBase = UInt64(String(files[1].split(separator: "/").last!.dropLast(4)))!
        #expect(secondBase == 29 * 140)
        for (position, expected) in zip(positions, records) {
            #expect(try log.read(at: position) == expected)
        }
        #expect(try replayAll(log).map(\.1) == records)
    }

    @Test func recordLargerThanSegmentGetsOwnSegment() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let log = try SegmentedLog(directory: directory.path, options: LogOptions(segmentBytes: 4096), logger: quietLogger())
        defer { log.close() }

        let records = [record(0, bodyBytes: 10), record(1, bodyBytes: 10_000), record(2, bodyBytes: 10)]
        let positions = try appendAndWait(log, records).get()

        #expect(directory.segmentFiles().count == 3)
        for (position, expected) in zip(positions, records) {
            #expect(try log.read(at: position) == expected)
        }
    }

    @Test(arguments: policies)
    func reopenReplaysEverything(policy: FsyncPolicy) throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let options = LogOptions(segmentBytes: 8192, fsync: policy)
        let records = (0..<300).map { record($0, stream: UInt64($0 % 3), bodyBytes: $0 % 90) }

        let log = try SegmentedLog(directory: directory.path, options: options, logger: quietLogger())
        let positions = try appendAndWait(log, records).get()
        let end = log.endPosition
        log.close()

        let sink = MemorySink()
        let reopened = try SegmentedLog(directory: directory.path, options: options, logger: quietLogger(sink))
        defer { reopened.close() }
        let replayed = try replayAll(reopened)

        #expect(replayed.map(\.0) == positions)
        #expect(replayed.map(\.1) == records)
        #expect(reopened.endPosition == end)
        #expect(!sink.lines.contains { $0.contains("level=warning") })

        let next = try appendAndWait(reopened, [record(300)]).get()
        #expect(next == [end])
    }

    @Test func replayFromPositionInsideRecordSkipsIt() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let log = try SegmentedLog(directory: directory.path, options: LogOptions(), logger: quietLogger())
        defer { log.close() }

        let records = (0..<4).map { record($0) }
        let positions = try appendAndWait(log, records).get()

        let replayed = try replayAll(log, from: LogPosition(positions[1].rawValue + 3))
        #expect(replayed.map(\.1) == Array(records[2...]))
    }

    @Test func readAtNonRecordPositionFails() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let log = try SegmentedLog(directory: directory.path, options: LogOptions(), logger: quietLogger())
        defer { log.close() }
        let positions = try appendAndWait(log, [record(0), record(1)]).get()

        #expect(throws: StorageError.self) { try log.read(at: LogPosition(positions[1].rawValue + 1)) }
        #expect(throws: StorageError.self) { try log.read(at: log.endPosition) }
    }

    @Test func releaseDeletesOnlySealedSegments() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let log = try SegmentedLog(directory: directory.path, options: LogOptions(segmentBytes: 4096), logger: quietLogger())
        defer { log.close() }
        _ = try appendAndWait(log, (0..<100).map { record($0, bodyBytes: 100) }).get()
        let files = directory.segmentFiles()
        let secondBase = LogPosition(UInt64(String(files[1].split(separator: "/").last!.dropLast(4)))!)

        log.releaseSegments(before: LogPosition(secondBase.rawValue - 1))
        #expect(directory.segmentFiles() == files)

        log.releaseSegments(before: secondBase)
        #expect(directory.segmentFiles() == Array(files[1...]))
        #expect(log.startPosition == secondBase)

        log.releaseSegments(before: LogPosition(UInt64.max))
        #expect(directory.segmentFiles() == [files[files.count - 1]])
        #expect(try appendAndWait(log, [record(100)]).get().count == 1)
    }

    @Test func writeFailureFailsBatchAndLaterAppends() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let sink = MemorySink()
        let log = try SegmentedLog(directory: directory.path, options: LogOptions(), logger: quietLogger(sink))
        let kept = try appendAndWait(log, [record(0), record(1)]).get()

        log.shared.injectedErrno.store(EIO, ordering: .relaxed)
        let failed = appendAndWait(log, [record(2)])
        let later = appendAndWait(log, [record(3)])
        log.close()

        guard case .failure(.io) = failed else {
            Issue.record("append during a failing write returned \(failed)")
            return
        }
        guard case .failure(.io) = later else {
            Issue.record("append after a failed write returned \(later)")
            return
        }
        #expect(sink.lines.contains { $0.contains("level=error") })

        let reopened = try SegmentedLog(directory: directory.path, options: LogOptions(), logger: quietLogger())
        defer { reopened.close() }
        #expect(try replayAll(reopened).map(\.0) == kept)
    }

    @Test func closeDrainsQueuedAppends() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let log = try SegmentedLog(directory: directory.path, options: LogOptions(), logger: quietLogger())
        let completed = DispatchGroup()
        for index in 0..<100 {
            completed.enter()
            log.append([record(index)]) { outcome in
                if case .success = outcome { completed.leave() }
            }
        }

        log.close()

        #expect(completed.wait(timeout: .now()) == .success)
        let reopened = try SegmentedLog(directory: directory.path, options: LogOptions(), logger: quietLogger())
        defer { reopened.close() }
        #expect(try replayAll(reopened).count == 100)
    }

    @Test func closeFromCompletionDoesNotDeadlock() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let log = try SegmentedLog(directory: directory.path, options: LogOptions(), logger: quietLogger())
        let outcome = appendAndWait(log, [record(0)])
        #expect(outcome == .success([.zero]))

        let done = DispatchSemaphore(value: 0)
        log.append([record(1)]) { _ in
            log.close()
            done.signal()
        }
        #expect(done.wait(timeout: .now() + 60) == .success)
        log.close()
        #expect(appendAndWait(log, [record(2)]) == .failure(.closed))
    }

    @Test func intervalPolicySyncsWithoutFurtherAppends() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let log = try SegmentedLog(directory: directory.path, options: LogOptions(fsync: .interval(.milliseconds(20))), logger: quietLogger())
        defer { log.close() }

        _ = try appendAndWait(log, [record(0)]).get()
        _ = try appendAndWait(log, [record(1)]).get()

        // The writer syncs on its own once the interval passed; poll with a generous bound instead of a timing check.
        var polls = 0
        while log.syncedPosition < log.endPosition && polls < 3000 {
            usleep(10_000)
            polls += 1
        }
        #expect(log.syncedPosition == log.endPosition)
    }

    @Test func operationsAfterCloseFail() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let log = try SegmentedLog(directory: directory.path, options: LogOptions(), logger: quietLogger())
        let positions = try appendAndWait(log, [record(0)]).get()
        try log.writeCheckpoint(Checkpoint(position: log.endPosition, state: []))
        let end = log.endPosition
        log.close()

        #expect(throws: StorageError.closed) { try log.read(at: positions[0]) }
        #expect(throws: StorageError.closed) { try log.latestCheckpoint() }
        #expect(throws: StorageError.closed) { try log.writeCheckpoint(Checkpoint(position: .zero, state: [])) }
        #expect(throws: StorageError.closed) { try replayAll(log) }
        #expect(log.endPosition == end)
        #expect(log.sizeBytes == Int(end.rawValue))
    }
}
