import Foundation
import RegionCore
import RegionDaemon

/// `make bench` part 2: the cost of one failover-engine round with 1,000 regions,
/// and the latency of committing a decision to SQLite (WAL, synchronous = FULL).
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

        let directory = NSTemporaryDirectory() + "regiond-bench-\(getpid())"
        let store = try StateStore(directory: directory)
        var commits: [Double] = []
        for i in 0..<500 {
            let event = Event(time: Date(), kind: .failoverStarted, region: "r\(i % 1000)", message: "benchmark", fields: ["trigger": "error_rate"])
            let start = clock.now
            _ = try await store.commit(state: engine.state, events: [event], now: Date())
            commits.append((clock.now - start).milliseconds)
        }
        commits.sort()
        try? FileManager.default.removeItem(atPath: directory)

        func p(_ values: [Double], _ q: Double) -> Double { values[min(values.count - 1, Int(Double(values.count) * q))] }
        let result: [String: Double] = [
            "engine_round_1000_regions_p50_us": p(rounds, 0.5), "engine_round_1000_regions_p99_us": p(rounds, 0.99),
            "commit_p50_ms": p(commits, 0.5), "commit_p99_ms": p(commits, 0.99),
        ]
        print("engine round, 1000 regions: p50 \(Int(p(rounds, 0.5))) us, p99 \(Int(p(rounds, 0.99))) us")
        print("decision commit (WAL, synchronous=FULL, state of 1000 regions + 1 event): p50 \(String(format: "%.2f", p(commits, 0.5))) ms, p99 \(String(format: "%.2f", p(commits, 0.99))) ms")
        let json = try JSONSerialization.data(withJSONObject: result, options: [.sortedKeys, .prettyPrinted])
        print(String(decoding: json, as: UTF8.self))
    }
}
