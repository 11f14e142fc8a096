import Testing
@testable import RivuletStorage

@Suite struct CRC32CTests {
    /// Bit-at-a-time CRC-32C, the definition the table-driven version must match.
    private func referenceChecksum(_ bytes: [UInt8]) -> UInt32 {
        var crc: UInt32 = 0xFFFF_FFFF
        for byte in bytes {
            crc ^= UInt32(byte)
            for _ in 0..<8 { crc = crc & 1 == 1 ? (crc >> 1) ^ 0x82F6_3B78 : crc >> 1 }
        }
        return ~crc
    }

    @Test func knownVectors() {
        #expect(CRC32C.checksum(Array("123456789".utf8)) == 0xE306_9283)
        #expect(CRC32C.checksum([]) == 0)
        // RFC 3720 (iSCSI), appendix B.4: 32 bytes of zeros.
        #expect(CRC32C.checksum([UInt8](repeating: 0, count: 32)) == 0x8A91_36AA)
    }

    @Test func matchesBitwiseDefinitionForEveryLength() {
        var generator = SystemRandomNumberGenerator()
        for length in 0..<100 {
            let bytes = (0..<length).map { _ in UInt8.random(in: 0...255, using: &generator) }
            #expect(CRC32C.checksum(bytes) == referenceChecksum(bytes), "length \(length)")
        }
    }

    @Test func updateOverPiecesEqualsWhole() {
        let bytes = (0..<1000).map { UInt8(truncatingIfNeeded: $0 * 7) }
        let whole = CRC32C.checksum(bytes)
        let pieces = bytes.withUnsafeBytes { buffer in
            let first = CRC32C.update(CRC32C.start, UnsafeRawBufferPointer(rebasing: buffer[..<333]))
            return CRC32C.finish(CRC32C.update(first, UnsafeRawBufferPointer(rebasing: buffer[333...])))
        }
        #expect(pieces == whole)
    }
}
