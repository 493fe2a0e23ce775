import Synchronization

/// Counters the gateway exposes at `GET /metrics` (Prometheus text format), e.g. to show that a
/// warm range is served from the sort cache without a SORT command.
public final class GatewayMetrics: Sendable {
    public enum Counter: String, CaseIterable, Sendable {
        case imapSortCommands = "gateway_imap_sort_commands_total"
        /// Orders the gateway computed itself (RFC 5256) because the server lacks SORT.
        case ownSorts = "gateway_own_sorts_total"
        case sortCacheHits = "gateway_sort_cache_hits_total"
        case sortCacheMisses = "gateway_sort_cache_misses_total"
        /// Conversation listings and batches answered from the in-memory conversation set (no folder changed).
        case conversationSetHits = "gateway_conversation_set_hits_total"
        /// Conversation sets built again (a folder changed, or no CONDSTORE to tell).
        case conversationSetBuilds = "gateway_conversation_set_builds_total"
        /// Folders whose conversation headers and flags were reused from memory (STATUS unchanged).
        case conversationFolderHits = "gateway_conversation_folder_hits_total"
        case metadataFullSyncs = "gateway_metadata_full_syncs_total"
        case metadataIncrementalSyncs = "gateway_metadata_incremental_syncs_total"
        case batchRequests = "gateway_batch_requests_total"
        case batchItems = "gateway_batch_items_total"
        case batchFailedItems = "gateway_batch_failed_items_total"
    }

    private let values = Mutex<[Counter: Int]>([:])

    public init() {}

    public func increment(_ counter: Counter, by amount: Int = 1) {
        values.withLock { $0[counter, default: 0] += amount }
    }

    public func value(_ counter: Counter) -> Int { values.withLock { $0[counter, default: 0] } }

    /// The Prometheus text exposition of every counter.
    public func prometheusText() -> String {
        let snapshot = values.withLock { $0 }
        return Counter.allCases.map { counter in
            "# TYPE \(counter.rawValue) counter\n\(counter.rawValue) \(snapshot[counter, default: 0])\n"
        }.joined()
    }
}
