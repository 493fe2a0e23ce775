import Logging
import PostgresNIO

/// The schema of the PostgreSQL store, as an ordered list of named migrations.
///
/// The rule (the same as the SQLite store's): a migration that has shipped is **never edited,
/// renamed or removed**. Databases remember which migrations they ran (by name, in
/// `schema_migrations`) and will not run a changed one again. Any change to the schema is a new
/// migration appended at the end of ``all`` with a new name (`"v2-…"`).
///
/// Names are snake_case; values are stored as the SQLite store stores them (UIDs packed as
/// little-endian `UInt32` in `bytea`, sort keys and references as `bytea`, a job's operation,
/// chunks and item lists as the engine's JSON), so both stores behave alike.
enum PostgresMigrations {
    struct Migration {
        var name: String
        var statements: [PostgresQuery]
    }

    /// Any constant: the advisory lock that serialises replicas migrating at the same time.
    static let lockKey: Int64 = 0x6D62_6777_6D69_6772

    /// All migrations, in order.
    static let all: [Migration] = [
        // v1: the whole schema of the SQLite store's migrations v1–v10, plus shared sessions.
        Migration(
            name: "v1",
            statements: [
                // (account, folderId) <-> mailbox wire name; when each row was written, so that
                // forgetting the mailboxes a LIST no longer shows spares rows recorded after it.
                """
                CREATE TABLE folder (
                    account text NOT NULL,
                    id text NOT NULL,
                    mailbox text NOT NULL,
                    created_at timestamptz NOT NULL,
                    PRIMARY KEY (account, id),
                    UNIQUE (account, mailbox)
                )
                """,
                // (account, labelId) <-> (IMAP keyword, display name). `name_key` is the name
                // lowercased by Swift (full Unicode). Keywords are ASCII atoms: `lower` under the "C"
                // collation folds ASCII letters only, whatever the database's locale.
                """
                CREATE TABLE label (
                    account text NOT NULL,
                    id text NOT NULL,
                    keyword text NOT NULL,
                    name text NOT NULL,
                    name_key text NOT NULL,
                    PRIMARY KEY (account, id),
                    UNIQUE (account, name_key)
                )
                """,
                #"CREATE UNIQUE INDEX label_keyword ON label (account, lower(keyword COLLATE "C"))"#,
                // One sort order of a folder, valid while the folder's state token is unchanged.
                // `uids` packs UInt32 little-endian.
                """
                CREATE TABLE sort_cache (
                    account text NOT NULL,
                    folder_id text NOT NULL,
                    field text NOT NULL,
                    direction text NOT NULL,
                    uid_validity bigint NOT NULL,
                    token text NOT NULL,
                    uids bytea NOT NULL,
                    PRIMARY KEY (account, folder_id, field, direction)
                )
                """,
                // Where the metadata cache of a folder stands.
                """
                CREATE TABLE folder_sync (
                    account text NOT NULL,
                    folder_id text NOT NULL,
                    uid_validity bigint NOT NULL,
                    uid_next bigint NOT NULL,
                    highest_mod_seq bigint NOT NULL,
                    PRIMARY KEY (account, folder_id)
                )
                """,
                // Per-message metadata used to order by flags, importance and attachments.
                // Mod-sequences are stored by bit pattern (RFC 7162 keeps them below 2^63).
                """
                CREATE TABLE message_meta (
                    account text NOT NULL,
                    folder_id text NOT NULL,
                    uid bigint NOT NULL CHECK (uid BETWEEN 0 AND 4294967295),
                    flags text NOT NULL,
                    mod_seq bigint NOT NULL,
                    importance bigint NOT NULL,
                    has_attachment boolean NOT NULL,
                    PRIMARY KEY (account, folder_id, uid)
                )
                """,
                // Each message's RFC 5256 sort keys, and the state and key version they belong to.
                """
                CREATE TABLE sort_keys (
                    account text NOT NULL,
                    folder_id text NOT NULL,
                    uid bigint NOT NULL CHECK (uid BETWEEN 0 AND 4294967295),
                    subject bytea NOT NULL,
                    from_key bytea NOT NULL,
                    to_key bytea NOT NULL,
                    sent_date bigint NOT NULL,
                    size bigint NOT NULL,
                    PRIMARY KEY (account, folder_id, uid)
                )
                """,
                """
                CREATE TABLE sort_key_sync (
                    account text NOT NULL,
                    folder_id text NOT NULL,
                    uid_validity bigint NOT NULL,
                    uid_next bigint NOT NULL,
                    version bigint NOT NULL,
                    PRIMARY KEY (account, folder_id)
                )
                """,
                // The conversation index's per-message headers; `refs` holds each reference as a
                // 4-byte little-endian length and its UTF-8 bytes.
                """
                CREATE TABLE thread_headers (
                    account text NOT NULL,
                    folder_id text NOT NULL,
                    uid bigint NOT NULL CHECK (uid BETWEEN 0 AND 4294967295),
                    subject bytea NOT NULL,
                    from_key bytea NOT NULL,
                    to_key bytea NOT NULL,
                    sent_date bigint NOT NULL,
                    size bigint NOT NULL,
                    message_id bytea,
                    refs bytea NOT NULL,
                    is_reply boolean NOT NULL,
                    PRIMARY KEY (account, folder_id, uid)
                )
                """,
                """
                CREATE TABLE thread_header_sync (
                    account text NOT NULL,
                    folder_id text NOT NULL,
                    uid_validity bigint NOT NULL,
                    uid_next bigint NOT NULL,
                    version bigint NOT NULL,
                    PRIMARY KEY (account, folder_id)
                )
                """,
                // Batch jobs: the operation and item lists as JSON text; which replica runs the job
                // until when (the database server's clock).
                """
                CREATE TABLE job (
                    key text PRIMARY KEY,
                    account text NOT NULL,
                    operation text NOT NULL,
                    status text NOT NULL,
                    total_items bigint NOT NULL,
                    done_items bigint NOT NULL,
                    failed_items text NOT NULL,
                    pending_items text NOT NULL,
                    item_aliases text NOT NULL DEFAULT '{}',
                    created_at timestamptz NOT NULL,
                    finished_at timestamptz,
                    cancel_requested boolean NOT NULL DEFAULT false,
                    lease_owner text,
                    lease_until timestamptz
                )
                """,
                "CREATE INDEX job_status ON job (status)",
                "CREATE INDEX job_created_at ON job (created_at)",
                // A job's chunks (the engine's BatchChunk as JSON), with the state each reached.
                """
                CREATE TABLE job_chunk (
                    job_key text NOT NULL REFERENCES job (key) ON DELETE CASCADE,
                    seq bigint NOT NULL,
                    chunk text NOT NULL,
                    item_count bigint NOT NULL,
                    state text NOT NULL,
                    destination_uid_next bigint,
                    started_at timestamptz,
                    PRIMARY KEY (job_key, seq)
                )
                """,
                // Login sessions shared by every replica: looked up by the SHA-256 of the session ID
                // (never the ID), credentials sealed under a key derived from the ID.
                """
                CREATE TABLE login_session (
                    key text PRIMARY KEY,
                    account text NOT NULL,
                    sealed bytea NOT NULL,
                    created timestamptz NOT NULL,
                    last_used timestamptz NOT NULL
                )
                """,
                "CREATE INDEX login_session_account ON login_session (account, last_used)",
                "CREATE INDEX login_session_last_used ON login_session (last_used)",
                "CREATE INDEX login_session_created ON login_session (created)",
            ]),

        // Add new migrations below this line; never edit the ones above.
    ]

    /// Runs the migrations not yet recorded in `schema_migrations`, in one transaction that holds
    /// an advisory lock: replicas starting together migrate one after the other.
    static func migrate(client: PostgresClient, logger: Logger) async throws {
        try await inTransaction(client, logger: logger) { connection in
            try await connection.query("SELECT pg_advisory_xact_lock(\(lockKey))", logger: logger)
            try await connection.query(
                """
                CREATE TABLE IF NOT EXISTS schema_migrations (
                    name text PRIMARY KEY,
                    applied_at timestamptz NOT NULL DEFAULT now()
                )
                """, logger: logger)
            var applied = Set<String>()
            for try await name in try await connection.query("SELECT name FROM schema_migrations", logger: logger).decode(String.self) {
                applied.insert(name)
            }
            for migration in all where !applied.contains(migration.name) {
                for statement in migration.statements {
                    try await connection.query(statement, logger: logger)
                }
                try await connection.query("INSERT INTO schema_migrations (name) VALUES (\(migration.name))", logger: logger)
                logger.info("applied database migration", metadata: ["migration": "\(migration.name)"])
            }
        }
    }
}
