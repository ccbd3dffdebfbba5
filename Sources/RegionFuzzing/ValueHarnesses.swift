import Foundation
import RegionCore
import RegionProbes

/// The pure surfaces: config text, duration and fraction texts, command output, HAProxy answers.
enum ValueHarnesses {
    static func text(_ input: [UInt8]) -> String { String(decoding: input, as: UTF8.self) }

    /// A config file: a `Config` or errors with their lines; a valid one is applied as a
    /// reload to a running engine, which must still make valid plans.
    static func config(_ input: [UInt8]) -> String? {
        let config: Config
        do {
            config = try ConfigLoader.parse(Self.text(input), file: "fuzz.toml")
        } catch {
            if error.issues.isEmpty { return "a rejected config with no issue" }
            if let issue = error.issues.first(where: { $0.line < 0 || $0.message.isEmpty }) { return "issue without a line or message: \(issue)" }
            return nil
        }
        // Reload: a running engine takes the new regions and settings.
        var engine = FailoverEngine(settings: FailoverSettings(), regions: Self.base)
        engine.reconfigure(settings: config.failover, regions: config.failoverRegions)
        let now = Date(timeIntervalSince1970: 1_800_000_000)
        var signals = Dictionary(uniqueKeysWithValues: config.regions.map { ($0.id, RegionSignal(status: .healthy, passing: true, capacity: 1)) })
        var decision = engine.step(signals, now: now)
        if let first = config.regions.first {
            signals[first.id] = RegionSignal(status: .unhealthy, passing: false, trigger: .errorRate, capacity: 0)
            decision = engine.step(signals, now: now.addingTimeInterval(1))
        }
        if !decision.plan.isValid, config.regions.contains(where: { $0.enabled && $0.weight > 0 }) {
            return "invalid plan \(decision.plan) after reloading \(config.regions.map(\.id))"
        }
        let weights = HAProxyWeights.weights(for: decision.plan, servers: config.haproxyServers)
        if let bad = weights.first(where: { !(0...HAProxyWeights.maximum).contains($0.weight) }) { return "HAProxy weight \(bad) out of range" }
        return nil
    }

    static let base = [
        FailoverRegion(id: "eu-west", priority: 1, weight: 5000, maxWeight: 10_000),
        FailoverRegion(id: "us-east", priority: 2, weight: 5000, maxWeight: 10_000),
    ]

    /// A duration that parses writes back to itself; fractions are finite; `since` and `ttl` are checked.
    static func durations(_ input: [UInt8]) -> String? {
        let text = Self.text(input)
        if case .success(let duration) = DurationText.parse(text) {
            if duration > DurationText.maximum || duration < .zero { return "'\(text)' parsed to \(duration), outside 0...maximum" }
            let written = formatDuration(duration)
            if DurationText.parse(written) != .success(duration) { return "'\(text)' -> \(duration) -> '\(written)' does not read back" }
        }
        if let fraction = FractionText.parse(text), !fraction.isFinite { return "'\(text)' is a fraction \(fraction)" }
        if let capacity = parseCapacity(text), !(0...1).contains(capacity) { return "capacity \(capacity) from '\(text)'" }
        var request = ControlRequest(cmd: "history")
        request.since = text
        _ = request.sinceDate(now: Date(timeIntervalSince1970: 1_800_000_000))
        request.ttl = text
        _ = request.pinTTL()
        _ = percent(Double(text) ?? 0)
        return nil
    }

    /// Byte 0: the exit status (128 and above: killed by signal N-128); byte 1: bit 0, the
    /// first line is read as a capacity; bit 1, the second as a lag; the rest: standard output.
    static func execOutput(_ input: [UInt8]) -> String? {
        guard input.count >= 2 else { return nil }
        let ending: ExecVerdict.Ending = input[0] >= 128 ? .signaled(Int32(input[0] - 128)) : .exited(Int32(input[0]))
        let outcome = ExecVerdict.judge(ending, stdout: Array(input.dropFirst(2)), capacityFromStdout: input[1] & 1 == 1, lagFromStdout: input[1] & 2 == 2)
        if let capacity = outcome.capacity, !(0...1).contains(capacity) { return "capacity \(capacity) outside 0...1" }
        if let lag = outcome.lag, !(lag.isFinite && lag >= 0) { return "lag \(lag) is not a non-negative number" }
        if outcome.passed, ending != .exited(0) { return "\(ending) passed" }
        if outcome.detail.utf8.count > 256 { return "detail of \(outcome.detail.utf8.count) bytes" }
        return nil
    }

    /// Every reader of HAProxy answers, on any text: numbers in range or an error.
    static func haproxyAnswer(_ input: [UInt8]) -> String? {
        let text = Self.text(input)
        _ = HAProxyAnswer.complaints(text)
        if case .success(let info) = HAProxyAnswer.info(text), info.pid < 1 || info.uptimeSeconds < 0 { return "info \(info)" }
        if case .success(let servers) = HAProxyAnswer.serversState(text),
            let bad = servers.first(where: { !(0...HAProxyWeights.maximum).contains($0.weight) })
        {
            return "server state \(bad)"
        }
        if case .success(let stats) = HAProxyAnswer.stat(text), let bad = stats.first(where: { $0.currentSessions < 0 }) { return "stat \(bad)" }
        return nil
    }
}
