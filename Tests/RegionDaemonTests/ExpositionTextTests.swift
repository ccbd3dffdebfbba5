import Testing

@testable import RegionDaemon

/// The hand-written Prometheus text of the series read at scrape time (promtool checks a
/// real scrape end to end; these pin the details a scrape of the demo may not reach).
@Suite("Prometheus exposition text")
struct ExpositionTextTests {
    @Test func eachFamilyIsOneBlockHeadedOnceInTheOrderFirstSeen() {
        var out = ExpositionText()
        out.add("a", .gauge, "First.", [("region", "r1")], 1)
        out.add("b_total", .counter, "Second.", [], 7)
        out.add("a", .gauge, "First.", [("region", "r2")], 0.5)
        #expect(String(decoding: out.text, as: UTF8.self) == """
            # HELP a First.
            # TYPE a gauge
            a{region="r1"} 1
            a{region="r2"} 0.5
            # HELP b_total Second.
            # TYPE b_total counter
            b_total 7

            """)
    }

    @Test(arguments: [
        ("plain", "plain"),
        ("quote\"d", "quote\\\"d"),
        ("back\\slash", "back\\\\slash"),
        ("two\nlines", "two\\nlines"),
        ("żółw ✓", "żółw ✓"),
        ("", ""),
    ])
    func labelValuesAreEscapedAsTheFormatSays(value: String, written: String) {
        var out = ExpositionText()
        out.add("m", .gauge, "Help with \\ and\nnewline.", [("endpoint", value), ("k", "v")], 2)
        let lines = String(decoding: out.text, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false)
        #expect(lines.first == "# HELP m Help with \\\\ and\\nnewline.")
        #expect(lines.dropFirst(2).first == "m{endpoint=\"\(written)\",k=\"v\"} 2")
    }

    @Test(arguments: [
        (3.0, "3"), (-2.0, "-2"), (0.25, "0.25"), (Double.nan, "NaN"), (Double.infinity, "+Inf"), (-Double.infinity, "-Inf"), (1e20, "1e+20"),
    ])
    func valuesAreWrittenAsPrometheusReadsThem(value: Double, written: String) {
        #expect(ExpositionText.format(value) == written)
    }
}
