import Foundation
import Logging
import RegionCore
import RegionDaemon

/// Decision commits with and without a heavy reader beside them: `history` and
/// `analytics` over 100,000 events must not delay a failover commit (WAL readers). The
/// commits go through the ``EventBus``, the way the failover controller makes them: the
/// bus numbers the events, records them with the state in one transaction, delivers them.
enum StoreBenchmark {
    struct Figures {
        var quiet: [Double]
        var withReader: [Double]
        var readerQueries: Int
    }

    static func run(state: EngineState, commits: Int = 300) async throws -> Figures {
        let directory = NSTemporaryDirectory() + "regiond-bench-store-\(getpid())"
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let store = try StateStore(directory: directory)
        let retention = HistoryRetention(maxAge: .seconds(30 * 86_400), maxEvents: 1_000_000)
        // A long history, as after a busy month.
        let base = Date().addingTimeInterval(-86_400)
        var batch: [Event] = []
        for i in 0..<100_000 {
            let payload: EventPayload =
                i % 7 == 0
                ? .failoverStarted(FailoverStart(trigger: .errorRate, strategy: .automatic, share: 0))
                : .statusChanged(StatusMove(status: .healthy, previousStatus: .degraded, reasons: [], errorRate: 0, samples: 30, capacity: nil, latencyP95Ms: nil))
            batch.append(Event(id: UInt64(i + 1), time: base.addingTimeInterval(Double(i)), region: "r\(i % 1000)", message: "history \(i)", payload))
            if batch.count == 5000 {
                try await store.append(batch, retention: retention, now: Date())
                batch.removeAll()
            }
        }
        let bus = EventBus(logger: Logger(label: "bench"), history: store, lastEventID: 100_000, retention: retention)
        let quiet = try await Self.commits(bus, state: state, count: commits)
        // The same commits while a reader loads the whole history and computes analytics.
        let reading = Task.detached { () -> Int in
            var queries = 0
            while !Task.isCancelled {
                let events = (try? await store.history(region: nil, since: nil, kinds: nil, limit: 100_000)) ?? []
                _ = Analytics.compute(events, now: Date())
                queries += 1
            }
            return queries
        }
        let busy = try await Self.commits(bus, state: state, count: commits)
        reading.cancel()
        return Figures(quiet: quiet, withReader: busy, readerQueries: await reading.value)
    }

    static func commits(_ bus: EventBus, state: EngineState, count: Int) async throws -> [Double] {
        let clock = ContinuousClock()
        var latencies: [Double] = []
        for i in 0..<count {
            let event = Event(
                time: Date(), region: "r\(i % 1000)", message: "benchmark", .failoverStarted(FailoverStart(trigger: .errorRate, strategy: .automatic, share: 0)))
            let start = clock.now
            guard case .recorded = await bus.commit(DecisionRecord(state: state, events: [event])) else { throw StateStore.Error(description: "a commit failed") }
            latencies.append((clock.now - start).milliseconds)
        }
        return latencies.sorted()
    }
}

/// Reading configuration files of growing size: the time must grow with the file, not
/// with its square (each key of the Nth [[region]] used to copy all N regions).
enum ConfigBenchmark {
    static func text(regions: Int) -> String {
        var text = "[probe]\ninterval = \"1s\"\ntimeout = \"900ms\"\n"
        for r in 0..<regions {
            text += "[[region]]\nid = \"r\(r)\"\nweight = 10\n[region.status]\nfall = 2\n"
            for e in 0..<10 { text += "  [[region.endpoint]]\n  name = \"e\(e)\"\n  url = \"http://127.0.0.1:18900/healthz/\(r)/\(e)\"\n" }
        }
        return text
    }

    /// Milliseconds to read and validate a config of `regions` regions of 10 endpoints.
    static func parse(regions: Int) throws -> Double {
        let text = Self.text(regions: regions)
        let clock = ContinuousClock()
        let start = clock.now
        _ = try ConfigLoader.parse(text, file: "bench.toml")
        return (clock.now - start).milliseconds
    }
}
