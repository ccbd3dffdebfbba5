import ArgumentParser
import FoundationEssentials
import Glibc
import RegionCore

@main
struct RegionctlCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "regionctl",
        abstract: "Query and control a running regiond over its control socket.",
        discussion: """
            Reading commands (status, regions, region, traffic, best, history, analytics, \
            probe, simulate, watch, version) are open to anyone who may connect to the socket. \
            Commands that change state (reload, failover, drain, enable, disable, set-weights, \
            pin, unpin) need root, regiond's own user, or membership of admin_group.

            Exit status: 0 success, 1 regiond answered with an error (the message says which), \
            64 bad usage, 69 regiond is not reachable, 75 rate-limited (try again later), \
            77 permission denied.
            Shell completions: regionctl --generate-completion-script bash|zsh|fish
            """,
        version: RegiondVersion.string,
        subcommands: [
            Status.self, Regions.self, Region.self, Traffic.self, Best.self, Probe.self, History.self, AnalyticsCommand.self, Simulate.self,
            Watch.self, Version.self, Reload.self, Failover.self, Drain.self, Enable.self, Disable.self, SetWeights.self, Pin.self, Unpin.self, Confirm.self,
        ]
    )
}
