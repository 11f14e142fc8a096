import Foundation
import RivuletCore
import Testing
@testable import RivuletStorage

@Suite struct CheckpointTests {
    @Test func checkpointSurvivesReopen() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let log = try SegmentedLog(directory: directory.path, options: LogOptions(fsync: .never), logger: quietLogger())
        let positions = try appendAndWait(log, [record(0), record(1)]).get()
        let checkpoint = Checkpoint(position: positions[1], state: (0..<5000).map { UInt8(truncatingIfNeeded: $0) })
        try log.writeCheckpoint(checkpoint)
        log.close()

        let reopened = try SegmentedLog(directory: directory.path, options: LogOptions(), logger: quietLogger())
        defer { reopened.close() }

        #expect(try reopened.latestCheckpoint() == checkpoint)
        #expect(try replayAll(reopened, from: checkpoint.position).map(\.0) == [positions[1]])
    }

    @Test func replacementLeavesNoTemporaryFile() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let log = try SegmentedLog(directory: directory.path, options: LogOptions(), logger: quietLogger())
        defer { log.close() }
        _ = try appendAndWait(log, [record(0)]).get()

        try log.writeCheckpoint(Checkpoint(position: .zero, state: Array("old".utf8)))
        try log.writeCheckpoint(Checkpoint(position: log.endPosition, state: Array("new".utf8)))

        #expect(try log.latestCheckpoint() == Checkpoint(position: log.endPosition, state: Array("new".utf8)))
        #expect(!FileManager.default.fileExists(atPath: directory.path + "/checkpoint.tmp"))
    }

    @Test func leftoverTemporaryFileDoesNotReplaceCheckpoint() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let log = try SegmentedLog(directory: directory.path, options: LogOptions(), logger: quietLogger())
        defer { log.close() }
        let checkpoint = Checkpoint(position: .zero, state: [1, 2, 3])
        try log.writeCheckpoint(checkpoint)

        // A crash between writing the temporary file and the rename leaves this behind.
        try writeFileBytes(directory.path + "/checkpoint.tmp", [0xFF, 0xFF])

        #expect(try log.latestCheckpoint() == checkpoint)
    }

    @Test func damagedCheckpointFallsBackWhileLogIsWhole() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let sink = MemorySink()
        let log = try SegmentedLog(directory: directory.path, options: LogOptions(), logger: quietLogger(sink))
        defer { log.close() }
        _ = try appendAndWait(log, [record(0)]).get()
        try log.writeCheckpoint(Checkpoint(position: log.endPosition, state: [9, 9, 9]))
        var bytes = try fileBytes(directory.path + "/checkpoint")
        bytes[bytes.count - 1] ^= 0x01
        try writeFileBytes(directory.path + "/checkpoint", bytes)

        #expect(try log.latestCheckpoint() == nil)
        let warnings = sink.lines.filter { $0.contains("level=warning") }
        #expect(warnings.count == 1)
        #expect(warnings.first?.contains("checksum mismatch") == true)
    }

    @Test func damagedCheckpointFailsAfterRelease() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let log = try SegmentedLog(directory: directory.path, options: LogOptions(segmentBytes: 4096), logger: quietLogger())
        defer { log.close() }
        _ = try appendAndWait(log, (0..<100).map { record($0, bodyBytes: 100) }).get()
        try log.writeCheckpoint(Checkpoint(position: log.endPosition, state: [1]))
        log.releaseSegments(before: log.endPosition)
        try writeFileBytes(directory.path + "/checkpoint", Array("garbage".utf8))

        #expect {
            try log.latestCheckpoint()
        } throws: { error in
            guard case StorageError.corrupt(let message) = error else { return false }
            return message.contains(directory.path + "/checkpoint")
        }
    }

    @Test func checkpointPastLogEndFails() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let log = try SegmentedLog(directory: directory.path, options: LogOptions(), logger: quietLogger())
        defer { log.close() }

        try log.writeCheckpoint(Checkpoint(position: LogPosition(1000), state: []))

        #expect(throws: StorageError.self) { try log.latestCheckpoint() }
    }

    @Test func checkpointEncodingRejectsEveryFlippedByte() throws {
        let encoded = CheckpointFormat.encode(Checkpoint(position: LogPosition(42), state: [1, 2, 3, 4]))
        #expect(encoded.count == CheckpointFormat.headerBytes + 4)

        for index in encoded.indices where !(28..<32).contains(index) {
            var damaged = encoded
            damaged[index] ^= 0x10
            guard case .failure = CheckpointFormat.decode(damaged) else {
                Issue.record("flipping byte \(index) went unnoticed")
                continue
            }
        }
    }
}

@Suite struct AtomicFileTests {
    @Test func writeThenRead() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let path = directory.path + "/state"

        #expect(try AtomicFile.read(path: path) == nil)
        try AtomicFile.write(path: path, bytes: [1, 2, 3], mode: 0o600)
        #expect(try AtomicFile.read(path: path) == [1, 2, 3])
        try AtomicFile.write(path: path, bytes: [], mode: 0o600)
        #expect(try AtomicFile.read(path: path) == [])
    }

    @Test func appliesExactMode() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let path = directory.path + "/secret"

        try AtomicFile.write(path: path, bytes: [7], mode: 0o640)

        let permissions = try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int
        #expect(permissions == 0o640)
    }

    @Test func writeIntoMissingDirectoryFailsWithPath() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let path = directory.path + "/missing/state"

        #expect {
            try AtomicFile.write(path: path, bytes: [1], mode: 0o600)
        } throws: { error in
            guard case StorageError.io(let message) = error else { return false }
            return message.contains(path)
        }
    }
}
