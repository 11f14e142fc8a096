/// A map from message sequences to values, stored as one array indexed by the distance from the lowest
/// sequence present.
///
/// A stream's retained messages have dense sequences that arrive in ascending order and mostly leave from the
/// low end, so an array serves them without hashing or rehashing, at one slot per sequence between the lowest
/// and the highest present. Sequences removed in the middle leave empty slots until the low end passes them.
struct SequenceTable<Value> {
    /// Slot `head + n` contains the value of sequence `base + n`.
    private var slots: [Value?] = []
    private var head = 0
    /// The sequence of `slots[head]`; meaningless while the table is empty.
    private var base: UInt64 = 0
    /// Number of sequences with a value.
    private(set) var count = 0

    var isEmpty: Bool { count == 0 }

    /// The values' sequences in ascending order.
    var keys: [UInt64] { map(\.key) }

    /// Index of `sequence` in `slots`, or nil when it lies outside the slots.
    private func slot(_ sequence: UInt64) -> Int? {
        guard sequence >= base else { return nil }
        let distance = sequence - base
        guard distance < UInt64(slots.count - head) else { return nil }
        return head + Int(distance)
    }

    subscript(sequence: UInt64) -> Value? {
        get {
            guard let slot = slot(sequence) else { return nil }
            return slots[slot]
        }
        set {
            if let newValue {
                updateValue(newValue, forKey: sequence)
            } else {
                removeValue(forKey: sequence)
            }
        }
    }

    /// Stores `value` for `sequence`; returns the value it replaced.
    @discardableResult
    mutating func updateValue(_ value: Value, forKey sequence: UInt64) -> Value? {
        if count == 0 {
            slots.removeAll(keepingCapacity: true)
            head = 0
            base = sequence
            slots.append(value)
            count = 1
            return nil
        }
        if let slot = slot(sequence) {
            let old = slots[slot]
            slots[slot] = value
            if old == nil { count += 1 }
            return old
        }
        if sequence < base {
            // Below the lowest slot: only recovery could insert out of order, so a copy is acceptable.
            let gap = Int(base - sequence)
            slots.replaceSubrange(0..<head, with: [value] + Array(repeating: nil, count: gap - 1))
            head = 0
            base = sequence
        } else {
            let end = base + UInt64(slots.count - head)
            slots.append(contentsOf: repeatElement(nil, count: Int(sequence - end)))
            slots.append(value)
        }
        count += 1
        return nil
    }

    /// Removes the value of `sequence`; returns it, or nil when there was none.
    @discardableResult
    mutating func removeValue(forKey sequence: UInt64) -> Value? {
        guard let slot = slot(sequence), let old = slots[slot] else { return nil }
        slots[slot] = nil
        count -= 1
        if count == 0 {
            // Give the storage back: an idle stream should cost nothing here.
            slots = []
            head = 0
            return old
        }
        while slots[head] == nil {
            head += 1
            base += 1
        }
        // Drop the empty front once it is most of the array, so removals from the low end cost O(1) amortized.
        if head >= 1024, head * 2 >= slots.count {
            slots.removeFirst(head)
            head = 0
        }
        return old
    }

    /// Changes the value of `sequence` in place, if it has one.
    mutating func modify(_ sequence: UInt64, _ change: (inout Value) -> Void) {
        guard let slot = slot(sequence), slots[slot] != nil else { return }
        change(&slots[slot]!)
    }
}

extension SequenceTable: Sequence {
    struct Iterator: IteratorProtocol {
        fileprivate let table: SequenceTable
        fileprivate var position: Int

        mutating func next() -> (key: UInt64, value: Value)? {
            while position < table.slots.count {
                defer { position += 1 }
                if let value = table.slots[position] {
                    return (table.base + UInt64(position - table.head), value)
                }
            }
            return nil
        }
    }

    /// Visits the values in ascending sequence order.
    func makeIterator() -> Iterator {
        Iterator(table: self, position: head)
    }

    var underestimatedCount: Int { count }
}

extension SequenceTable: Sendable where Value: Sendable {}
