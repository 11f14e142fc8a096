extension Base64 {
    /// Encodes `bytes` with padding into ASCII bytes.
    ///
    /// A non-generic entry point for callers in other modules. The generic functions are not inlinable, so
    /// outside this module they run unspecialized, with protocol witness calls for every byte.
    public static func encodeArray(_ bytes: [UInt8]) -> [UInt8] {
        encodeToBytes(bytes)
    }

    /// Decodes standard base64 with the rules of `decode(_:)`; the non-generic entry point for other modules.
    public static func decodeArray(_ text: [UInt8]) -> [UInt8]? {
        decode(text)
    }

    /// Appends the padded encoding of `bytes` to `output`.
    public static func appendEncoded(_ bytes: [UInt8], to output: inout [UInt8]) {
        bytes.withUnsafeBufferPointer { appendEncoded($0, to: &output) }
    }
}
