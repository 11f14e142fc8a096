/// A map from message sequences to values: a dense array for the recent range and a hash map for the few
/// older values left far behind it.
///
/// A stream's retained messages have dense sequences that arrive in ascending order and mostly leave from the
/// low end, so an array indexed by the distance from its lowest sequence serves them without hashing. One
/// message that stays (unacknowledged, or retained across a restart) while later ones leave would make that
/// array span everything published since. Such values move to `outliers`, so memory follows the number of
/// values rather than the span of their sequences.
struct SequenceTable<Value> {
    /// Slot `head + n` contains the value of sequence `base + n`.
    private var slots: [Value?] = []
    private var head = 0
    /// The sequence of `slots[head]`; meaningless while the dense range is empty.
    private var base: UInt64 = 0
    /// Number of values in `slots`.
    private var denseCount = 0
    /// Values below the dense range, every key lower than `base`.
    private var outliers: [UInt64: Value] = [:]
    /// The highest key ever stored in `outliers` since it was last empty; the dense range starts above it.
    private var outlierCeiling: UInt64 = 0

    /// The dense range may span this many slots per value before its oldest values move to `outliers`.
    private static var maxSlotsPerValue: Int { 4 }
    /// Spans up to this many slots stay dense whatever their occupancy.
    private static var minSparseSpan: Int { 1024 }

    /// Number of sequences with a value.
    var count: Int { denseCount + outliers.count }

    var isEmpty: Bool { count == 0 }

    /// Slots in the dense array, empty ones included: what the table costs beyond its values.
    var slotCount: Int { slots.count }

    /// The values' sequences in ascending order.
    var keys: [UInt64] { map(\.key) }

    /// Index of `sequence` in `slots`, or nil when it lies outside the dense range.
    private func slot(_ sequence: UInt64) -> Int? {
        guard sequence >= base else { return nil }
        let distance = sequence - base
        guard distance < UInt64(slots.count - head) else { return nil }
        return head + Int(distance)
    }

    subscript(sequence: UInt64) -> Value? {
        get {
            if let slot = slot(sequence) { return slots[slot] }
            return outliers.isEmpty ? nil : outliers[sequence]
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
        if let slot = slot(sequence) {
            let old = slots[slot]
            slots[slot] = value
            if old == nil { denseCount += 1 }
            return old
        }
        if denseCount == 0 {
            guard outliers.isEmpty || sequence > outlierCeiling else { return storeOutlier(value, sequence) }
            slots.removeAll(keepingCapacity: true)
            head = 0
            base = sequence
            slots.append(value)
            denseCount = 1
            return nil
        }
        if sequence < base {
            // Recovery is the only source of inserts below the dense range; they go to the outliers.
            return storeOutlier(value, sequence)
        }
        let end = base + UInt64(slots.count - head)
        let gap = sequence - end
        if gap > UInt64(Self.minSparseSpan + Self.maxSlotsPerValue * denseCount) {
            // Far past everything present: the present values become outliers and the dense range starts again.
            moveDenseToOutliers()
            return updateValue(value, forKey: sequence)
        }
        slots.append(contentsOf: repeatElement(nil, count: Int(gap)))
        slots.append(value)
        denseCount += 1
        return nil
    }

    /// Removes the value of `sequence`; returns it, or nil when there was none.
    @discardableResult
    mutating func removeValue(forKey sequence: UInt64) -> Value? {
        guard let slot = slot(sequence) else {
            return outliers.isEmpty ? nil : outliers.removeValue(forKey: sequence)
        }
        guard let old = slots[slot] else { return nil }
        slots[slot] = nil
        denseCount -= 1
        if denseCount == 0 {
            // Give the storage back: an idle stream should cost nothing here.
            slots = []
            head = 0
            return old
        }
        advanceHead()
        // A value that stays at the low end while later ones leave would keep the span growing: move it out.
        while slots.count - head > Self.minSparseSpan, (slots.count - head) > Self.maxSlotsPerValue * denseCount {
            storeOutlier(slots[head]!, base)
            slots[head] = nil
            denseCount -= 1
            advanceHead()
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
        if let slot = slot(sequence) {
            guard slots[slot] != nil else { return }
            change(&slots[slot]!)
        } else if !outliers.isEmpty, outliers[sequence] != nil {
            change(&outliers[sequence]!)
        }
    }

    @discardableResult
    private mutating func storeOutlier(_ value: Value, _ sequence: UInt64) -> Value? {
        if outliers.isEmpty { outlierCeiling = 0 }
        outlierCeiling = Swift.max(outlierCeiling, sequence)
        return outliers.updateValue(value, forKey: sequence)
    }

    /// Moves `head` to the lowest value in `slots`; call only while the dense range has a value.
    private mutating func advanceHead() {
        while slots[head] == nil {
            head += 1
            base += 1
        }
    }

    private mutating func moveDenseToOutliers() {
        for position in head..<slots.count {
            if let value = slots[position] { storeOutlier(value, base + UInt64(position - head)) }
        }
        slots = []
        head = 0
        denseCount = 0
    }
}

extension SequenceTable: Sequence {
    struct Iterator: IteratorProtocol {
        fileprivate let table: SequenceTable
        fileprivate let outlierKeys: [UInt64]
        fileprivate var outlierPosition = 0
        fileprivate var position: Int

        mutating func next() -> (key: UInt64, value: Value)? {
            if outlierPosition < outlierKeys.count {
                defer { outlierPosition += 1 }
                let key = outlierKeys[outlierPosition]
                return (key, table.outliers[key]!)
            }
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
        Iterator(table: self, outlierKeys: outliers.keys.sorted(), position: head)
    }

    var underestimatedCount: Int { count }
}

extension SequenceTable: Sendable where Value: Sendable {}
