"""The nemesis: a seeded schedule of faults, made before the run so that a seed replays
exactly, carried out against a `Fleet` on a `Net`, with the ground truth of what was
broken when (wall-clock times, the same clock the instances stamp their events with)."""
import os
import random
import time
from dataclasses import dataclass, field

from .fleet import ETCD, OBSERVERS, REGIONS, TIMING


@dataclass
class Fault:
    at: float  # seconds after the schedule starts
    kind: str
    duration: float
    # "leader" is resolved when the fault starts; anything else is a host or a region.
    targets: list = field(default_factory=list)

    def describe(self):
        return f"+{self.at:6.2f}s {self.kind:15} {','.join(self.targets):12} for {self.duration:.2f}s"


KINDS = ["leader-etcd", "observer-region", "etcd-minority", "etcd-majority", "kill", "pause", "break"]
ETCD_KINDS = {"leader-etcd", "etcd-minority", "etcd-majority"}


def schedule(seed, seconds):
    """Faults for `seconds`, at most two at once, at most one of etcd's at once, and one
    per observer or region at once."""
    rng = random.Random(seed)
    faults = []
    at = 2.0
    lease = TIMING["lease_ttl"]
    while at < seconds:
        kind = rng.choice(KINDS)
        if kind == "leader-etcd":
            targets, duration = ["leader"], rng.uniform(0.5, 2 * lease)
        elif kind == "observer-region":
            targets, duration = rng.sample(sorted(OBSERVERS), rng.choice([1, 1, 2])) + [rng.choice(sorted(REGIONS))], rng.uniform(1, 6)
        elif kind == "etcd-minority":
            targets, duration = [rng.choice(sorted(ETCD))], rng.uniform(1, 6)
        elif kind == "etcd-majority":
            targets, duration = rng.sample(sorted(ETCD), 2), rng.uniform(1, 5)
        elif kind == "kill":
            targets, duration = [rng.choice(sorted(OBSERVERS) + ["leader"])], rng.uniform(0.3, 4)
        elif kind == "pause":
            targets, duration = [rng.choice(sorted(OBSERVERS) + ["leader", "leader"])], lease + rng.uniform(0.3, 2)
        else:
            targets, duration = [rng.choice(sorted(REGIONS))], rng.uniform(1.5, 8)
        fault = Fault(round(at, 2), kind, round(min(duration, seconds + 5 - at), 2), targets)
        if not any(clash(fault, f) for f in faults if f.at <= fault.at < f.at + f.duration) and len(
            [f for f in faults if f.at <= fault.at < f.at + f.duration]
        ) < 2:
            faults.append(fault)
        at += rng.uniform(0.5, 3)
    return faults


def clash(new, old):
    """Two faults that may not overlap: both of etcd's, or on the same host or region
    ("leader" may be any observer, so it clashes with every fault on an observer)."""
    if new.kind in ETCD_KINDS and old.kind in ETCD_KINDS:
        return True
    mine, theirs = set(new.targets), set(old.targets)
    if mine & theirs:
        return True
    observers = set(OBSERVERS) | {"leader"}
    return ("leader" in mine and theirs & observers) or ("leader" in theirs and mine & observers)


class Nemesis:
    """Carries a schedule out and keeps the ground truth: (start, end, kind, targets)."""

    def __init__(self, fleet, net, faults, say=print):
        self.fleet = fleet
        self.net = net
        self.faults = faults
        self.say = say
        self.truth = []  # dicts: start, end, kind, targets (resolved)
        self.active = []  # (end wall time, truth index, heal)

    def run(self):
        start = time.time()
        self.start = start
        pending = sorted(self.faults, key=lambda f: f.at)
        while pending or self.active:
            now = time.time()
            due = [a for a in self.active if a[0] <= now]
            for entry in due:
                self.active.remove(entry)
                self.heal(entry)
            if pending and start + pending[0].at <= now:
                self.apply(pending.pop(0))
                continue
            nexts = [a[0] for a in self.active] + ([start + pending[0].at] if pending else [])
            if nexts:
                time.sleep(max(0, min(min(nexts) - time.time(), 0.05)))

    def resolve(self, targets):
        out = []
        for target in targets:
            if target == "leader":
                leader = self.fleet.leader()
                if leader is None:
                    return None
                out.append(leader)
            else:
                out.append(target)
        return out

    def apply(self, fault):
        targets = self.resolve(fault.targets)
        if targets is None or any(t in OBSERVERS and not self.fleet.running(t) for t in targets):
            self.say(f"  skipped {fault.describe()}: no leader, or its target is down")
            return
        kind = fault.kind
        if kind == "leader-etcd":
            self.net.block(targets[0], list(ETCD))
        elif kind == "observer-region":
            region = targets[-1]
            for observer in targets[:-1]:
                self.net.block(observer, [region])
        elif kind in ("etcd-minority", "etcd-majority"):
            for member in targets:
                self.net.block(member, [h for h in list(ETCD) + list(OBSERVERS) if h != member])
        elif kind == "kill":
            self.fleet.kill(targets[0])
        elif kind == "pause":
            self.fleet.pause(targets[0])
        elif kind == "break":
            open(self.fleet.broken_flag(targets[0]), "w").close()
        entry = {"start": time.time(), "end": None, "kind": kind, "targets": targets, "at": fault.at}
        self.truth.append(entry)
        self.active.append((entry["start"] + fault.duration, len(self.truth) - 1, fault))
        self.say(f"  {fault.describe()}  -> {','.join(targets)}")

    def heal(self, active):
        _, index, fault = active
        entry = self.truth[index]
        kind, targets = entry["kind"], entry["targets"]
        if kind == "leader-etcd":
            self.net.unblock(targets[0], list(ETCD))
        elif kind == "observer-region":
            for observer in targets[:-1]:
                self.net.unblock(observer, [targets[-1]])
        elif kind in ("etcd-minority", "etcd-majority"):
            for member in targets:
                self.net.unblock(member, [h for h in list(ETCD) + list(OBSERVERS) if h != member])
        elif kind == "kill":
            self.fleet.start_observer(targets[0])
        elif kind == "pause":
            self.fleet.resume(targets[0])
        elif kind == "break":
            try:
                os.remove(self.fleet.broken_flag(targets[0]))
            except FileNotFoundError:
                pass
        entry["end"] = time.time()
