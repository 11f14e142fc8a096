/// CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), computed eight bytes at a time with slicing-by-8 tables.
///
/// The same checksum as iSCSI, ext4 metadata and Kafka record batches: `CRC32C.checksum("123456789")` is 0xE3069283.
public enum CRC32C {
    /// Returns the CRC-32C of `bytes`.
    public static func checksum(_ bytes: UnsafeRawBufferPointer) -> UInt32 {
        finish(update(start, bytes))
    }

    /// Returns the CRC-32C of `bytes`.
    public static func checksum(_ bytes: [UInt8]) -> UInt32 {
        bytes.withUnsafeBytes { checksum($0) }
    }

    /// The running value before any byte; feed it to `update` and pass the result to `finish`.
    static let start: UInt32 = 0xFFFF_FFFF

    static func finish(_ state: UInt32) -> UInt32 { ~state }

    /// Folds `bytes` into a running CRC state, so one checksum can cover several separate ranges.
    static func update(_ state: UInt32, _ bytes: UnsafeRawBufferPointer) -> UInt32 {
        guard var pointer = bytes.baseAddress, !bytes.isEmpty else { return state }
        var crc = state
        var remaining = bytes.count
        let table = CRC32CTables.shared.pointer

        while remaining >= 8 {
            let word = UInt64(littleEndian: pointer.loadUnaligned(as: UInt64.self)) ^ UInt64(crc)
            crc = table[7 * 256 + Int(word & 0xFF)]
                ^ table[6 * 256 + Int((word >> 8) & 0xFF)]
                ^ table[5 * 256 + Int((word >> 16) & 0xFF)]
                ^ table[4 * 256 + Int((word >> 24) & 0xFF)]
                ^ table[3 * 256 + Int((word >> 32) & 0xFF)]
                ^ table[2 * 256 + Int((word >> 40) & 0xFF)]
                ^ table[1 * 256 + Int((word >> 48) & 0xFF)]
                ^ table[Int(word >> 56)]
            pointer += 8
            remaining -= 8
        }
        while remaining > 0 {
            let byte = pointer.load(as: UInt8.self)
            crc = table[Int((crc ^ UInt32(byte)) & 0xFF)] ^ (crc >> 8)
            pointer += 1
            remaining -= 1
        }
        return crc
    }
}

/// Eight 256-entry tables: table k maps a byte to its CRC contribution k bytes further along the message.
/// Allocated once and never freed, so the hot loop indexes a raw pointer without bounds or ownership checks.
private final class CRC32CTables: @unchecked Sendable {
    static let shared = CRC32CTables()

    // Written only in init, then read-only: safe to share between threads.
    let pointer: UnsafeMutablePointer<UInt32>

    private init() {
        let polynomial: UInt32 = 0x82F6_3B78
        pointer = UnsafeMutablePointer<UInt32>.allocate(capacity: 8 * 256)
        for byte in 0..<256 {
            var crc = UInt32(byte)
            for _ in 0..<8 {
                crc = crc & 1 == 1 ? (crc >> 1) ^ polynomial : crc >> 1
            }
            pointer[byte] = crc
        }
        for slice in 1..<8 {
            for byte in 0..<256 {
                let previous = pointer[(slice - 1) * 256 + byte]
                pointer[slice * 256 + byte] = pointer[Int(previous & 0xFF)] ^ (previous >> 8)
            }
        }
    }
}
