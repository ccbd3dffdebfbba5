import Foundation
import Testing

@testable import RegionCore

/// The worked timelines in docs/failover.md are simulations: each section names the
/// `regionctl simulate` steps above its table. This runs every one of them and compares
/// the plan columns, and the event names in backticks, with the documented table, so
/// the docs cannot drift from the engine.
@Suite("The worked timelines in docs/failover.md")
struct DocumentedTimelineTests {
    struct Row {
        var t: Double
        var text: String
        var weights: [String: Int]
        var events: [EventKind]
    }

    struct Timeline {
        var name: String
        var steps: [String]
        var columns: [String]
        var rows: [Row]
    }

    /// The configuration each timeline's heading describes (the heading is prose).
    static func engine(for name: String) -> FailoverEngine {
        var settings = FailoverSettings()
        var regions = threeRegions
        switch name {
        case "gradual":
            settings.strategy = .gradual
            settings.gradualStep = 0.25
            settings.gradualInterval = .seconds(30)
        case "cascading":
            settings.strategy = .cascading
            regions[1].maxWeight = 4000
            regions[2].maxWeight = 10_000
        case "manual": settings.strategy = .manual
        case "graceful":
            settings.strategy = .graceful
            settings.drainTimeout = .seconds(60)
        default: settings.strategy = .automatic
        }
        return FailoverEngine(settings: settings, regions: regions)
    }

    static let timelines: [Timeline] = {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("docs/failover.md")
        guard let text = try? String(contentsOf: url, encoding: .utf8) else { return [] }
        return Self.parse(text)
    }()

    static func parse(_ markdown: String) -> [Timeline] {
        var timelines: [Timeline] = []
        var inSection = false
        for line in markdown.split(separator: "\n", omittingEmptySubsequences: false).map(String.init) {
            if line.hasPrefix("## ") { inSection = line == "## Worked timelines" }
            guard inSection else { continue }
            if line.hasPrefix("### ") {
                let name = line.dropFirst(4).split(separator: " ").first.map(String.init) ?? ""
                timelines.append(Timeline(name: name, steps: [], columns: [], rows: []))
            } else if line.hasPrefix("Simulate: "), !timelines.isEmpty {
                // The quoted arguments of the command.
                let parts = line.split(separator: "\"", omittingEmptySubsequences: false)
                timelines[timelines.count - 1].steps = stride(from: 1, to: parts.count, by: 2).map { String(parts[$0]) }
            } else if line.hasPrefix("|"), !timelines.isEmpty {
                let cells = line.split(separator: "|").map { $0.trimmingCharacters(in: .whitespaces) }
                if cells.first == "t" {
                    timelines[timelines.count - 1].columns = Array(cells.dropFirst(2))
                } else if let t = Double(cells[0]) {
                    let columns = timelines[timelines.count - 1].columns
                    let weights = Dictionary(uniqueKeysWithValues: zip(columns, cells.dropFirst(2).compactMap { Int($0) }))
                    let ticked = cells[1].split(separator: "`", omittingEmptySubsequences: false)
                    let events = stride(from: 1, to: ticked.count, by: 2).compactMap { EventKind(rawValue: String(ticked[$0])) }
                    timelines[timelines.count - 1].rows.append(Row(t: t, text: cells[1], weights: weights, events: events))
                }
            }
        }
        return timelines
    }

    @Test func theDocumentHasEveryTimeline() {
        #expect(Self.timelines.map(\.name) == ["automatic", "gradual", "cascading", "manual", "graceful"])
        for timeline in Self.timelines {
            #expect(!timeline.steps.isEmpty, "\(timeline.name) has no Simulate: line")
            #expect(timeline.rows.count >= 2, "\(timeline.name) has no table")
            #expect(timeline.columns == ["eu", "us", "ap"])
        }
    }

    @Test(arguments: ["automatic", "gradual", "cascading", "manual", "graceful"])
    func theSimulationPrintsTheDocumentedTable(_ name: String) throws {
        let timeline = try #require(Self.timelines.first { $0.name == name })
        let steps = try timeline.steps.map { try Simulation.parse($0).get() }
        let engine = Self.engine(for: name)
        let start = t(0)
        let report = Simulation.run(engine: engine, signals: [:], steps: steps, start: start)
        #expect(!report.truncated)
        let baseline = Dictionary(uniqueKeysWithValues: threeRegions.map { ($0.id, $0.weight) })
        for row in timeline.rows {
            // The plan as `regionctl traffic` shows it after the moment t.
            let plan = report.rows.last { $0.offset <= row.t }?.plan ?? baseline
            #expect(plan == row.weights, "\(name) at t=\(row.t): \(row.text)")
            let happened = report.rows.filter { $0.offset == row.t }.flatMap(\.events).map(\.kind)
            for kind in row.events {
                #expect(happened.contains(kind), "\(name) at t=\(row.t): no \(kind.rawValue) in \(happened.map(\.rawValue))")
            }
            #expect(report.rows.allSatisfy { $0.refused == nil })
        }
    }
}
