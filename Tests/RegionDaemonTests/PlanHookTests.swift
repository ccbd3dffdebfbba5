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

        await actuator.apply(Self.failedOver, order: Self.order)
        let seen = try String(contentsOfFile: "\(directory)/seen", encoding: .utf8)
        #expect(seen == "eu-west=0 us-east=10000|10000|\(state)/traffic.json\n1\n")
        // Success publishes nothing.
        await bus.publish(Event(time: Date(), kind: .planChanged, message: "sentinel"))
        var iterator = events.makeAsyncIterator()
        #expect(await iterator.next()?.message == "sentinel")
        #expect(actuator.appliedTo.map(\.name) == ["state_file", "hook"])
        #expect(actuator.appliedTo.allSatisfy { $0.ok && $0.lastApplied != nil })
    }

    @Test(arguments: [
        (["/bin/sh", "-c", "exit 3"], "exited 3"),
        (["/bin/sh", "-c", "kill -TERM $$"], "killed by signal 15"),
        (["/nonexistent/apply-plan"], "/nonexistent/apply-plan"),
        (["/bin/sh", "-c", "sleep 30 & wait"], "did not finish within 300ms"),
    ])
    func aFailingHookIsAnActuatorFailure(command: [String], expected: String) async throws {
        let (actuator, bus, state) = Self.actuator(PlanHook(command: command, timeout: .milliseconds(300)))
        defer { try? FileManager.default.removeItem(atPath: state) }
        let events = await bus.subscribe()
        await actuator.apply(Self.failedOver, order: Self.order)
        var iterator = events.makeAsyncIterator()
        let event = try #require(await iterator.next())
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
        await actuator.apply(Self.failedOver, order: Self.order)

        let logging = PlanHook(command: ["/bin/sh", "-c", #"echo "$REGIOND_PLAN" >> "$0/runs""#, directory])
        await actuator.configure(PlanTargets(hook: logging))
        await actuator.reconfigured()
        await actuator.configure(PlanTargets(hook: logging))
        await actuator.reconfigured()
        let runs = try String(contentsOfFile: "\(directory)/runs", encoding: .utf8)
        #expect(runs == "eu-west=0 us-east=10000\n")
    }
}
