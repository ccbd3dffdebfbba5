"""The checker: reads every instance's history (its SQLite database), its traffic.json and
its engine state, and etcd's decision log and state, and proves the invariants of
docs/reliability.md ("Decisions under faults") against the nemesis's ground truth."""
import json
import sqlite3
from collections import defaultdict

from .fleet import OBSERVERS, REGIONS, TIMING


def read_history(path):
    """Events of one instance, in id order (dicts with id, time, kind, region, data,
    decision), its engine state, and the revisions its `decision` table records (a
    decision with no event, such as an alert marker cleared, shows only there)."""
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        rows = db.execute("SELECT id, time, kind, region, data, decision FROM event ORDER BY id").fetchall()
        engine = db.execute("SELECT state FROM engine WHERE id = 1").fetchone()
        recorded = {r[0] for r in db.execute("SELECT revision FROM decision").fetchall()}
    finally:
        db.close()
    events = [
        {"id": r[0], "time": r[1], "kind": r[2], "region": r[3], "data": json.loads(r[4]) if r[4] else {}, "decision": json.loads(r[5]) if r[5] else {}}
        for r in rows
    ]
    return events, json.loads(engine[0]) if engine else None, recorded


def plan_of_state(state):
    weights = (state or {}).get("plan", {}).get("weights", {})
    return {region: weights.get(region, 0) for region in REGIONS}


def plan_of_traffic_file(path):
    with open(path) as f:
        traffic = json.load(f)
    return {row["region"]: row["weight"] for row in traffic.get("weights", [])}


class Truth:
    """What the nemesis broke, asked by time."""

    def __init__(self, entries, end):
        self.entries = [dict(e, end=e["end"] if e["end"] is not None else end) for e in entries]

    def during(self, kind, t0, t1):
        return [e for e in self.entries if e["kind"] == kind and e["start"] < t1 and e["end"] > t0]

    def at(self, kind, t):
        return self.during(kind, t, t)

    def region_broken(self, region, t):
        return any(e["targets"] == [region] for e in self.at("break", t))

    def path_cut(self, observer, region, t):
        return any(observer in e["targets"][:-1] and e["targets"][-1] == region for e in self.at("observer-region", t))

    def observer_down(self, observer, t):
        """Killed, paused, or cut from etcd alone (its lease lapses: its view stops counting).
        etcd losing its majority is not one: every observer keeps probing, its lease is
        not expired by a leaderless etcd, and what it sees then is published, and counts,
        when etcd is back (seed 184561225: a path cut inside an etcd outage, reported as
        the outage ended, was a real quorum's view)."""
        return any(e["targets"] == [observer] for e in self.at("kill", t) + self.at("pause", t) + self.at("leader-etcd", t))

    def sees_failing(self, observer, region, t):
        return not self.observer_down(observer, t) and (self.region_broken(region, t) or self.path_cut(observer, region, t))

    def quorum_saw(self, region, t):
        """At least a majority of the observers whose view counts saw `region` failing at `t`."""
        live = [o for o in OBSERVERS if not self.observer_down(o, t)]
        failing = [o for o in live if self.sees_failing(o, region, t)]
        return len(live) > 0 and len(failing) >= len(live) // 2 + 1

    def times(self, t0, t1, step=0.05):
        """Sample instants of [t0, t1], plus every fault boundary inside it."""
        points = {t0, t1}
        for e in self.entries:
            for edge in (e["start"], e["end"]):
                if t0 <= edge <= t1:
                    points.update({edge - 0.001, edge + 0.001})
        t = t0
        while t < t1:
            points.add(t)
            t += step
        return sorted(points)


