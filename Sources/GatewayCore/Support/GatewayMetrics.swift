import Metrics
import Synchronization

/// The engine's own metrics (caches, syncs, batches, job chunks), recorded through swift-metrics
/// on the factory it is given: the app passes one over its Prometheus registry, so `GET /metrics`
/// shows them; tests and tools that pass none record nothing.
public final class GatewayMetrics: Sendable {
    public enum Counter: String, CaseIterable, Sendable {
        case imapSortCommands = "gateway_imap_sort_commands_total"
        /// Orders the gateway computed itself (RFC 5256) because the server lacks SORT.
        case ownSorts = "gateway_own_sorts_total"
        case sortCacheHits = "gateway_sort_cache_hits_total"
        case sortCacheMisses = "gateway_sort_cache_misses_total"
        /// Listings and batches that used the account's kept folder list (no LIST sent).
        case folderListCacheHits = "gateway_folder_list_cache_hits_total"
        /// Folder lists asked of the server (none kept, too old, or a folder ID it did not know).
        case folderListCacheMisses = "gateway_folder_list_cache_misses_total"
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
        /// Job chunks carried out (a resumed chunk counts again).
        case jobChunks = "gateway_job_chunks_total"
    }

    /// How long one job chunk took, by operation (`move`, `copy`, `update`, ...).
    public static let jobChunkDuration = "gateway_job_chunk_duration_seconds"

    private let factory: any MetricsFactory
    private let counters: [Counter: CoreMetrics.Counter]
    private let chunkTimers = Mutex<[String: CoreMetrics.Timer]>([:])

    /// - Parameter factory: where the metrics go; the no-op factory records nothing.
    public init(factory: any MetricsFactory = NOOPMetricsHandler.instance) {
        self.factory = factory
        var counters: [Counter: CoreMetrics.Counter] = [:]
        for counter in Counter.allCases {
            counters[counter] = CoreMetrics.Counter(label: counter.rawValue, dimensions: [], factory: factory)
        }
        self.counters = counters
    }

    public func increment(_ counter: Counter, by amount: Int = 1) {
        counters[counter]?.increment(by: amount)
    }

    /// Records one job chunk's duration under its operation's name (a handful of fixed values).
    public func recordJobChunk(operation: String, duration: Duration) {
        increment(.jobChunks)
        let timer = chunkTimers.withLock { timers in
            if let timer = timers[operation] { return timer }
            let timer = CoreMetrics.Timer(label: Self.jobChunkDuration, dimensions: [("operation", operation)], factory: factory)
            timers[operation] = timer
            return timer
        }
        timer.record(duration: duration)
    }
}

extension GatewayMetrics.Counter {
    /// The counter's `# HELP` text.
    public var help: String {
        switch self {
        case .imapSortCommands: "UID SORT commands sent for listings and ranges."
        case .ownSorts: "Orders the gateway computed itself (RFC 5256) because the server lacks SORT."
        case .sortCacheHits: "Listings and ranges ordered from the sort cache."
        case .sortCacheMisses: "Listings and ranges whose order had to be asked of the server or computed."
        case .folderListCacheHits: "Requests that used the account's kept folder list (no LIST sent)."
        case .folderListCacheMisses: "Requests that listed the account's folders afresh."
        case .conversationSetHits: "Conversation listings and batches answered from the in-memory conversation set."
        case .conversationSetBuilds: "Conversation sets built again (a folder changed, or no CONDSTORE to tell)."
        case .conversationFolderHits: "Folders whose conversation headers were reused from memory (STATUS unchanged)."
        case .metadataFullSyncs: "Folder metadata caches filled from scratch."
        case .metadataIncrementalSyncs: "Folder metadata caches brought up to date incrementally."
        case .batchRequests: "Synchronous batch requests carried out."
        case .batchItems: "Items named by synchronous batch requests."
        case .batchFailedItems: "Items of synchronous batch requests that failed."
        case .jobChunks: "Job chunks carried out (a resumed chunk counts again)."
        }
    }
}
