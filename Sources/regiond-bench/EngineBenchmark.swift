import Foundation
import RegionCore
import RegionDaemon

/// `make bench` part 2: the cost of one failover-engine round with 1,000 regions, the
/// latency of committing a decision to SQLite (WAL, synchronous = FULL) alone and beside
/// a heavy reader, and the time to read configs of 1,000 and 10,000 regions.
/// Prints a table and the same figures as JSON.
@main
struct EngineBenchmark {
    static func main() async throws {
        let regions = (0..<1000).map { FailoverRegion(id: "r\($0)", priority: $0 % 3 + 1, weight: 10, maxWeight: 40) }
        var settings = FailoverSettings()
        settings.cooldown = .zero
        settings.recoveryWindow = .seconds(10)
        var engine = FailoverEngine(settings: settings, regions: regions)
        var signals = Dictionary(uniqueKeysWithValues: regions.map { ($0.id, RegionSignal(status: .healthy, passing: true, capacity: 1)) })
        var rng = SystemRandomNumberGenerator()
        let clock = ContinuousClock()
        var rounds: [Double] = []
        var now = Date()
        _ = engine.step(signals, now: now)
        for _ in 0..<2000 {
            // Each round 1% of regions change: a busy day.
            for _ in 0..<10 {
                let id = "r\(Int.random(in: 0..<1000, using: &rng))"
                signals[id] = Bool.random(using: &rng)
                    ? RegionSignal(status: .unhealthy, passing: false, trigger: .errorRate, capacity: 0)
                    : RegionSignal(status: .healthy, passing: true, capacity: Double.random(in: 0.5...1, using: &rng))
            }
            now = now.addingTimeInterval(1)
            let start = clock.now
            _ = engine.step(signals, now: now)
            rounds.append((clock.now - start).milliseconds * 1000)
        }
        rounds.sort()
        let store = try await StoreBenchmark.run(state: engine.state)
        let parse1k = try ConfigBenchmark.parse(regions: 1000)
        let parse10k = try ConfigBenchmark.parse(regions: 10_000)

        func p(_ values: [Double], _ q: Double) -> Double { Percentile.nearestRank(values, q) ?? .nan }
        let result: [String: Double] = [
            "engine_round_1000_regions_p50_us": p(rounds, 0.5), "engine_round_1000_regions_p99_us": p(rounds, 0.99),
            "commit_p50_ms": p(store.quiet, 0.5), "commit_p99_ms": p(store.quiet, 0.99),
            "commit_with_heavy_reader_p50_ms": p(store.withReader, 0.5), "commit_with_heavy_reader_p99_ms": p(store.withReader, 0.99),
            "heavy_reader_queries": Double(store.readerQueries),
            "config_parse_1000_regions_ms": parse1k, "config_parse_10000_regions_ms": parse10k,
        ]
        print("engine round, 1000 regions: p50 \(Int(p(rounds, 0.5))) us, p99 \(Int(p(rounds, 0.99))) us")
        print("decision commit (WAL, synchronous=FULL, state of 1000 regions + 1 event), 100,000 events in the history:")
        print("  alone: p50 \(String(format: "%.2f", p(store.quiet, 0.5))) ms, p99 \(String(format: "%.2f", p(store.quiet, 0.99))) ms")
        print("  while a reader loads all 100,000 and computes analytics (\(store.readerQueries) times): p50 \(String(format: "%.2f", p(store.withReader, 0.5))) ms, p99 \(String(format: "%.2f", p(store.withReader, 0.99))) ms")
        print("config read and validated: 1,000 regions \(String(format: "%.0f", parse1k)) ms, 10,000 regions \(String(format: "%.0f", parse10k)) ms (\(String(format: "%.1f", parse10k / parse1k))x for 10x the file)")
        let json = try JSONSerialization.data(withJSONObject: result, options: [.sortedKeys, .prettyPrinted])
        print(String(decoding: json, as: UTF8.self))
    }
}
