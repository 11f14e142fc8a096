import RivuletHTTP

/// A request path split into its optional `/_tenant/{t}` and `/_fabric/{f}` prefixes and the remaining segments.
struct RESTPath: Equatable {
    var tenant: String?
    var fabric: String?
    /// Percent-decoded segments after the prefixes, with a leading `_api` removed.
    var segments: [String]

    /// Collapses repeated slashes and ignores a trailing slash; decodes each segment after splitting, so `%2F` stays inside it.
    init(_ rawPath: String) {
        var segments = PathNormalization.collapseSlashes(rawPath)
            .split(separator: "/", omittingEmptySubsequences: true)
            .map { PercentDecoding.decode($0, plusAsSpace: false) }
        if segments.count >= 2, segments[0] == "_tenant" {
            tenant = segments[1]
            segments.removeFirst(2)
        }
        if segments.count >= 2, segments[0] == "_fabric" {
            fabric = segments[1]
            segments.removeFirst(2)
        }
        if segments.first == "_api" { segments.removeFirst() }
        self.segments = segments
    }
}
