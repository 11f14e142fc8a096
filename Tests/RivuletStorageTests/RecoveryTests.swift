import Foundation
import RivuletCore
import Testing
@testable import RivuletStorage

@Suite struct RecoveryTests {
    /// Writes `records` to a fresh log in `directory` and returns their positions.
    private func writeLog(_ directory: TemporaryDirectory, _ records: [LogRecord], segmentBytes: Int = 64 << 20) throws -> [LogPosition] {
        let log = try SegmentedLog(directory: directory.path, options: LogOptions(segmentBytes: segmentBytes), logger: quietLogger())
        defer { log.close() }
        return try appendAndWait(log, records).get()
    }

    @Test func truncationAtEveryByteOfLastRecordRecovers() throws {
        let source = try TemporaryDirectory()
        defer { source.remove() }
        let records = (0..<3).map { record($0, bodyBytes: 20) }
        let positions = try writeLog(source, records)
        let original = try fileBytes(source.segmentFiles()[0])
        let lastStart = Int(positions[2].rawValue)

        for length in lastStart..<original.count {
            let directory = try TemporaryDirectory()
            defer { directory.remove() }
            try FileManager.default.createDirectory(atPath: directory.path + "/log", withIntermediateDirectories: true)
            let segmentPath = directory.path + "/log/00000000000000000000.seg"
            try writeFileBytes(segmentPath, Array(original[..<length]))

            let sink = MemorySink()
            let log = try SegmentedLog(directory: directory.path, options: LogOptions(), logger: quietLogger(sink))
            defer { log.close() }

            #expect(try replayAll(log).map(\.1) == Array(records[..<2]), "cut at byte \(length)")
            #expect(log.endPosition == positions[2])
            let warnings = sink.lines.filter { $0.contains("level=warning") }
            if length > lastStart {
                #expect(warnings.count == 1, "cut at byte \(length)")
                #expect(warnings.first?.contains("offset=\(lastStart)") == true)
                #expect(warnings.first?.contains("bytes=\(length - lastStart)") == true)
                #expect(warnings.first?.contains(segmentPath) == true)
            } else {
                #expect(warnings.isEmpty)
            }

            let appended = try appendAndWait(log, [records[2]]).get()
            #expect(appended == [positions[2]])
            #expect(try replayAll(log).map(\.1) == records)
        }
    }

    @Test func flippedByteInLastRecordIsCut() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let records = (0..<4).map { record($0, bodyBytes: 30) }
        let positions = try writeLog(directory, records)
        let segmentPath = directory.segmentFiles()[0]

        for offset in [0, 4, 9, 12, 20, 45] {
            var bytes = try fileBytes(segmentPath)
            bytes[Int(positions[3].rawValue) + offset] ^= 0x40
            try writeFileBytes(segmentPath, bytes)

            let sink = MemorySink()
            let log = try SegmentedLog(directory: directory.path, options: LogOptions(), logger: quietLogger(sink))
            #expect(try replayAll(log).map(\.1) == Array(records[..<3]), "flipped byte \(offset) of the last record")
            #expect(sink.lines.filter { $0.contains("cut a torn tail") }.count == 1)
            _ = try appendAndWait(log, [records[3]]).get()
            log.close()
        }
    }

    @Test func flippedByteInSealedSegmentFailsOpen() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        _ = try writeLog(directory, (0..<100).map { record($0, bodyBytes: 100) }, segmentBytes: 4096)
        let files = directory.segmentFiles()
        #expect(files.count > 2)
        var bytes = try fileBytes(files[0])
        bytes[140 + 50] ^= 0x01
        try writeFileBytes(files[0], bytes)

        #expect {
            try SegmentedLog(directory: directory.path, options: LogOptions(segmentBytes: 4096), logger: quietLogger())
        } throws: { error in
            guard case StorageError.corrupt(let message) = error else { return false }
            return message.contains(files[0]) && message.contains("offset 140")
        }
    }

    @Test func flippedByteBeforeValidRecordsIsCutAndSaved() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let records = (0..<5).map { record($0, bodyBytes: 30) }
        let positions = try writeLog(directory, records)
        let segmentPath = directory.segmentFiles()[0]
        var bytes = try fileBytes(segmentPath)
        let damaged = Int(positions[2].rawValue)
        bytes[damaged + 45] ^= 0x01
        try writeFileBytes(segmentPath, bytes)

        let sink = MemorySink()
        let log = try SegmentedLog(directory: directory.path, options: LogOptions(), logger: quietLogger(sink))
        defer { log.close() }

        #expect(try replayAll(log).map(\.1) == Array(records[..<2]))
        let errors = sink.lines.filter { $0.contains("level=error") }
        #expect(errors.count == 1)
        #expect(errors.first?.contains("offset=\(damaged)") == true)
        #expect(try fileBytes("\(segmentPath).cut-\(damaged)") == Array(bytes[damaged...]))
        #expect(!sink.lines.contains { $0.contains("unexpected file") })
    }

    @Test func savedCutFileIsIgnoredOnReopen() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let positions = try writeLog(directory, (0..<3).map { record($0, bodyBytes: 30) })
        let segmentPath = directory.segmentFiles()[0]
        var bytes = try fileBytes(segmentPath)
        bytes[Int(positions[1].rawValue) + 45] ^= 0x01
        try writeFileBytes(segmentPath, bytes)
        try SegmentedLog(directory: directory.path, options: LogOptions(), logger: quietLogger()).close()

        let sink = MemorySink()
        let log = try SegmentedLog(directory: directory.path, options: LogOptions(), logger: quietLogger(sink))
        defer { log.close() }

        #expect(try replayAll(log).map(\.0) == [positions[0]])
        #expect(!sink.lines.contains { $0.contains("level=warning") || $0.contains("level=error") })
    }

    @Test func zeroFilledTailIsCut() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let records = (0..<3).map { record($0) }
        let positions = try writeLog(directory, records)
        let segmentPath = directory.segmentFiles()[0]
        try writeFileBytes(segmentPath, try fileBytes(segmentPath) + [UInt8](repeating: 0, count: 4096))

        let log = try SegmentedLog(directory: directory.path, options: LogOptions(), logger: quietLogger())
        defer { log.close() }

        #expect(try replayAll(log).map(\.0) == positions)
        #expect(try fileBytes(segmentPath).count == Int(log.endPosition.rawValue))
    }

    @Test func missingMiddleSegmentFailsOpen() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        _ = try writeLog(directory, (0..<100).map { record($0, bodyBytes: 100) }, segmentBytes: 4096)
        let files = directory.segmentFiles()
        try FileManager.default.removeItem(atPath: files[1])

        #expect {
            try SegmentedLog(directory: directory.path, options: LogOptions(segmentBytes: 4096), logger: quietLogger())
        } throws: { error in
            guard case StorageError.corrupt(let message) = error else { return false }
            return message.contains(files[2])
        }
    }

    @Test func unexpectedFilesAreIgnoredWithWarning() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let positions = try writeLog(directory, [record(0)])
        try writeFileBytes(directory.path + "/log/notes.txt", Array("hello".utf8))

        let sink = MemorySink()
        let log = try SegmentedLog(directory: directory.path, options: LogOptions(), logger: quietLogger(sink))
        defer { log.close() }

        #expect(try replayAll(log).map(\.0) == positions)
        let warnings = sink.lines.filter { $0.contains("level=warning") }
        #expect(warnings.count == 1)
        #expect(warnings.first?.contains("notes.txt") == true)
    }
}
