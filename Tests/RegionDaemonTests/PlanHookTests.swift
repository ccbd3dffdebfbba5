import Dispatch
import Foundation
import Logging
import RegionCore
import Testing

@testable import RegionDaemon

@Suite("PlanActuator runs the [hook] command")
struct PlanHookTests {
    static let order = ["eu-west", "us-east"]
    static let failedOver = TrafficPlan(weights: ["eu-west": 0, "us-east": 10_000], total: 10_000)

    static func actuator(_ hook: PlanHook) -> (PlanActuator, EventBus, String) {
        let directory = temporaryDirectory()
        try? FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let bus = EventBus(logger: Logger(label: "test"))
        return (PlanActuator(stateDirectory: directory, bus: bus, logger: Logger(label: "test"), targets: PlanTargets(hook: hook)), bus, directory)
    }

    /// The hook sees the plan in its environment, and traffic.json already written.
    @Test func theHookGetsThePlanAfterTheStateFile() async throws {
        let directory = temporaryDirectory()
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let script = #"echo "$REGIOND_PLAN|$REGIOND_PLAN_TOTAL|$REGIOND_TRAFFIC_FILE" > "$0/seen"; grep -c '"weight" : 10000' "$REGIOND_TRAFFIC_FILE" >> "$0/seen""#
        let (actuator, bus, state) = Self.actuator(PlanHook(command: ["/bin/sh", "-c", script, directory]))
        defer { try? FileManager.default.removeItem(atPath: state) }
        let events = await bus.subscribe()

        await actuator.applyAndWait(Self.failedOver, order: Self.order)
        let seen = try String(contentsOfFile: "\(directory)/seen", encoding: .utf8)
        #expect(seen == "eu-west=0 us-east=10000|10000|\(state)/traffic.json\n1\n")
        // Each target says when it took which plan, the state file first; nothing else is news.
        await bus.publish(Event(time: Date(), message: "sentinel", .planChanged))
        var iterator = events.makeAsyncIterator()
        let first = await iterator.next()
        let second = await iterator.next()
        #expect(first?.kind == .planApplied && first?.fields["actuator"] == "state_file" && first?.fields["generation"] == "1")
        #expect(second?.kind == .planApplied && second?.fields["actuator"] == "hook" && second?.fields["plan"] == "eu-west=0 us-east=10000")
        #expect(await iterator.next()?.message == "sentinel")
        #expect(actuator.appliedTo.map(\.name) == ["state_file", "hook"])
        #expect(actuator.appliedTo.allSatisfy { $0.ok && $0.lastApplied != nil && $0.appliedGeneration == 1 })
    }

    @Test(arguments: [
        (["/bin/sh", "-c", "exit 3"], "exited 3"),
        (["/bin/sh", "-c", "kill -TERM $$"], "killed by signal 15"),
        (["/nonexistent/apply-plan"], "/nonexistent/apply-plan"),
        (["/bin/sh", "-c", "sleep 30 & wait"], "did not finish within 300ms"),
    ])
    func aFailingHookIsAnActuatorFailure(command: [String], expected: String) async throws {
        // Only the hanging hook needs the short timeout; the others get room for a slow spawn
        // (sanitizers, a loaded machine).
        let timeout: Duration = expected.hasPrefix("did not finish") ? .milliseconds(300) : .seconds(10)
        let (actuator, bus, state) = Self.actuator(PlanHook(command: command, timeout: timeout))
        defer { try? FileManager.default.removeItem(atPath: state) }
        let events = await bus.subscribe()
        await actuator.applyAndWait(Self.failedOver, order: Self.order)
        var iterator = events.makeAsyncIterator()
        let event = try #require(await iterator.nextNotice())
        #expect(event.kind == .actuatorFailed)
        #expect(event.fields["actuator"] == "hook")
        #expect(event.fields["error"]?.contains(expected) == true, "\(event.fields)")
        // The state file was written all the same.
        #expect(FileManager.default.fileExists(atPath: "\(state)/traffic.json"))
        let hook = try #require(actuator.appliedTo.first { $0.name == "hook" })
        #expect(!hook.ok && hook.error?.contains(expected) == true && hook.failingSince != nil)
    }

