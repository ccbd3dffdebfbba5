import Foundation
import GRDB
import RegionCore

extension StateStore {
    /// The schema, step by step. A database written by an older regiond is migrated when
    /// it is opened; nothing is lost.
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
        migrator.registerMigration("v2: typed events, decisions recorded once per revision") { db in
            // Each event keeps its typed value as JSON (`data`) and the decision it belongs
            // to (`decision`: the plan it put in force, the etcd revision, the leader).
            try db.alter(table: "event") { t in
                t.add(column: "data", .text)
                t.add(column: "decision", .text)
            }
            // The etcd revisions this instance has recorded: a second write of one is a no-op.
            try db.create(table: "decision") { t in
                t.primaryKey("revision", .integer)
                t.column("leader", .text).notNull()
                t.column("recorded", .double).notNull().indexed()
            }
            try Self.convertVersion1Events(db)
            try db.alter(table: "event") { t in t.drop(column: "fields") }
        }
        return migrator
    }

    /// Gives every event of a v1 history its typed value, read once from its text fields
    /// (``LegacyEventFields``), and notes the revisions it had recorded.
    static func convertVersion1Events(_ db: Database) throws {
        let encoder = JSONEncoder()
        let rows = try GRDB.Row.fetchCursor(db, sql: "SELECT id, time, kind, fields FROM event")
        var converted: [(id: Int64, data: String?, decision: String?, revision: Int64?, leader: String, time: Double)] = []
        while let row = try rows.next() {
            guard let id = row["id"] as Int64?, let kind = (row["kind"] as String?).flatMap(EventKind.init(rawValue:)) else { continue }
            let time = (row["time"] as Double?) ?? 0
            let fields = (row["fields"] as String?).flatMap { try? JSONDecoder().decode([String: String].self, from: Data($0.utf8)) } ?? [:]
            let (payload, stamp) = LegacyEventFields.payload(kind: kind, fields: fields, time: Date(timeIntervalSince1970: time.isFinite ? time : 0))
            converted.append(
                (
                    id, try payload.detail.map { String(decoding: try encoder.encode($0), as: UTF8.self) },
                    try stamp.map { String(decoding: try encoder.encode($0), as: UTF8.self) }, stamp?.revision, stamp?.leader ?? "", time
                ))
        }
        for row in converted {
            try db.execute(sql: "UPDATE event SET data = ?, decision = ? WHERE id = ?", arguments: [row.data, row.decision, row.id])
            if let revision = row.revision {
                try db.execute(sql: "INSERT OR IGNORE INTO decision (revision, leader, recorded) VALUES (?, ?, ?)", arguments: [revision, row.leader, row.time])
            }
        }
    }
}
