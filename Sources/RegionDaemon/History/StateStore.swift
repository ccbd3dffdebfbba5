import Foundation
import GRDB
import RegionCore

/// The state database: the event history, the failover engine's state (plan, phases,
/// deadlines, overrides, pins), and in cluster mode the etcd revisions of the decisions
/// this instance has recorded, in SQLite through GRDB.
///
/// WAL journal with `synchronous = FULL`: a committed transaction survives a `kill -9`
/// and a power loss. Writes run on GRDB's own queue, never on the cooperative pool.
/// Events arrive numbered by the ``EventBus``; every write also drops what falls out of
/// the retention, so the history never holds more than `history_max_events` events.
public final class StateStore: EventHistory {
    /// A pool: one writer and concurrent readers (WAL snapshots), so `history` and
    /// `analytics` over a long history never hold up the commit of a decision.
    let queue: any DatabaseWriter
    public let path: String

    public struct Error: Swift.Error, CustomStringConvertible {
        public var description: String

        public init(description: String) { self.description = description }
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

    public func restore() async throws -> StoredState {
        let (text, lastID, revision) = try await self.queue.read { db in
            (
                try String.fetchOne(db, sql: "SELECT state FROM engine WHERE id = 1"),
                try Int64.fetchOne(db, sql: "SELECT MAX(seq) FROM sqlite_sequence WHERE name = 'event'") ?? 0,
                try Int64.fetchOne(db, sql: "SELECT MAX(revision) FROM decision") ?? 0
            )
        }
        let engine = try text.map { try JSONDecoder().decode(EngineState.self, from: Data($0.utf8)) }
        return StoredState(engine: engine, lastEventID: UInt64(clamping: max(0, lastID)), lastRevision: max(0, revision))
    }

    /// The engine state saved by the last commit, if any.
    public func loadEngineState() async throws -> EngineState? {
        try await self.restore().engine
    }

    public func append(_ events: [Event], retention: HistoryRetention, now: Date) async throws {
        let rows = try events.map(Row.init)
        try await self.queue.write { db in
            for row in rows { try row.insert(db) }
            try Self.retain(retention, now: now, db)
        }
    }

    public func commit(_ decision: DecisionRecord, retention: HistoryRetention, now: Date) async throws -> Bool {
        let encoded = try decision.state.map { String(decoding: try JSONEncoder().encode($0), as: UTF8.self) }
        let rows = try decision.events.map(Row.init)
        let leader = decision.events.lazy.compactMap(\.decision?.leader).first ?? ""
        return try await self.queue.write { db in
            if let revision = decision.revision {
                try db.execute(sql: "INSERT OR IGNORE INTO decision (revision, leader, recorded) VALUES (?, ?, ?)", arguments: [revision, leader, now.timeIntervalSince1970])
                // Recorded already (a restart, a watch that started over): a second write is a no-op.
                guard db.changesCount == 1 else { return false }
            }
            if let encoded {
                try db.execute(
                    sql: "INSERT INTO engine (id, state, updated) VALUES (1, ?, ?) ON CONFLICT(id) DO UPDATE SET state = excluded.state, updated = excluded.updated",
                    arguments: [encoded, now.timeIntervalSince1970])
            }
            for row in rows { try row.insert(db) }
            try Self.retain(retention, now: now, db)
            return true
        }
    }

    /// Drops what falls out of the retention (both deletes walk an index).
    static func retain(_ retention: HistoryRetention, now: Date, _ db: Database) throws {
        try db.execute(sql: "DELETE FROM event WHERE time < ?", arguments: [now.timeIntervalSince1970 - retention.maxAge.seconds])
        try db.execute(
            sql: "DELETE FROM event WHERE id <= (SELECT MAX(id) FROM event) - ?", arguments: [retention.maxEvents])
        try db.execute(sql: "DELETE FROM decision WHERE recorded < ?", arguments: [now.timeIntervalSince1970 - retention.maxAge.seconds])
    }