def check(histories, traffic_plans, log, state_plan, truth, origin):
    """Returns the violations (empty: every invariant holds). `histories`: observer ->
    (events, engine state); `log`: revision -> committed decision (events, leader)."""
    violations = []
    lookback = TIMING["window"] + TIMING["fall"] * TIMING["evaluation_interval"] + 3 * TIMING["renew_interval"] + TIMING["lease_ttl"] + 2.0
    revisions = sorted(log)

    # 1. Every committed revision once in every history, in revision order; same events.
    for observer, (events, _, recorded) in histories.items():
        order, seen = [], {}
        for event in events:
            revision = event["decision"].get("revision")
            if revision is None:
                continue
            if order and order[-1] == revision:
                seen[revision].append(event)
                continue
            if revision in seen:
                violations.append(f"{observer}: revision {revision} recorded twice (again at event {event['id']})")
            order.append(revision)
            seen.setdefault(revision, []).append(event)
        if order != sorted(order):
            violations.append(f"{observer}: decisions out of revision order: {order}")
        for revision in revisions:
            if revision not in seen and not log[revision]["events"]:
                # A decision that changed the state and said nothing (seed 1248881258: a
                # failover_blocked marker cleared): it is in the decision table or missing.
                if revision not in recorded:
                    violations.append(f"{observer}: committed revision {revision} (no events) missing from its decision table")
            elif revision not in seen:
                violations.append(f"{observer}: committed revision {revision} ({[e['kind'] for e in log[revision]['events']]}) missing from its history")
            elif [e["kind"] for e in seen[revision]] != [e["kind"] for e in log[revision]["events"]]:
                violations.append(f"{observer}: revision {revision} recorded as {[e['kind'] for e in seen[revision]]}, committed as {[e['kind'] for e in log[revision]['events']]}")

    # 2. No failover without a quorum that really saw the fault.
    for revision in revisions:
        for event in log[revision]["events"]:
            if event["kind"] != "failover_started":
                continue
            t, region = event["time"], event["region"]
            if not any(truth.quorum_saw(region, s) for s in truth.times(t - lookback, t)):
                violations.append(f"revision {revision}: {region} failed over at +{t - origin:.2f} s by {log[revision]['leader']} without a quorum that saw it failing in the {lookback:.1f} s before")

    # 3. No no_healthy_target while a quorum saw a serving, healthy target.
    plan = None
    for revision in revisions:
        decision = log[revision]
        for event in decision["events"]:
            if event["kind"] == "no_healthy_target" and plan:
                t = event["time"]
                stranded = set(event.get("data", {}).get("regions", []))
                for region in REGIONS:
                    if region in stranded or plan.get(region, 0) == 0:
                        continue
                    healthy = all(
                        sum(1 for o in OBSERVERS if not truth.observer_down(o, s) and not truth.sees_failing(o, region, s)) >= 2
                        for s in truth.times(t - lookback, t)
                    )
                    if healthy:
                        violations.append(f"revision {revision}: no_healthy_target at +{t - origin:.2f} s while {region} (weight {plan[region]}) was healthy and reachable for a quorum")
        stamped = next((e.get("decision", {}).get("plan") for e in decision["events"] if e.get("decision", {}).get("plan")), None)
        if stamped:
            plan = {w["region"]: w["weight"] for w in stamped}

    # 4. One leader per term; no commit by a leader past its lease or after it lost leadership.
    gained = defaultdict(list)  # observer -> times it gained leadership
    lost = defaultdict(list)
    for observer, (events, _, _) in histories.items():
        for event in events:
            if event["kind"] == "leadership_gained" and event["data"].get("observer") == observer:
                gained[observer].append(event["time"])
            if event["kind"] == "leadership_lost" and event["data"].get("observer") == observer:
                lost[observer].append(event["time"])
    previous = None
    for revision in revisions:
        decision = log[revision]
        leader, t = decision["leader"], min((e["time"] for e in decision["events"]), default=None)
        if t is None:
            continue
        wins = [g for g in gained[leader] if g <= t + 0.001]
        if not wins:
            violations.append(f"revision {revision}: committed by {leader}, which never said it leads before +{t - origin:.2f} s")
            continue
        term = wins[-1]
        if any(term < l < t for l in lost[leader]):
            violations.append(f"revision {revision}: committed by {leader} at +{t - origin:.2f} s after it lost leadership")
        # A new leader's term starts after the last decision of the one before: two
        # leaders never commit in overlapping terms.
        if previous and previous[0] != leader and term < previous[1] - 0.05:
            violations.append(f"revision {revision}: {leader}'s term began at +{term - origin:.2f} s, before {previous[0]}'s decision at +{previous[1] - origin:.2f} s")
        for cut in truth.during("leader-etcd", t, t):
            if cut["targets"] == [leader] and cut["start"] + TIMING["lease_ttl"] - TIMING["request_timeout"] < t < cut["end"]:
                violations.append(f"revision {revision}: {leader} committed at +{t - origin:.2f} s, cut from etcd since +{cut['start'] - origin:.2f} s: past its lease")
        for pause in truth.during("pause", t, t):
            if pause["targets"] == [leader]:
                violations.append(f"revision {revision}: {leader} committed at +{t - origin:.2f} s while it was stopped")
        previous = (leader, t)

    # 5 and 6. Converged, and nothing committed lost: every plan is etcd's.
    for observer, plan_seen in traffic_plans.items():
        if plan_seen != state_plan:
            violations.append(f"{observer}: traffic.json has {plan_seen}, etcd's committed state {state_plan}")
    for observer, (_, engine, _) in histories.items():
        if plan_of_state(engine) != state_plan:
            violations.append(f"{observer}: its state database has {plan_of_state(engine)}, etcd's committed state {state_plan}")
    return violations
