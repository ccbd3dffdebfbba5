import Foundation
import GRDB
import RegionCore

/// The state database: an append-only event history and the failover engine's
/// state (plan, phases, deadlines, overrides, pins), in SQLite through GRDB.
///
/// WAL journal with `synchronous = FULL`: a committed transaction survives a
/// `kill -9` and a power loss. Writes run on GRDB's own queue, never on the
/// cooperative thread pool.
public final class StateStore: DecisionStore {
    /// A pool: one writer and concurrent readers (WAL snapshots), so `history` and
    /// `analytics` over a long history never hold up the commit of a decision.
    let queue: any DatabaseWriter
    public let path: String

    public struct Error: Swift.Error, CustomStringConvertible {
        public var description: String
    }

    /// Opens (creating if needed) `regiond.sqlite` in `directory` and migrates it.
    public init(directory: String) throws {
        do {
            if !FileManager.default.fileExists(atPath: directory) {
                try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o750])
            }
        } catch {
            throw Error(description: "cannot create the state directory \(directory): \(error.localizedDescription)")
        }
        self.path = (directory as NSString).appendingPathComponent("regiond.sqlite")
        var configuration = Configuration()
        configuration.journalMode = .wal
        configuration.busyMode = .timeout(5)
        configuration.prepareDatabase { db in
            try db.execute(sql: "PRAGMA synchronous = FULL")
        }
        do {
            self.queue = try DatabasePool(path: self.path, configuration: configuration)
            try Self.migrator.migrate(self.queue)
        } catch {
            throw Error(description: "cannot open the state database \(self.path): \(error)")
        }
    }

    /// A store in memory, for tests and fuzzing: the same schema and queries, no file.
    public init(inMemory: Void = ()) throws {
        self.path = ":memory:"
        self.queue = try DatabaseQueue()
        try Self.migrator.migrate(self.queue)
    }

    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1: events and engine state") { db in
            try db.create(table: "event") { t in
                t.autoIncrementedPrimaryKey("id")
                t.column("time", .double).notNull().indexed()
                t.column("kind", .text).notNull()
                t.column("region", .text).indexed()
                t.column("message", .text).notNull()
                t.column("fields", .text).notNull()
            }
            try db.create(table: "engine") { t in
                t.primaryKey("id", .integer)
                t.column("state", .text).notNull()
                t.column("updated", .double).notNull()
            }
        }
        return migrator
    }

    /// The engine state saved by the last commit, if any.
    public func loadEngineState() async throws -> EngineState? {
        let text = try await self.queue.read { db in
            try String.fetchOne(db, sql: "SELECT state FROM engine WHERE id = 1")
        }
        guard let text else { return nil }
        return try JSONDecoder().decode(EngineState.self, from: Data(text.utf8))
    }

    /// Commits the engine state and its events in one transaction. Returns the events
    /// numbered by the database. Nothing may act on a decision before this returns.
    public func commit(state: EngineState?, events: [Event], now: Date) async throws -> [Event] {
        let encoded = try state.map { String(decoding: try JSONEncoder().encode($0), as: UTF8.self) }
        return try await self.queue.write { db in
            if let encoded {
                try db.execute(
                    sql: "INSERT INTO engine (id, state, updated) VALUES (1, ?, ?) ON CONFLICT(id) DO UPDATE SET state = excluded.state, updated = excluded.updated",
                    arguments: [encoded, now.timeIntervalSince1970])
            }
            return try events.map { try Self.insert($0, db) }
        }
    }

    /// Appends report events (status changes, reloads) to the history.
    public func append(_ event: Event) async throws -> Event {
        try await self.queue.write { db in try Self.insert(event, db) }
    }

    static func insert(_ event: Event, _ db: Database) throws -> Event {
        var event = event
        let fields = String(decoding: try JSONEncoder().encode(event.fields), as: UTF8.self)
        try db.execute(
            sql: "INSERT INTO event (time, kind, region, message, fields) VALUES (?, ?, ?, ?, ?)",
            arguments: [event.time.timeIntervalSince1970, event.kind.rawValue, event.region, event.message, fields])
        event.id = UInt64(db.lastInsertedRowID)
        return event
    }

    /// Events, newest last. Filters are optional.
    public func history(region: String?, since: Date?, kinds: [EventKind]?, limit: Int) async throws -> [Event] {
        try await self.queue.read { db in
            var clauses: [String] = []
            var arguments: StatementArguments = []
            if let region {
                clauses.append("region = ?")
                _ = arguments.append(contentsOf: [region])
            }
            if let since {
                clauses.append("time >= ?")
                _ = arguments.append(contentsOf: [since.timeIntervalSince1970])
            }
            if let kinds, !kinds.isEmpty {
                clauses.append("kind IN (\(kinds.map { _ in "?" }.joined(separator: ",")))")
                _ = arguments.append(contentsOf: StatementArguments(kinds.map(\.rawValue)))
            }
            let filter = clauses.isEmpty ? "" : "WHERE " + clauses.joined(separator: " AND ")
            _ = arguments.append(contentsOf: [limit])
            let rows = try Row.fetchAll(
                db, sql: "SELECT * FROM (SELECT * FROM event \(filter) ORDER BY id DESC LIMIT ?) ORDER BY id", arguments: arguments)
            // Read defensively: a row of a damaged or hand-edited database is skipped, not trapped on.
            return rows.compactMap { row -> Event? in
                guard let id = row["id"] as Int64?, id > 0, let time = row["time"] as Double?, time.isFinite,
                    let kindText = row["kind"] as String?, let kind = EventKind(rawValue: kindText)
                else { return nil }
                let fieldsText = (row["fields"] as String?) ?? "{}"
                let fields = (try? JSONDecoder().decode([String: String].self, from: Data(fieldsText.utf8))) ?? [:]
                return Event(
                    id: UInt64(id), time: Date(timeIntervalSince1970: time), kind: kind, region: row["region"] as String?,
                    message: (row["message"] as String?) ?? "", fields: fields)
            }
        }
    }

    /// Deletes events older than `maxAge` and all but the newest `maxEvents`.
    @discardableResult
    public func prune(maxAge: Duration, maxEvents: Int, now: Date) async throws -> Int {
        try await self.queue.write { db in
            try db.execute(sql: "DELETE FROM event WHERE time < ?", arguments: [now.timeIntervalSince1970 - maxAge.seconds])
            var removed = db.changesCount
            try db.execute(
                sql: "DELETE FROM event WHERE id <= (SELECT id FROM event ORDER BY id DESC LIMIT 1 OFFSET ?)", arguments: [maxEvents])
            removed += db.changesCount
            return removed
        }
    }

    public func eventCount() async throws -> Int {
        try await self.queue.read { db in try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM event") ?? 0 }
    }
}
