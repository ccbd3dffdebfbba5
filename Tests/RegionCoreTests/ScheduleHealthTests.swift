import Foundation
import RegionCore
import Testing

@Suite("ScheduleHealth: holding decisions while regiond is starved")
struct ScheduleHealthTests {
    typealias Reading = ScheduleHealth.Reading
    static func at(_ s: Double) -> Date { Date(timeIntervalSince1970: 1_800_000_000 + s) }

    /// Readings one second apart: (lateness p99, loop lag) in ms; what each one changes.
    @Test(arguments: [
        // Within bounds, or no reading at all: nothing happens. 200 is not above 200.
        ([(0.2, 1), (nil, nil), (199, 200)], [nil, nil, nil]),
        // Late probes hold at once; lag alone does too; the reason names the worse one.
        ([(450, 3)], ["held: probes start 450 ms late (p99)"]),
        ([(nil, 260)], ["held: its event loops run 260 ms behind"]),
        // Resuming needs three calm seconds in a row; a relapse starts the count again.
        ([(450, 3), (10, 10), (10, 10), (90, 10), (10, 10), (10, 10), (10, 10), (10, 10)],
         ["held: probes start 450 ms late (p99)", nil, nil, nil, nil, nil, nil, "released after 7 s"]),
        // Between the two thresholds: still held, and not calm.
        ([(450, 3), (100, 100), (100, 100), (100, 100), (100, 100)], ["held: probes start 450 ms late (p99)", nil, nil, nil, nil]),
        // A period with no readings neither calms nor relapses.
        ([(450, 3), (10, nil), (nil, nil), (nil, nil), (nil, 10)], ["held: probes start 450 ms late (p99)", nil, nil, nil, "released after 4 s"]),
    ] as [([(Double?, Double?)], [String?])])
    func holdsAndResumesWithHysteresis(readings: [(Double?, Double?)], expected: [String?]) {
        var health = ScheduleHealth()
        var changes: [String?] = []
        for (second, reading) in readings.enumerated() {
            switch health.observe(Reading(latenessP99Ms: reading.0, loopLagMs: reading.1), now: Self.at(Double(second))) {
            case .held(let hold)?: changes.append("held: \(hold.reason)")
            case .released(let seconds)?: changes.append("released after \(Int(seconds)) s")
            case nil: changes.append(nil)
            }
        }
        #expect(changes == expected)
    }

    @Test func theHoldRemembersSinceWhen() {
        var health = ScheduleHealth()
        _ = health.observe(Reading(latenessP99Ms: 999, loopLagMs: nil), now: Self.at(5))
        #expect(health.held?.since == Self.at(5))
        _ = health.observe(Reading(latenessP99Ms: 999, loopLagMs: nil), now: Self.at(6))
        #expect(health.held?.since == Self.at(5))
    }

    /// Between two readings of the watch, each evaluation judges for itself. `make bench`
    /// at 10,000 endpoints saw 234 healthy regions turn unhealthy in the first second,
    /// before the watch's first reading held them.
    @Test(arguments: [
        // On time, loops keeping up: evaluate. The bounds themselves still evaluate.
        (nil, 0, 0, nil),
        (nil, 200, 200, nil),
        // Held by the watch: wait, whatever this evaluation saw.
        ("probes start 450 ms late (p99)", 0, 0, "regiond holds: probes start 450 ms late (p99)"),
        // The evaluation itself ran late: its loop was starved. 150 ms is not late enough
        // (the watch would not hold for it either, and a status must not freeze unsaid).
        (nil, 150, 0, nil),
        (nil, 250, 0, "the evaluation ran 250 ms late: regiond is starved"),
        // The loops fell behind since the last reading.
        (nil, 20, 236, "its event loops run 236 ms behind"),
    ] as [(String?, Int, Double, String?)])
    func anEvaluationWaitsWhileRegiondIsStarved(held: String?, latenessMs: Int, lagMs: Double, expected: String?) {
        let hold = held.map { ScheduleHealth.Hold(since: Self.at(0), reason: $0) }
        #expect(ScheduleHealth.evaluationWaits(held: hold, evaluationLateness: .milliseconds(latenessMs), loopLagSinceReadingMs: lagMs) == expected)
    }
}
