import FoundationEssentials

// The words of ``DecisionMaker``: what goes in, what comes out.

/// Who makes decisions: this instance alone (no `[cluster]`), or the fleet's leader.
public enum DecisionRole: Sendable, Equatable {
    case alone
    case leader
    case follower(leader: String?)
}

/// An operator's command, with the id its reply is matched by.
public struct OperatorRequest: Sendable, Equatable {
    public var id: UInt64
    public var command: OperatorCommand
    public var uid: UInt32
    public var reason: String

    public init(id: UInt64, command: OperatorCommand, uid: UInt32, reason: String) {
        self.id = id
        self.command = command
        self.uid = uid
        self.reason = reason
    }
}

/// What etcd made of a fenced commit.
public enum FenceOutcome: Sendable, Equatable {
    /// Committed at this etcd revision.
    case committed(revision: Int64)
    /// Not committed: this instance may not decide (it no longer leads, its lease may lapse,
    /// etcd does not answer). The decision was never made.
    case refused(String)
}

/// What the history made of a decision handed to it.
public enum RecordOutcome: Sendable, Equatable {
    /// Recorded and delivered to every sink, numbered.
    case recorded([Event])
    /// Its etcd revision is recorded already: nothing written, nothing delivered.
    case alreadyRecorded
    /// The history could not take it: nothing delivered.
    case failed(String)
}

/// One decision as it is recorded: the engine state after it and its events.
public struct DecisionRecord: Sendable, Equatable {
    /// nil: events only (a decision another instance committed before the latest state).
    public var state: EngineState?
    public var events: [Event]
    /// Cluster mode: the etcd revision of the commit, recorded once per instance.
    public var revision: Int64?

    public init(state: EngineState?, events: [Event], revision: Int64? = nil) {
        self.state = state
        self.events = events
        self.revision = revision
    }
}

/// Everything that can happen to the decision path.
public enum DecisionInput: Sendable {
    /// A region's latest signal: this instance's own evaluation, or in cluster mode the fleet's.
    case signal(String, RegionSignal)
    /// The round queued by the first of a burst of signals (``DecisionAction/queueRound``).
    case round
    /// A deadline is due (gradual step, recovery window, cooldown, pin, a retry).
    case tick
    /// regiond is starved (true), or keeps its schedule again (false).
    case hold(Bool)
    /// The load balancers report no session left on a draining region.
    case drained(String)
    /// A reloaded configuration.
    case reconfigure(FailoverSettings, [FailoverRegion], PlanTargets)
    case command(OperatorRequest)
    /// Cluster mode: this instance's etcd session is live (its lease renewed, its heartbeat
    /// written, `etcd_reachable` published), or not.
    case session(live: Bool)
    /// Cluster mode: who leads.
    case role(DecisionRole)
    /// Cluster mode: a decision committed to etcd (by another leader, or before a restart).
    case adopt(CommittedDecision)
    /// The answer to ``DecisionAction/commitFenced(_:_:)``.
    case fenced(FenceOutcome)
    /// The answer to ``DecisionAction/record(_:)``.
    case recorded(RecordOutcome)
}

/// What the reply to an operator's command says.
public enum CommandReply: Sendable, Equatable {
    /// Committed and in force.
    case done
    case refused(ControlError)
}

/// What the shell must do, in order.
public enum DecisionAction: Sendable, Equatable {
    /// Queue ``DecisionInput/round`` behind the inputs already waiting.
    case queueRound
    /// Cluster mode: commit to etcd first, fenced by the election key; answer with `.fenced`.
    case commitFenced(EngineState, [Event])
    /// Record in the history (which then delivers the events); answer with `.recorded`.
    case record(DecisionRecord)
    /// Deliver events the history does not hold (it failed, or they are about its failure).
    case publish([Event])
    /// Hand a committed plan to every target.
    case apply(TrafficPlan)
    /// The targets the plan goes to changed (a reload, or the `[hook]` follows leadership).
    case configure(PlanTargets)
    case reply(UInt64, CommandReply)
    /// Send ``DecisionInput/tick`` at this time (nil: nothing is due).
    case wake(at: Date?)
    /// What `STATUS=` and `status` say beyond region statuses changed.
    case alarms(Alarms)
}

/// Why no automatic decision is made now, if none is.
public enum Standstill: Sendable, Equatable {
    /// regiond is starved: what it sees says nothing about the regions.
    case held
    /// Cluster mode: another instance decides.
    case following(leader: String?)
    /// Cluster mode: this instance leads but its etcd session is not live.
    case noSession
    /// These enabled regions have no known status (at start, after a reload, or in
    /// cluster mode without enough live observers).
    case unknown([String])
    /// Alone: too many regions began failing at once; this instance suspects its own
    /// network (``SelfSuspicion``) until fewer fail or an operator confirms.
    case suspect(SelfSuspicion.Suspect)
}
