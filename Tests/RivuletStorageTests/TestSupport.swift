import Foundation
import RivuletCore
import Synchronization
import Testing
@testable import RivuletStorage

/// A fresh directory under the system temporary directory, removed by `remove()`.
struct TemporaryDirectory {
    let path: String

    init() throws {
        var template = Array((NSTemporaryDirectory() + "/rivulet-storage-XXXXXX").utf8CString)
        let created = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
        guard let created else { throw StorageError.io("mkdtemp failed: \(String(cString: strerror(errno)))") }
        path = String(cString: created)
    }

    func remove() {
        try? FileManager.default.removeItem(atPath: path)
    }

    /// Lists the segment files under `log/`, sorted by name (which is by base position).
    func segmentFiles() -> [String] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: path + "/log")) ?? []
        return names.filter { $0.hasSuffix(".seg") }.sorted().map { path + "/log/" + $0 }
    }
}

/// The log implementations that the shared behaviour tests run against.
enum StoreKind: String, CaseIterable, CustomTestStringConvertible, Sendable {
    case memory
    case segmented

    var testDescription: String { rawValue }

    func open(in directory: TemporaryDirectory, options: LogOptions = LogOptions()) throws -> any RecordLog {
        switch self {
        case .memory: MemoryLog()
        case .segmented: try SegmentedLog(directory: directory.path, options: options, logger: quietLogger())
        }
    }
}

func quietLogger(_ sink: MemorySink = MemorySink()) -> Logger {
    Logger(label: "storage-test", level: .debug, sink: sink)
}

/// Appends and blocks until the completion ran; a generous timeout turns a hang into a failure.
func appendAndWait(_ log: any RecordLog, _ records: [LogRecord]) -> Result<[LogPosition], StorageError> {
    let done = DispatchSemaphore(value: 0)
    let result = Mutex<Result<[LogPosition], StorageError>?>(nil)
    log.append(records) { outcome in
        result.withLock { $0 = outcome }
        done.signal()
    }
    guard done.wait(timeout: .now() + 60) == .success else { return .failure(.io("append did not complete within 60 s")) }
    return result.withLock { $0! }
}

func record(_ index: Int, stream: UInt64 = 7, bodyBytes: Int = 24, type: RecordType = .message) -> LogRecord {
    let body = (0..<bodyBytes).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ index) }
    return LogRecord(type: type, streamId: stream, sequence: UInt64(index), timestamp: 1_700_000_000_000 + Int64(index), body: body)
}

func replayAll(_ log: any RecordLog, from position: LogPosition = .zero) throws -> [(LogPosition, LogRecord)] {
    var visited: [(LogPosition, LogRecord)] = []
    try log.replay(from: position) { visited.append(($0, $1)) }
    return visited
}

func fileBytes(_ path: String) throws -> [UInt8] {
    try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
}

func writeFileBytes(_ path: String, _ bytes: [UInt8]) throws {
    try Data(bytes).write(to: URL(fileURLWithPath: path))
}
