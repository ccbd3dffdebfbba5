import Testing

@testable import RegionDaemon

@Suite("OpenMetrics text")
struct OpenMetricsTextTests {
    @Test func countersAndInfoAreRenamedAndTheExpositionEnds() {
        let prometheus = """
            # HELP regiond_build_info regiond's version; always 1.
            # TYPE regiond_build_info gauge
            regiond_build_info{version="0.1.0"} 1
            # HELP regiond_probes_total Probes run since start.
            # TYPE regiond_probes_total counter
            regiond_probes_total 42
            # HELP regiond_region_error_ratio Share of failed probes.
            # TYPE regiond_region_error_ratio gauge
            regiond_region_error_ratio{region="eu # west"} 0.5
            # TYPE regiond_commit_duration_seconds histogram
            regiond_commit_duration_seconds_bucket{le="+Inf"} 3
            regiond_commit_duration_seconds_sum 0.1
            regiond_commit_duration_seconds_count 3

            """
        let expected = """
            # HELP regiond_build regiond's version; always 1.
            # TYPE regiond_build info
            regiond_build_info{version="0.1.0"} 1
            # HELP regiond_probes Probes run since start.
            # TYPE regiond_probes counter
            regiond_probes_total 42
            # HELP regiond_region_error_ratio Share of failed probes.
            # TYPE regiond_region_error_ratio gauge
            regiond_region_error_ratio{region="eu # west"} 0.5
            # TYPE regiond_commit_duration_seconds histogram
            regiond_commit_duration_seconds_bucket{le="+Inf"} 3
            regiond_commit_duration_seconds_sum 0.1
            regiond_commit_duration_seconds_count 3
            # EOF

            """
        #expect(String(decoding: OpenMetricsText.convert(Array(prometheus.utf8)), as: UTF8.self) == expected)
    }

    @Test(arguments: [
        ("application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1", true),
        ("Application/OpenMetrics-Text", true),
        ("text/plain;version=0.0.4", false),
        ("*/*", false),
        (nil, false),
    ] as [(String?, Bool)])
    func theScraperChoosesTheFormat(accept: String?, openMetrics: Bool) {
        #expect(OpenMetricsText.isAsked(byAccept: accept) == openMetrics)
    }
}
