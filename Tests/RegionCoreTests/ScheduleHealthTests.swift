import RegionCore
import Testing

@Suite("ScheduleHealth")
struct ScheduleHealthTests {
    /// A sequence of lateness p99 readings (ms; nil: no probes yet) and the verdict changes they cause.
    @Test(arguments: [
        ([nil, 0.2, 3, 99.9, 100], [nil, nil, nil, nil, nil] as [ScheduleHealth.Change?]),  // 100 is not above 100
        ([0.5, 268, 300, 90, 30], [nil, .overloaded(p99Ms: 268), nil, nil, nil]),  // stays overloaded until below 25
        ([268, 24.9, 50, 101], [.overloaded(p99Ms: 268), .recovered(p99Ms: 24.9), nil, .overloaded(p99Ms: 101)]),
        ([268, nil, 10], [.overloaded(p99Ms: 268), nil, .recovered(p99Ms: 10)]),  // no reading changes nothing
    ] as [([Double?], [ScheduleHealth.Change?])])
    func verdictsHaveHysteresis(readings: [Double?], expected: [ScheduleHealth.Change?]) {
        var health = ScheduleHealth()
        let changes = readings.map { health.observe(latenessP99Ms: $0) }
        #expect(changes == expected)
    }
}
