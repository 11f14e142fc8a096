/// Settings of the API layer; every default is here.
public struct APIConfiguration: Sendable {
    /// Region name reported by `/datacenter/*` and the `x-gdn-region` header.
    public var region: String = "local"
    /// `host[:port]` that `/datacenter/local` reports as `tags.url`; clients connect to `api-` + this.
    public var advertiseURL: String = "localhost:8000"
    /// Producer and consumer connections create missing streams (GDN's behaviour).
    public var autoCreateStreams: Bool = true
    /// Largest message payload in bytes.
    public var maxPayloadBytes: Int = 5 * 1024 * 1024
    /// Largest `receiverQueueSize` a consumer may ask for; larger values are capped.
    public var maxReceiverQueueSize: Int = 1000

    public init() {}
}
