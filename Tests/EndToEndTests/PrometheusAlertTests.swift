import Foundation
import NIOCore
import Testing

/// Debian's real Prometheus scrapes a running regiond (OpenMetrics, as it asks by
/// default), evaluates the shipped rules and sends alerts to an Alertmanager that the
/// test plays. A region breaks and mends; the test follows it through Prometheus's API.
@Suite("a real Prometheus", .serialized)
struct PrometheusAlertTests {
    /// Whether an Alertmanager request carries `alert` for eu-west, firing or resolved.
    /// A firing alert's `endsAt` is minutes ahead (Prometheus renews it); a resolved one's
    /// is the moment it resolved.
    static func carries(_ request: HTTPInbox.Request, _ alert: String, resolved: Bool) -> Bool {
        guard request.method == "POST", request.path == "/api/v2/alerts",
            let alerts = try? JSONSerialization.jsonObject(with: Data(request.body.utf8)) as? [[String: Any]]
        else { return false }
        let format = DateFormatter()
        format.locale = Locale(identifier: "en_US_POSIX")
        format.timeZone = TimeZone(identifier: "UTC")
        format.dateFormat = "yyyy-MM-dd'T'HH:mm:ss"
        return alerts.contains { entry in
            let labels = entry["labels"] as? [String: String] ?? [:]
            guard labels["alertname"] == alert, labels["region"] == "eu-west",
                let ends = (entry["endsAt"] as? String).flatMap({ format.date(from: String($0.prefix(19))) })
            else { return false }
            return (ends < Date().addingTimeInterval(60)) == resolved
        }
    }

    @Test func aBrokenRegionFiresRegionUnhealthyAndMendingResolvesIt() async throws {
        let port = try BalancedHAProxy.freePort()
        let alertmanager = try await HTTPInbox.start()
        defer { Task { await alertmanager.stop() } }
        let metrics = "\n[metrics]\nlisten = \"127.0.0.1:\(port)\"\n"
        try await scenario({ target in fastConfig(targets: [("eu-west", target)]) + metrics }) { daemon, eu in
            try await daemon.notify.wait(for: "STATUS=1 regions: 1 healthy")
            let prometheus = try await RealPrometheus.start(scraping: port, alertmanager: alertmanager.port)
            do {
                eu.set(.error)
                let fired = try await within(.seconds(60), "RegionUnhealthy to fire") {
                    await alertmanager.next(from: 0) { Self.carries($0, "RegionUnhealthy", resolved: false) }
                }
                let next = try #require(fired, "prometheus: \(prometheus.log.suffix(800))").1
                // The metric change and the alert, as Prometheus's HTTP API shows them.
                #expect(try await prometheus.value(of: #"regiond_region_status{region="eu-west",status="unhealthy"}"#) == "1")
                #expect(try await prometheus.value(of: #"up{job="regiond"}"#) == "1", "scraped in OpenMetrics")
                #expect(try await prometheus.alertStates("RegionUnhealthy") == ["firing"])

                eu.set(.ok)
                let resolved = try await within(.seconds(60), "RegionUnhealthy to resolve") {
                    await alertmanager.next(from: next) { Self.carries($0, "RegionUnhealthy", resolved: true) }
                }
                #expect(resolved != nil)
                #expect(try await prometheus.value(of: #"regiond_region_status{region="eu-west",status="unhealthy"}"#) == "0")
                #expect(try await prometheus.alertStates("RegionUnhealthy") == [])
            } catch {
                await prometheus.stop()
                throw error
            }
            await prometheus.stop()
        }
    }
}
