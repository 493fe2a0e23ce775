import GRDB

/// The schema of the gateway database, as an ordered list of named migrations.
///
/// The rule: a migration that has shipped is **never edited, renamed or removed**. Databases in
/// the field remember which migrations they ran (by name) and will not run a changed one again.
/// Any change to the schema — a new table, column or index — is a new migration appended at the
/// end of ``migrator`` with a new name (`"v2-jobs"`, `"v3-sortCache"`, …). Tables and columns are
/// named with string literals here, never with record types or `CodingKeys`, so that renaming a
/// Swift property can never silently alter what an old migration does.
///
/// Every part of the store adds its migrations in this file, so that one migrator describes the
/// whole database.
enum GatewayMigrations {
    /// All migrations, in order. ``GatewayDatabase`` runs them when it opens a database.
    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()

        // v1: folder and label mappings (SPEC §2 "Identifiers").
        migrator.registerMigration("v1") { db in
            // (account, folderId) <-> mailbox wire name, plus the UIDVALIDITY last seen.
            try db.create(table: "folder", options: .strict) { t in
                t.column("account", .text).notNull()
                t.column("id", .text).notNull()
                t.column("mailbox", .text).notNull()
                t.column("uidValidity", .integer)
                    .check(sql: "uidValidity IS NULL OR uidValidity BETWEEN 0 AND 4294967295")
                // Lookup by id; its prefix also serves "all folders of an account".
                t.primaryKey(["account", "id"])
                // Lookup by mailbox; one ID per mailbox of an account.
                t.uniqueKey(["account", "mailbox"])
            }

            // (account, labelId) <-> (IMAP keyword, display name).
            try db.create(table: "label", options: .strict) { t in
                t.column("account", .text).notNull()
                t.column("id", .text).notNull()
                // IMAP keywords are ASCII atoms, so NOCASE (ASCII case folding) is exact for them.
                t.column("keyword", .text).notNull().collate(.nocase)
                t.column("name", .text).notNull()
                // `name` lowercased by Swift (full Unicode), for case-insensitive uniqueness and lookup.
                t.column("nameKey", .text).notNull()
                t.primaryKey(["account", "id"])
                t.uniqueKey(["account", "nameKey"])
                // Uses the column's NOCASE collation: keywords are unique case-insensitively.
                t.uniqueKey(["account", "keyword"])
            }
        }

        // v2: caches behind listings and ranges (SPEC §3): the server's sort orders, and per-message
        // metadata kept in step incrementally, with the folder state each was taken at.
        migrator.registerMigration("v2-listing") { db in
            // One sort order of a folder as the server (or the ordering rules) gave it, valid while
            // the folder's state token is unchanged. `uids` packs UInt32 little-endian.
            try db.create(table: "sortCache", options: .strict) { t in
                t.column("account", .text).notNull()
                t.column("folderId", .text).notNull()
                t.column("field", .text).notNull()
                t.column("direction", .text).notNull()
                t.column("uidValidity", .integer).notNull()
                t.column("token", .text).notNull()
                t.column("uids", .blob).notNull()
                t.primaryKey(["account", "folderId", "field", "direction"])
            }

            // Where the metadata cache of a folder stands: UIDVALIDITY, next UID and mod-sequence seen.
            try db.create(table: "folderSync", options: .strict) { t in
                t.column("account", .text).notNull()
                t.column("folderId", .text).notNull()
                t.column("uidValidity", .integer).notNull()
                t.column("uidNext", .integer).notNull()
                t.column("highestModSeq", .integer).notNull()
                t.primaryKey(["account", "folderId"])
            }

            // Per-message metadata used to order by flags, importance and attachments.
            try db.create(table: "messageMeta", options: [.strict, .withoutRowID]) { t in
                t.column("account", .text).notNull()
                t.column("folderId", .text).notNull()
                t.column("uid", .integer).notNull()
                t.column("flags", .text).notNull()
                t.column("modSeq", .integer).notNull()
                t.column("importance", .integer).notNull()
                t.column("hasAttachment", .integer).notNull()
                t.primaryKey(["account", "folderId", "uid"])
            }
        }

        // v3: asynchronous batch jobs (SPEC §3 "Job status"): the job, and its chunks with the
        // state each reached, so a restart resumes where the gateway stopped.
        migrator.registerMigration("v3-jobs") { db in
            try db.create(table: "job", options: .strict) { t in
                t.column("key", .text).notNull().primaryKey()
                t.column("account", .text).notNull()
                // The operation as JSON (GatewayCore's MailBatchOperation).
                t.column("operation", .text).notNull()
                t.column("status", .text).notNull()
                t.column("totalItems", .integer).notNull()
                t.column("doneItems", .integer).notNull()
                // JSON arrays of mail IDs: failed so far, and resolved but not yet planned into chunks.
                t.column("failedItems", .text).notNull()
                t.column("pendingItems", .text).notNull()
                t.column("createdAt", .real).notNull()
                t.column("finishedAt", .real)
            }
            try db.create(index: "job_on_status", on: "job", columns: ["status"])
            try db.create(table: "jobChunk", options: .strict) { t in
                t.column("jobKey", .text).notNull().references("job", onDelete: .cascade)
                t.column("seq", .integer).notNull()
                // The chunk as JSON (GatewayCore's BatchChunk): folder, UIDs, action.
                t.column("chunk", .text).notNull()
                t.column("itemCount", .integer).notNull()
                // planned | started | done
                t.column("state", .text).notNull()
                // The destination's UIDNEXT just before a copy-like chunk started (resume evidence).
                t.column("destinationUIDNext", .integer)
                t.primaryKey(["jobKey", "seq"])
            }
        }

