import Foundation
import NIOPosix
import RegionCore

/// The read-only queries that need more than one call: `regions --status`, `probe`,
/// `best`'s neighbours, `analytics` and `simulate`. None of them changes a decision.
extension ControlService {
    func regions(_ request: ControlRequest) async -> ControlAction {
        let wanted: Set<RegionStatus>?
        switch request.statusFilter() {
        case .success(let filter): wanted = filter
        case .failure(let error): return Self.failure(request.id, error)
        }
        let briefs = await self.supervisor.briefs().filter { brief in wanted.map { $0.contains(brief.status) } ?? true }
        return .reply(Self.encode(ControlReply(id: request.id, result: RegionList(regions: briefs, fleet: self.supervisor.fleet))))
    }

    func probe(_ request: ControlRequest) async -> ControlAction {
        guard let name = request.region, !name.isEmpty else {
            return Self.failure(request.id, ControlError(.badRequest, "'probe' needs a \"region\" field with the region id"))
        }
        switch await self.supervisor.probe(region: name) {
        case nil:
            let known = await self.supervisor.config.regions.map(\.id).joined(separator: ", ")
            return Self.failure(request.id, ControlError(.notFound, "no region '\(clip(name, bytes: 64))'; known regions: \(known)"))
        case .success(let report)?:
            return .reply(Self.encode(ControlReply(id: request.id, result: report)))
        case .failure(let error)?:
            return Self.failure(request.id, error)
        }
    }

    func analytics(_ request: ControlRequest) async -> ControlAction {
        guard let store = self.store else { return Self.failure(request.id, ControlError(.internal, "the state database is not open; see the journal")) }
        let now = Date()
        let since: Date?
        switch request.sinceDate(now: now) {
        case .success(let date): since = date
        case .failure(let error): return Self.failure(request.id, error)
        }
        let region = request.region.flatMap { $0.isEmpty ? nil : $0 }
        if let region, await self.supervisor.config.region(region) == nil {
            let known = await self.supervisor.config.regions.map(\.id).joined(separator: ", ")
            return Self.failure(request.id, ControlError(.notFound, "no region '\(clip(region, bytes: 64))'; known regions: \(known)"))
        }
        let targets = self.controller?.planTargets.map(\.name) ?? []
        do {
            let events = try await store.history(region: nil, since: since, kinds: nil, limit: 100_000)
            let report = try await NIOThreadPool.singleton.runIfActive { Analytics.compute(events, now: now, targets: targets, region: region) }
            return .reply(Self.encode(ControlReply(id: request.id, result: report)))
        } catch {
            return Self.failure(request.id, ControlError(.internal, "cannot read the history: \(error)"))
        }
    }

    /// Runs the pure engine on a copy of the live state, off the cooperative pool (a long
    /// script may take thousands of rounds).
    func simulate(_ request: ControlRequest) async -> ControlAction {
        guard let controller = self.controller else { return Self.failure(request.id, ControlError(.internal, "failover is not running")) }
        let steps: [Simulation.Step]
        let until: Duration?
        switch (request.simulationSteps(), request.simulationLimit()) {
        case (.success(let s), .success(let u)):
            steps = s
            until = u
        case (.failure(let error), _), (_, .failure(let error)):
            return Self.failure(request.id, error)
        }
        let (engine, signals, suspicion) = controller.snapshot()
        let requirements = Dictionary(await self.supervisor.config.regions.map { ($0.id, $0.endpointRequirement) }, uniquingKeysWith: { a, _ in a })
        let now = Date()
        do {
            let report = try await NIOThreadPool.singleton.runIfActive { Simulation.run(engine: engine, signals: signals, suspicion: suspicion, requirements: requirements, steps: steps, start: now, until: until) }
            return .reply(Self.encode(ControlReply(id: request.id, result: report)))
        } catch {
            return Self.failure(request.id, ControlError(.internal, "the simulation could not run: \(error)"))
        }
    }
}