    /// A reload that brings a new hook runs it once for the committed plan; one that
    /// keeps the same hook does not run it again.
    @Test func aNewHookRunsOnceForTheCommittedPlan() async throws {
        let directory = temporaryDirectory()
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let (actuator, _, state) = Self.actuator(PlanHook(command: ["/bin/true"]))
        defer { try? FileManager.default.removeItem(atPath: state) }
        await actuator.applyAndWait(Self.failedOver, order: Self.order)

        let logging = PlanHook(command: ["/bin/sh", "-c", #"echo "$REGIOND_PLAN" >> "$0/runs""#, directory])
        await actuator.configure(PlanTargets(hook: logging))
        await actuator.settle()
        await actuator.configure(PlanTargets(hook: logging))
        await actuator.settle()
        let runs = try String(contentsOfFile: "\(directory)/runs", encoding: .utf8)
        #expect(runs == "eu-west=0 us-east=10000\n")
    }
}

/// The hook runs outside the decision loop: a slow hook delays no decision and no other
/// target, a newer plan replaces one still waiting, and no target gets an older plan after
/// a newer one.
@Suite("PlanActuator: slow targets hold nothing back")
struct SlowTargetTests {
    @Test(.timeLimit(.minutes(1)))
    func aSlowHookGetsTheNewestPlanAndHoldsNothingBack() async throws {
        let directory = temporaryDirectory()
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        // The hook logs each plan it gets, then waits on a pipe of its plan's generation,
        // which the test opens only when it wants that run to finish.
        for generation in 1...4 { #expect(mkfifo("\(directory)/gate-\(generation)", 0o600) == 0) }
        let script = #"echo "$REGIOND_PLAN_GENERATION $REGIOND_PLAN" >> "$0/runs"; read line < "$0/gate-$REGIOND_PLAN_GENERATION""#
        let (actuator, bus, state) = PlanHookTests.actuator(PlanHook(command: ["/bin/sh", "-c", script, directory], timeout: .seconds(30)))
        defer { try? FileManager.default.removeItem(atPath: state) }
        var events = await bus.subscribe().makeAsyncIterator()
        let plans = [
            TrafficPlan(weights: ["eu-west": 6000, "us-east": 4000], total: 10_000),
            TrafficPlan(weights: ["eu-west": 3000, "us-east": 7000], total: 10_000),
            TrafficPlan(weights: ["eu-west": 0, "us-east": 10_000], total: 10_000),
            TrafficPlan(weights: ["eu-west": 1000, "us-east": 9000], total: 10_000),
        ]
        // Plan 1 starts the hook, which blocks; plans 2 to 4 arrive meanwhile. Each apply
        // returns at once: the state file has each plan, the hook is still on plan 1.
        for plan in plans { await actuator.apply(plan, order: PlanHookTests.order) }
        let file = try String(contentsOfFile: "\(state)/traffic.json", encoding: .utf8)
        #expect(file.contains(#""generation" : 4"#))
        _ = await events.next(.planApplied)  // state_file, plan 1
        // Let the hook finish twice: it ran plan 1, then plan 4; plans 2 and 3 were superseded.
        for generation in [1, 4] {
            // Opening a FIFO to write blocks until the hook opens it to read: off the cooperative pool.
            await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
                DispatchQueue.global().async {
                    if let writer = FileHandle(forWritingAtPath: "\(directory)/gate-\(generation)") {
                        writer.write(Data("go\n".utf8))
                        try? writer.close()
                    }
                    done.resume()
                }
            }
        }
        await actuator.settle()
        let runs = try String(contentsOfFile: "\(directory)/runs", encoding: .utf8)
        #expect(runs == "1 eu-west=6000 us-east=4000\n4 eu-west=1000 us-east=9000\n")
        let hook = try #require(actuator.appliedTo.first { $0.name == "hook" })
        #expect(hook.ok && hook.appliedGeneration == 4)
    }
}
