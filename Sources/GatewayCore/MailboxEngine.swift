import Logging
import Metrics

/// The batch engine, assembled: every service the HTTP layer calls, built over the ports the
/// engine declares (``MailServer`` and the stores). `GatewayApp` builds it over the IMAP pool and
/// the SQLite store; tests build it over in-memory fakes.
public struct MailboxEngine: Sendable {
    /// What the engine needs from outside.
    public struct Ports: Sendable {
        public var mailServer: any MailServer
        public var folders: any FolderStore
        public var labels: any LabelStore
        public var listingCache: any ListingCache
        public var conversationCache: any ConversationCache
        public var jobs: any JobStore
        public var sessions: any SessionStore

        public init(
            mailServer: any MailServer, folders: any FolderStore, labels: any LabelStore, listingCache: any ListingCache,
            conversationCache: any ConversationCache, jobs: any JobStore, sessions: any SessionStore
        ) {
            self.mailServer = mailServer
            self.folders = folders
            self.labels = labels
            self.listingCache = listingCache
            self.conversationCache = conversationCache
            self.jobs = jobs
            self.sessions = sessions
        }
    }

    /// The engine's settings (read once at start by the app).
    public struct Configuration: Sendable {
        public var batch: MailBatchExecutor.Configuration
        public var jobs: JobService.Configuration
        /// Most messages one metadata `UID FETCH` asks about (`listing.metadataFetchBatch`).
        public var metadataFetchBatch: Int
        public var loginThrottle: LoginThrottle.Configuration
        /// How long listings and batches reuse a LIST of the account's folders (`listing.folderListSeconds`);
        /// zero lists on every request.
        public var folderListAge: Duration
        /// Credentials to resume an account's jobs with when its own are not known (a master user
        /// acting for the account), or nil.
        public var resumeCredentials: @Sendable (String) -> AccountCredentials?

        public init(
            batch: MailBatchExecutor.Configuration = .init(), jobs: JobService.Configuration = .init(), metadataFetchBatch: Int = 5000,
            loginThrottle: LoginThrottle.Configuration = .init(), folderListAge: Duration = .seconds(5),
            resumeCredentials: @escaping @Sendable (String) -> AccountCredentials? = { _ in nil }
        ) {
            self.batch = batch
            self.jobs = jobs
            self.metadataFetchBatch = metadataFetchBatch
            self.loginThrottle = loginThrottle
            self.folderListAge = folderListAge
            self.resumeCredentials = resumeCredentials
        }
    }

    public let batches: MailBatchExecutor
    public let jobs: JobService
    public let listing: MailListing
    public let conversations: ConversationListing
    public let conversationBatches: ConversationBatchExecutor
    public let folders: FolderService
    public let labels: LabelService
    public let authenticator: Authenticator
    public let sessions: any SessionStore
    public let metrics: GatewayMetrics

    /// - Parameter metricsFactory: where the engine's metrics go (the app passes its Prometheus
    ///   registry's factory); by default nowhere.
    public init(ports: Ports, configuration: Configuration, metricsFactory: any MetricsFactory = NOOPMetricsHandler.instance, logger: Logger) {
        let metrics = GatewayMetrics(factory: metricsFactory)
        let ordering = MailOrdering(
            cache: ports.listingCache, metrics: metrics, metadataFetchBatch: configuration.metadataFetchBatch, logger: logger)
        let jobs = JobService(
            mailServer: ports.mailServer, store: ports.jobs, folders: ports.folders, labels: ports.labels,
            executorConfiguration: configuration.batch, configuration: configuration.jobs,
            resumeCredentials: configuration.resumeCredentials, metrics: metrics, logger: logger)
        self.metrics = metrics
        self.jobs = jobs
        self.sessions = ports.sessions
        let folderLists = FolderListCache(store: ports.folders, maxAge: configuration.folderListAge, metrics: metrics)
        batches = MailBatchExecutor(
            mailServer: ports.mailServer, folderLists: folderLists, labels: ports.labels, ordering: ordering, jobs: jobs,
            configuration: configuration.batch, logger: logger)
        listing = MailListing(mailServer: ports.mailServer, folderLists: folderLists, labels: ports.labels, ordering: ordering)
        let index = ConversationIndex(cache: ports.conversationCache, ordering: ordering, fetchBatch: configuration.metadataFetchBatch)
        conversations = ConversationListing(mailServer: ports.mailServer, folders: ports.folders, labels: ports.labels, index: index)
        conversationBatches = ConversationBatchExecutor(mailServer: ports.mailServer, listing: conversations, executor: batches)
        folders = FolderService(mailServer: ports.mailServer, folderLists: folderLists)
        labels = LabelService(mailServer: ports.mailServer, folders: ports.folders, store: ports.labels, logger: logger)
        authenticator = Authenticator(
            mailServer: ports.mailServer, sessions: ports.sessions, jobs: jobs, throttle: configuration.loginThrottle)
    }
}
