/// A FIFO of bytes with a movable read index, so consuming from the front does not copy.
struct ByteQueue {
    private(set) var storage: [UInt8] = []
    private(set) var head = 0

    var count: Int { storage.count - head }
    var isEmpty: Bool { head == storage.count }

    subscript(offset: Int) -> UInt8 {
        storage[head + offset]
    }

    mutating func append<Bytes: Sequence>(contentsOf bytes: Bytes) where Bytes.Element == UInt8 {
        storage.append(contentsOf: bytes)
    }

    mutating func append(_ byte: UInt8) {
        storage.append(byte)
    }

    mutating func append(_ bytes: UnsafeRawBufferPointer) {
        storage.append(contentsOf: bytes)
    }

    /// Drops `length` bytes from the front. Compacts once the consumed prefix outweighs the live bytes.
    mutating func consume(_ length: Int) {
        precondition(length >= 0 && length <= count, "consuming more bytes than queued")
        head += length
        if head == storage.count {
            // Large buffers are released so an idle connection does not pin a burst's memory.
            if storage.capacity > 256 * 1024 {
                storage = []
            } else {
                storage.removeAll(keepingCapacity: true)
            }
            head = 0
        } else if head > 64 * 1024 && head > storage.count / 2 {
            storage.removeFirst(head)
            head = 0
        }
    }

    /// Removes and returns the first `length` bytes.
    mutating func read(_ length: Int) -> [UInt8] {
        let bytes = Array(storage[head..<(head + length)])
        consume(length)
        return bytes
    }

    /// Calls `body` with the queued bytes; the pointer is valid only inside `body`.
    func withReadableBytes<Result>(_ body: (UnsafeRawBufferPointer) throws -> Result) rethrows -> Result {
        let start = head
        return try storage.withUnsafeBytes { buffer in
            try body(UnsafeRawBufferPointer(rebasing: buffer[start...]))
        }
    }

    /// Index (relative to the front) of the first `byte` at or after `offset`, or nil.
    func firstIndex(of byte: UInt8, from offset: Int = 0) -> Int? {
        var index = head + offset
        while index < storage.count {
            if storage[index] == byte { return index - head }
            index += 1
        }
        return nil
    }

    /// A copy of the bytes in `range`, relative to the front.
    func bytes(_ range: Range<Int>) -> ArraySlice<UInt8> {
        storage[(head + range.lowerBound)..<(head + range.upperBound)]
    }
}