        // v4: when each folder row was written, so that forgetting the mailboxes a LIST no longer
        // shows spares rows that concurrent requests recorded after that LIST was sent.
        migrator.registerMigration("v4-folderCreatedAt") { db in
            try db.alter(table: "folder") { t in
                t.add(column: "createdAt", .real)
            }
        }

        // v5: each message's RFC 5256 sort keys, for ordering folders of servers without SORT
        // (base subject and addresses in i;unicode-casemap form, sent date, size), and the
        // UIDVALIDITY and key version they belong to.
        migrator.registerMigration("v5-sortKeys") { db in
            try db.create(table: "sortKeys", options: [.strict, .withoutRowID]) { t in
                t.column("account", .text).notNull()
                t.column("folderId", .text).notNull()
                t.column("uid", .integer).notNull()
                t.column("subject", .blob).notNull()
                t.column("fromKey", .blob).notNull()
                t.column("toKey", .blob).notNull()
                t.column("sentDate", .integer).notNull()
                t.column("size", .integer).notNull()
                t.primaryKey(["account", "folderId", "uid"])
            }
            try db.create(table: "sortKeySync", options: .strict) { t in
                t.column("account", .text).notNull()
                t.column("folderId", .text).notNull()
                t.column("uidValidity", .integer).notNull()
                t.column("uidNext", .integer).notNull()
                // GatewayCore's SortKeys.version: keys of another version are computed again.
                t.column("version", .integer).notNull()
                t.primaryKey(["account", "folderId"])
            }
        }

        // v6: the conversation index's per-message headers (sort keys, Message ID, references,
        // reply flag), kept in step per folder like the sort keys, and the state they belong to.
        migrator.registerMigration("v6-threadHeaders") { db in
            try db.create(table: "threadHeaders", options: [.strict, .withoutRowID]) { t in
                t.column("account", .text).notNull()
                t.column("folderId", .text).notNull()
                t.column("uid", .integer).notNull()
                t.column("subject", .blob).notNull()
                t.column("fromKey", .blob).notNull()
                t.column("toKey", .blob).notNull()
                t.column("sentDate", .integer).notNull()
                t.column("size", .integer).notNull()
                t.column("messageId", .blob)
                // Each reference as a 4-byte little-endian length and its UTF-8 bytes.
                t.column("refs", .blob).notNull()
                t.column("isReply", .integer).notNull()
                t.primaryKey(["account", "folderId", "uid"])
            }
            try db.create(table: "threadHeaderSync", options: .strict) { t in
                t.column("account", .text).notNull()
                t.column("folderId", .text).notNull()
                t.column("uidValidity", .integer).notNull()
                t.column("uidNext", .integer).notNull()
                // GatewayCore's ThreadHeaders.version: rows of another version are read again.
                t.column("version", .integer).notNull()
                t.primaryKey(["account", "folderId"])
            }
        }

        // v7: a job's item aliases (mail ID → conversation ID for conversation batches), JSON.
        migrator.registerMigration("v7-jobItemAliases") { db in
            try db.alter(table: "job") { t in
                t.add(column: "itemAliases", .text).notNull().defaults(to: "{}")
            }
        }

        // v8: when a job chunk was started, so a resume can wait out the interrupted command.
        migrator.registerMigration("v8-jobChunkStartedAt") { db in
            try db.alter(table: "jobChunk") { t in
                t.add(column: "startedAt", .real)
            }
        }

        // v9: an operator's request to cancel a job (`mailbox-gateway jobs cancel`): the runner
        // stops at its next chunk boundary and reports the items not done as failed.
        migrator.registerMigration("v9-jobCancelRequested") { db in
            try db.alter(table: "job") { t in
                t.add(column: "cancelRequested", .integer).notNull().defaults(to: 0)
            }
        }

        // v10: job leases (SPEC §5 `jobs.leaseSeconds`): which gateway runs a job, until when. One
        // gateway owns an SQLite file, and it releases its previous run's leases at start; the
        // columns keep the job store's contract the same as PostgreSQL's, where replicas share jobs.
        migrator.registerMigration("v10-jobLeases") { db in
            try db.alter(table: "job") { t in
                t.add(column: "leaseOwner", .text)
                t.add(column: "leaseUntil", .real)
            }
        }

        // Add new migrations below this line; never edit the ones above.

        return migrator
    }
}
