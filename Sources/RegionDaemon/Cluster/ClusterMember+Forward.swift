import Foundation
import Logging
import RegionCore

/// Operator commands given to any instance (``ForwardedCommand``): a follower forwards
/// them through etcd, the leader decides and answers them under its fence.
extension ClusterMember {
    // MARK: follower

    /// Forwards a command whose caller this instance allowed; returns the revision of the
    /// decision, or why it was not made. Waits `lease_ttl + request_timeout` for an answer,
    /// time for a leader that dies meanwhile to be replaced and answer; then withdraws the
    /// request, which succeeds only while no answer exists.
    public func forward(_ request: ControlRequest, uid: UInt32) async -> Result<Int64, ControlError> {
        guard let lease = self.leaseID, self.reachable == true else {
            return .failure(ControlError(.unavailable, "etcd does not answer, so the command cannot reach the cluster's leader; nothing changed. Try again once it does"))
        }
        let id = "\(self.settings.name).\(UUID().uuidString.prefix(8).lowercased())"
        let command = ForwardedCommand(request: request, uid: uid, via: self.settings.name, lease: lease)
        let wait = self.settings.leaseTTL + self.settings.requestTimeout
        let clock = self.time.clock
        // Bounds the wait; owned by this call and cancelled when it returns.
        let deadline = Task { [weak self] in
            try? await clock.sleep(for: wait)
            await self?.answered(id, nil)
        }
        defer { deadline.cancel() }
        let answer: EtcdEntry? = await withCheckedContinuation { waiter in
            // Waiting before the request exists, so no answer can come first. The put runs on
            // this actor once the waiter is in place; it ends the wait only by failing.
            self.answerWaiters[id] = waiter
            Task {
                do {
                    try await self.etcd.put(self.keys.request(id), try JSONEncoder().encode(command), lease: lease)
                } catch {
                    self.unsent[id] = "\(error)"
                    self.answered(id, nil)
                }
            }
        }
        if let error = self.unsent.removeValue(forKey: id) {
            // The write may still land late (etcd without quorum holds it): withdraw it too.
            _ = await self.withdraw(id)
            return .failure(ControlError(.unavailable, "the command could not be written to etcd (\(error)); see regionctl history before trying again"))
        }
        guard let answer else { return await self.withdraw(id) }
        return Self.read(answer)
    }

    /// The watch saw an answer (or the wait ended: nil).
    func answered(_ id: String, _ entry: EtcdEntry?) {
        self.answerWaiters.removeValue(forKey: id)?.resume(returning: entry)
    }

    /// No answer in time: withdraw the request unless an answer landed meanwhile.
    private func withdraw(_ id: String) async -> Result<Int64, ControlError> {
        let leader = self.view.current?.leader ?? "none"
        do {
            if try await self.etcd.delete(self.keys.request(id), whileAbsent: self.keys.answer(id)) {
                return .failure(
                    ControlError(
                        .unavailable,
                        "no leader answered within \(formatDuration(self.settings.leaseTTL + self.settings.requestTimeout)) (leader: \(leader)); the command was withdrawn and nothing changed. Try again"
                    ))
            }
            guard let entry = try await self.etcd.get(self.keys.answer(id)) else {
                return .failure(ControlError(.unavailable, "the leader's answer vanished; see regionctl history for whether the command was decided"))
            }
            return Self.read(entry)
        } catch {
            return .failure(
                ControlError(
                    .unavailable,
                    "etcd did not answer (\(error)); the leader may still decide the command: see regionctl history before trying again"))
        }
    }

    static func read(_ entry: EtcdEntry) -> Result<Int64, ControlError> {
        guard let answer = try? JSONDecoder().decode(ForwardedAnswer.self, from: entry.value) else {
            return .failure(ControlError(.internal, "the leader's answer could not be read; see regionctl history"))
        }
        if let error = answer.error { return .failure(error) }
        return .success(entry.modRevision)
    }

    // MARK: leader

    /// A request appeared (or was there when this instance was elected): decide it once.
    func take(_ entry: EtcdEntry, id: String) {
        guard self.lease.leadership != nil, self.deciding[id] == nil else { return }
        // One task per request, so a command waiting for its commit does not hold the
        // watch; kept here and cancelled when leadership ends.
        self.deciding[id] = Task { await self.decide(entry, id: id) }
    }

    private func decide(_ entry: EtcdEntry, id: String) async {
        defer { self.deciding[id] = nil }
        guard let command = try? JSONDecoder().decode(ForwardedCommand.self, from: entry.value) else {
            self.logger.warning("cluster: ignoring an unreadable forwarded command at \(entry.key)")
            return
        }
        let key = ForwardedKey(id: id, requestRevision: entry.createRevision, lease: command.lease)
        let result: Result<TrafficReport, ControlError>
        switch ControlCommand(rawValue: command.request.cmd).map({ command.request.operatorCommand($0) }) {
        case .success(let operation)?:
            let reason = command.request.reason.flatMap { $0.isEmpty ? nil : $0 } ?? "no reason given"
            result = await self.controller.command(operation, uid: command.uid, reason: "\(reason) (via \(command.via))", forwarded: key)
        case .failure(let error)?:
            result = .failure(error)
        case nil:
            result = .failure(ControlError(.unknownCommand, "'\(command.request.cmd)' is not a command the leader takes"))
        }
        // Answered in the decision's commit already; otherwise (refused, or nothing to change) now.
        if self.answeredInCommit.remove(id) != nil { return }
        guard let leadership = self.lease.leadership else { return }
        let error: ControlError? = if case .failure(let e) = result { e } else { nil }
        do {
            _ = try await self.etcd.fenced(
                try self.answer(key, error: error), fence: leadership, existing: [.init(self.keys.request(id), since: key.requestRevision)])
        } catch {
            self.logger.warning("cluster: could not answer the command forwarded as \(id): \(error)")
        }
    }

    /// The changes that answer a forwarded command: the answer, bound to the follower's
    /// lease, and the request gone.
    func answer(_ key: ForwardedKey, error: ControlError?) throws -> [EtcdClient.FencedChange] {
        let answer = ForwardedAnswer(error: error, leader: self.settings.name)
        return [.putLeased(key: self.keys.answer(key.id), value: try JSONEncoder().encode(answer), lease: key.lease), .delete(key: self.keys.request(key.id))]
    }

    /// Leadership ended: requests in hand are left for the next leader.
    func dropRequests() {
        for task in self.deciding.values { task.cancel() }
        self.deciding = [:]
        self.answeredInCommit = []
    }
}