    public func events(after id: UInt64, limit: Int) async throws -> [Event] {
        try await self.queue.read { db in
            try Self.read(db, sql: "SELECT * FROM event WHERE id > ? ORDER BY id LIMIT ?", arguments: [Int64(clamping: id), limit])
        }
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
            return try Self.read(db, sql: "SELECT * FROM (SELECT * FROM event \(filter) ORDER BY id DESC LIMIT ?) ORDER BY id", arguments: arguments)
        }
    }

    /// Rows as events, read defensively: a row of a damaged or hand-edited database is
    /// skipped, not trapped on.
    static func read(_ db: Database, sql: String, arguments: StatementArguments) throws -> [Event] {
        try GRDB.Row.fetchAll(db, sql: sql, arguments: arguments).compactMap { row -> Event? in
            guard let id = row["id"] as Int64?, id > 0, let time = row["time"] as Double?, time.isFinite,
                let kindText = row["kind"] as String?, let kind = EventKind(rawValue: kindText)
            else { return nil }
            guard let payload = try? EventPayload(kind: kind, json: row["data"] as String?) else { return nil }
            let stamp = (row["decision"] as String?).flatMap { try? JSONDecoder().decode(DecisionStamp.self, from: Data($0.utf8)) }
            return Event(
                id: UInt64(id), time: Date(timeIntervalSince1970: time), region: row["region"] as String?, message: (row["message"] as String?) ?? "", payload,
                decision: stamp)
        }
    }

    /// Deletes events older than `maxAge` and all but the newest `maxEvents` now.
    @discardableResult
    public func prune(maxAge: Duration, maxEvents: Int, now: Date) async throws -> Int {
        try await self.queue.write { db in
            let before = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM event") ?? 0
            try Self.retain(HistoryRetention(maxAge: maxAge, maxEvents: maxEvents), now: now, db)
            return before - (try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM event") ?? 0)
        }
    }

    public func eventCount() async throws -> Int {
        try await self.queue.read { db in try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM event") ?? 0 }
    }

    /// One event as a row: its typed value as JSON (`data`), and the decision it belongs to.
    struct Row {
        var event: Event
        var data: String?
        var decision: String?

        init(_ event: Event) throws {
            self.event = event
            let encoder = JSONEncoder()
            self.data = try event.payload.detail.map { String(decoding: try encoder.encode($0), as: UTF8.self) }
            self.decision = try event.decision.map { String(decoding: try encoder.encode($0), as: UTF8.self) }
        }

        func insert(_ db: Database) throws {
            try db.execute(
                sql: "INSERT INTO event (id, time, kind, region, message, data, decision) VALUES (?, ?, ?, ?, ?, ?, ?)",
                arguments: [
                    Int64(clamping: self.event.id), self.event.time.timeIntervalSince1970, self.event.kind.rawValue, self.event.region, self.event.message, self.data,
                    self.decision,
                ])
        }
    }
}

extension EventPayload {
    /// Reads the value of a `kind` from its JSON (the `data` column); nil for kinds that carry nothing.
    init(kind: EventKind, json: String?) throws {
        guard let json else {
            self = try EventPayload(kind: kind, data: nil)
            return
        }
        let decoder = JSONDecoder()
        decoder.userInfo[PayloadOfKind.kindKey] = kind
        self = try decoder.decode(PayloadOfKind.self, from: Data(json.utf8)).payload
    }
}

/// Decodes an ``EventPayload`` whose kind was given in the decoder's `userInfo`.
struct PayloadOfKind: Decodable {
    static let kindKey = CodingUserInfoKey(rawValue: "regiond.eventKind")!
    let payload: EventPayload

    init(from decoder: any Decoder) throws {
        guard let kind = decoder.userInfo[Self.kindKey] as? EventKind else {
            throw DecodingError.dataCorrupted(.init(codingPath: [], debugDescription: "no event kind given"))
        }
        self.payload = try EventPayload(kind: kind, data: decoder)
    }
}
