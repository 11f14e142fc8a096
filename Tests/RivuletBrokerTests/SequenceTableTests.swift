import Testing
@testable import RivuletBroker

@Suite struct SequenceTableTests {
    @Test func ascendingInsertsIterateInOrder() {
        var table = SequenceTable<String>()
        for sequence in UInt64(5)...9 { table[sequence] = "m\(sequence)" }
        #expect(table.count == 5)
        #expect(table.keys == [5, 6, 7, 8, 9])
        #expect(table.map(\.value) == ["m5", "m6", "m7", "m8", "m9"])
        #expect(table[4] == nil)
        #expect(table[10] == nil)
    }

    @Test func removalsKeepTheOtherValues() {
        var table = SequenceTable<Int>()
        for sequence in UInt64(1)...6 { table[sequence] = Int(sequence) }
        #expect(table.removeValue(forKey: 3) == 3)
        #expect(table.removeValue(forKey: 3) == nil)
        #expect(table.removeValue(forKey: 1) == 1)
        #expect(table.keys == [2, 4, 5, 6])
        table[2] = nil
        #expect(table.keys == [4, 5, 6])
        #expect(table[4] == 4)
    }

    @Test func gapsAndInsertsBelowTheLowest() {
        var table = SequenceTable<Int>()
        table[10] = 10
        table[14] = 14
        table[7] = 7
        #expect(table.keys == [7, 10, 14])
        #expect(table.count == 3)
        #expect(table.updateValue(100, forKey: 10) == 10)
        #expect(table[10] == 100)
        #expect(table.count == 3)
    }

    @Test func emptiedTableStartsAgainAnywhere() {
        var table = SequenceTable<Int>()
        table[1] = 1
        table[1] = nil
        #expect(table.isEmpty)
        table[1_000_000] = 5
        #expect(table.keys == [1_000_000])
    }

    @Test func modifyChangesOnlyPresentValues() {
        var table = SequenceTable<Int>()
        table[3] = 1
        table.modify(3) { $0 += 1 }
        table.modify(4) { $0 += 1 }
        #expect(table[3] == 2)
        #expect(table[4] == nil)
        #expect(table.count == 1)
    }

    @Test func stuckLowValueDoesNotGrowTheArray() {
        var table = SequenceTable<UInt64>()
        table[1] = 1
        // A consumer acknowledges everything after the first message, which stays unacknowledged.
        for sequence in UInt64(2)...200_000 {
            table[sequence] = sequence
            if sequence > 1_001 { table[sequence - 1_000] = nil }
        }
        #expect(table.count == 1_001)
        #expect(table.slotCount < 10_000)
        #expect(table[1] == 1)
        #expect(table.keys.first == 1)
        #expect(table.keys.count == 1_001)
        table[1] = nil
        #expect(table[1] == nil)
        #expect(table.count == 1_000)
    }

    @Test func farGapAfterRestartStaysSparse() {
        var table = SequenceTable<UInt64>()
        // Recovery: a few old messages still retained, then the recent ones.
        for sequence: UInt64 in [5, 9, 10_000_000, 10_000_001, 10_000_002] { table[sequence] = sequence }
        #expect(table.slotCount < 1_000)
        #expect(table.keys == [5, 9, 10_000_000, 10_000_001, 10_000_002])
        table.modify(9) { $0 += 1 }
        #expect(table[9] == 10)
        #expect(table.removeValue(forKey: 5) == 5)
        table[10_000_003] = 1
        #expect(table.keys == [9, 10_000_000, 10_000_001, 10_000_002, 10_000_003])
    }

    @Test func randomOperationsMatchADictionary() {
        var generator = SplitMix(seed: 42)
        var table = SequenceTable<UInt64>()
        var model: [UInt64: UInt64] = [:]
        var next: UInt64 = 1
        for _ in 0..<20_000 {
            switch generator.next() % 10 {
            case 0...4:
                // Publishing: the next sequence, sometimes after a skipped one.
                next += generator.next() % 8 == 0 ? 2 : 1
                table[next] = next * 3
                model[next] = next * 3
            case 5...6:
                // Acknowledging from the low end.
                if let lowest = model.keys.min() {
                    #expect(table.removeValue(forKey: lowest) == model.removeValue(forKey: lowest))
                }
            case 7...8:
                // Acknowledging or expiring anywhere, present or not.
                let sequence = generator.next() % (next + 2)
                #expect(table.removeValue(forKey: sequence) == model.removeValue(forKey: sequence))
            default:
                // Rarely, a jump far ahead, as after a restart that kept only a few old messages.
                if generator.next() % 50 == 0 {
                    next += 5_000
                    table[next] = next * 3
                    model[next] = next * 3
                } else if let sequence = model.keys.randomElement(using: &generator) {
                    #expect(table[sequence] == model[sequence])
                }
            }
        }
        #expect(table.count == model.count)
        #expect(table.keys == model.keys.sorted())
        #expect(table.allSatisfy { model[$0.key] == $0.value })
    }
}

/// A small deterministic generator, so a failure replays the same operations.
private struct SplitMix: RandomNumberGenerator {
    var state: UInt64

    init(seed: UInt64) {
        state = seed
    }

    mutating func next() -> UInt64 {
        state &+= 0x9e37_79b9_7f4a_7c15
        var mixed = state
        mixed = (mixed ^ (mixed >> 30)) &* 0xbf58_476d_1ce4_e5b9
        mixed = (mixed ^ (mixed >> 27)) &* 0x94d0_49bb_1331_11eb
        return mixed ^ (mixed >> 31)
    }
}
