/// A growable byte buffer that keeps its memory between uses, so the writer thread allocates only when a batch
/// is larger than every batch before it. Owned by one thread at a time.
final class ByteBuffer {
    private(set) var base: UnsafeMutableRawPointer
    private(set) var capacity: Int
    private(set) var count = 0

    init(capacity: Int) {
        self.capacity = max(capacity, 64)
        base = UnsafeMutableRawPointer.allocate(byteCount: self.capacity, alignment: 16)
    }

    deinit { base.deallocate() }

    var bytes: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: base, count: count) }

    /// Makes room for `extra` more bytes and returns where they start; the caller fills them.
    func reserveAppend(_ extra: Int) -> UnsafeMutableRawPointer {
        ensureCapacity(count + extra)
        let destination = base + count
        count += extra
        return destination
    }

    func removeAll() { count = 0 }

    /// Gives back the last bytes of a `reserveAppend` that were not filled.
    func removeLast(_ suffix: Int) {
        precondition(suffix <= count, "removing more bytes than the buffer holds")
        count -= suffix
    }

    /// Drops the first `prefix` bytes, moving the rest to the front.
    func removeFirst(_ prefix: Int) {
        precondition(prefix <= count, "removing more bytes than the buffer holds")
        if prefix < count { base.copyMemory(from: base + prefix, byteCount: count - prefix) }
        count -= prefix
    }

    func ensureCapacity(_ needed: Int) {
        guard needed > capacity else { return }
        var grown = capacity
        while grown < needed { grown *= 2 }
        let replacement = UnsafeMutableRawPointer.allocate(byteCount: grown, alignment: 16)
        replacement.copyMemory(from: base, byteCount: count)
        base.deallocate()
        base = replacement
        capacity = grown
    }
}
