import Foundation
import NIOCore
import NIOHTTP1
import RegionCore
import Subprocess
import Synchronization
import Testing

/// `[[alert]]` end to end: the shipped `contrib/alert-webhook` posts events to a webhook
/// (an ``HTTPInbox``); a webhook that fails is retried, then reported as `alert_failed`
/// and counted; a hanging alert command holds back nothing but its own rule.
@Suite("alert commands", .serialized)
struct AlertCommandTests {
    static var webhook: String { Binaries.root.appendingPathComponent("contrib/alert-webhook").path }

    @Test func aFailoverReachesTheWebhookAndAFailingOneIsReported() async throws {
        let good = try await HTTPInbox.start()
        let bad = try await HTTPInbox.start()
        bad.status.withLock { $0 = .internalServerError }
        let port = try BalancedHAProxy.freePort()
        let alerts = """

            [[alert]]
            name = "webhook"
            command = ["\(Self.webhook)", "http://127.0.0.1:\(good.port)/hook"]

            [[alert]]
            name = "broken-webhook"
            command = ["\(Self.webhook)", "http://127.0.0.1:\(bad.port)/hook"]
            kinds = ["failover_started"]
            retries = 1

            [[alert]]
            name = "hanging"
            command = ["/bin/sleep", "600"]
            timeout = "5m"

            [metrics]
            listen = "127.0.0.1:\(port)"

            """
        try await failoverScenario("cooldown = \"0s\"", edit: { $0 + alerts }) { daemon, eu in
            try await daemon.notify.wait(for: "STATUS=2 regions: 2 healthy")
            let watch = try await ControlConnection.open(daemon.socketPath)
            try await watch.send(#"{"cmd":"watch"}"#)
            _ = try await watch.readLine()
            eu.set(.error)

            // The webhook gets the event as JSON, with its kind in a header.
            let posted = try await within(.seconds(30), "the webhook") {
                await good.next(from: 0) { $0.body.contains(#""kind":"failover_started""#) }
            }
            let request = try #require(posted).0
            #expect(request.method == "POST" && request.path == "/hook")
            #expect(request.headers["x-regiond-event"] == "failover_started")
            #expect(request.headers["content-type"] == "application/json")
            let event = try ControlProtocol.decoder().decode(Event.self, from: Data(request.body.utf8))
            #expect(event.kind == .failoverStarted && event.region == "eu-west")
            #expect(event.fields["trigger"] != nil)

            // The broken one: two attempts (retries = 1), then alert_failed, on the event stream.
            let failed = try await watch.readLine(containingAll: [#""kind":"alert_failed""#, #""alert":"broken-webhook""#])
            #expect(failed.contains(#""attempts":"2""#), "\(failed)")
            #expect(failed.contains(#""alert_kind":"failover_started""#))
            #expect(await bad.requests.line(at: 1) != nil, "the retry reached the webhook too")

            // The hanging command held back neither the failover nor the other rules.
            let traffic = try await daemon.regionctl(["traffic"])
            #expect(traffic.stdout.contains("eu-west"), "\(traffic.stdout)")
            let scrape = try await httpRequest(port: port, "/metrics").body
            #expect(sample(scrape, "regiond_alert_deliveries_total", ["alert": "webhook", "result": "ok"]).map { $0 >= 1 } == true)
            #expect(sample(scrape, "regiond_alert_deliveries_total", ["alert": "broken-webhook", "result": "failed"]) == 1)
            #expect(sample(scrape, "regiond_alert_deliveries_total", ["alert": "hanging", "result": "ok"]) == nil, "still running")
            await watch.close()
            // A stop does not wait for the hanging command's 5 minutes.
            daemon.signal(SIGTERM)
            #expect(try await daemon.waitForExit(limit: .seconds(20)) == .exited(0), "\(daemon.stderr.suffix(600))")
        }
        await good.stop()
        await bad.stop()
    }
}
