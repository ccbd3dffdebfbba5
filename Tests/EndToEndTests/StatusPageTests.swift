import Foundation
import NIOCore
import Subprocess
import Testing

/// The live status page in a real browser: headless Chromium (Debian's `chromium`)
/// loads it from a running regiond, the test breaks a region, and the page's row for
/// it changes without a reload (`Tests/browser/status_page.py` drives the browser).
@Suite("status page", .serialized)
struct StatusPageTests {
    @Test func aBrokenRegionShowsOnTheOpenPageWithoutAReload() async throws {
        let port = try BalancedHAProxy.freePort()
        let signal = try await HTTPInbox.start()
        let metrics = "\n[metrics]\nlisten = \"127.0.0.1:\(port)\"\n"
        try await failoverScenario("cooldown = \"0s\"", edit: { $0 + metrics }) { daemon, eu in
            try await daemon.notify.wait(for: "STATUS=2 regions: 2 healthy")
            // What the page is made of: the document, its data, and the event stream.
            let page = try await httpRequest(port: port, "/")
            #expect(page.status == 200 && page.head.lowercased().contains("content-type: text/html"))
            #expect(!page.body.contains("http://") && !page.body.contains("https://"), "nothing from the network")
            let api = try await httpRequest(port: port, "/api/status")
            #expect(api.body.contains(#""id":"eu-west""#) && api.body.contains(#""traffic":{"#))
            #expect(try await httpRequest(port: port, "/api/status", method: "POST").status == 405, "read-only")

            // Kept after the run (the daemon's directory is not), for whoever looks at a failure.
            let artifacts = Binaries.root.appendingPathComponent(".build/test-artifacts").path
            try FileManager.default.createDirectory(atPath: artifacts, withIntermediateDirectories: true)
            let screenshot = "\(artifacts)/status-page.png"
            let script = Binaries.root.appendingPathComponent("Tests/browser/status_page.py").path
            let browser = Task {
                try await runProgram("/usr/bin/python3", [script, "http://127.0.0.1:\(port)/", "eu-west", "http://127.0.0.1:\(signal.port)/ready", screenshot])
            }
            // The page shows eu-west healthy; now break it.
            let ready = try await within(.seconds(60), "the page to show eu-west healthy") { await signal.request(at: 0) }
            guard ready?.path == "/ready" else {
                Issue.record("the browser never saw eu-west healthy: \(try await browser.value.stderr)")
                return
            }
            eu.set(.error)
            let run = try await within(.seconds(60), "the browser") { try await browser.value }
            #expect(run.status == 0, "\(run.stderr)")
            let seen = try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any] ?? [:]
            #expect(seen["before"] as? String == "healthy")
            #expect(["degraded", "unhealthy"].contains(seen["after"] as? String ?? ""), "\(run.stdout)")
            #expect(seen["same_page"] as? Bool == true, "the row changed without a reload")
            #expect((seen["events"] as? [String] ?? []).contains { $0.contains("status_changed") }, "the event list follows too")
            let png = try Data(contentsOf: URL(fileURLWithPath: screenshot))
            #expect(png.count > 10_000 && png.prefix(4) == Data([0x89, 0x50, 0x4E, 0x47]), "a PNG screenshot")
            print("status page screenshot: \(screenshot)")
        }
        await signal.stop()
    }
}
