#!/usr/bin/env python3
"""A randomized fault test of cluster mode (`make chaos`, and a short fixed seed in `make
test`): 3 etcd members and 3 regiond, each in its own network namespace, and 3 regions,
under a seeded schedule of real partitions (nftables drops), kill -9 and restarts,
SIGSTOP past the lease, and broken regions. After the run a checker reads every history,
traffic.json and etcd, and proves the invariants of docs/reliability.md. A failing run
prints its seed and its schedule; `--seed` replays the schedule exactly.

Needs root (network namespaces), etcd, nftables, and built regiond binaries.

  scripts/chaos.py --seed 7 --seconds 60          one run
  scripts/chaos.py --minutes 30                   runs of 2 minutes with new seeds for 30 minutes
"""
import argparse
import json
import os
import random
import shutil
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cluster_chaos.checker import Truth, check, plan_of_state, plan_of_traffic_file, read_history  # noqa: E402
from cluster_chaos.fleet import ETCD, OBSERVERS, REGIONS, ROOT, TIMING, Fleet, slow_down  # noqa: E402
from cluster_chaos.nemesis import Nemesis, schedule  # noqa: E402
from cluster_chaos.net import Net, sweep  # noqa: E402

APPLE_EPOCH = 978_307_200  # JSONEncoder's default dates count from 2001-01-01


def say(text):
    print(text, flush=True)


def wait_until(what, predicate, limit):
    """Polls `predicate` until it holds; raises after `limit` seconds."""
    deadline = time.time() + limit
    while time.time() < deadline:
        if predicate():
            return time.time()
        time.sleep(0.05)
    raise RuntimeError(f"timed out after {limit:.0f} s waiting for {what}")


def settled(fleet):
    """Every instance answers, sees every observer live, every region healthy, and a leader."""
    for observer in OBSERVERS:
        status = fleet.call(observer, {"cmd": "status"}, timeout=2)
        cluster = (status or {}).get("cluster") or {}
        if not status or not cluster.get("etcdReachable") or not cluster.get("leader"):
            return False
        if sum(1 for o in cluster.get("observers", []) if o.get("live")) != len(OBSERVERS):
            return False
        if any(region.get("status") != "healthy" for region in status.get("regions", [])):
            return False
    return True


def committed(fleet):
    """etcd's decision log (revision -> decision, event times in epoch seconds) and the plan of its state."""
    log = {}
    for key, value, revision in fleet.etcd_get("/chaos/decisions/"):
        decision = json.loads(value)
        for event in decision["events"]:
            event["time"] = event["time"] + APPLE_EPOCH
        log[revision] = decision
    state = [json.loads(value) for key, value, _ in fleet.etcd_get("/chaos/state") if key == "/chaos/state"]
    return log, plan_of_state(state[0]["state"]) if state else None


def plans(fleet):
    out = {}
    for observer in OBSERVERS:
        try:
            out[observer] = plan_of_traffic_file(f"{fleet.state(observer)}/traffic.json")
        except (OSError, ValueError, KeyError):
            out[observer] = None
    return out


def unreachable_delays(histories, truth):
    """For each cut from etcd (the leader's, or a majority of members), how long each
    instance it cut off took to say `etcd_unreachable`."""
    delays = []
    for entry in truth:
        if entry["kind"] == "leader-etcd":
            cut = entry["targets"]
        elif entry["kind"] == "etcd-majority":
            cut = list(OBSERVERS)
        else:
            continue
        for observer in cut:
            said = [e["time"] for e in histories[observer][0] if e["kind"] == "etcd_unreachable" and entry["start"] <= e["time"] <= (entry["end"] or e["time"]) + 1]
            if said:
                delays.append(said[0] - entry["start"])
    return delays


def run_once(seed, seconds, binaries, keep):
    tag = f"chaos{os.getpid()}"
    directory = tempfile.mkdtemp(prefix=f"regiond-{tag}-")
    net = Net(tag)
    fleet = Fleet(net, directory, binaries)
    faults = schedule(seed, seconds)
    say(f"chaos seed {seed}: {len(faults)} faults over {seconds:.0f} s, in {directory}")
    for fault in faults:
        say(f"  {fault.describe()}")
    ok = False
    try:
        net.create({**ETCD, **OBSERVERS, **REGIONS})
        for member in ETCD:
            fleet.start_etcd(member)
        fleet.wait_for_etcd()
        for region in REGIONS:
            fleet.start_region(region)
        # Regions answer before anyone probes them: a region down at start is a real fault,
        # and the nemesis's ground truth would not know it.
        wait_until("the regions to answer", lambda: all(fleet.region_answers(r) for r in REGIONS), 30)
        for observer in OBSERVERS:
            fleet.start_observer(observer)
        wait_until("the cluster to settle", lambda: settled(fleet), 90)
        say("settled; the nemesis starts")
        nemesis = Nemesis(fleet, net, faults, say=say)
        nemesis.run()
        # Everything heals: paths mended, processes running, regions answering.
        net.mend_all()
        for observer in OBSERVERS:
            fleet.resume(observer)
            if not fleet.running(observer):
                fleet.start_observer(observer)
        for region in REGIONS:
            if os.path.exists(fleet.broken_flag(region)):
                os.remove(fleet.broken_flag(region))
        healed = wait_until("every instance to answer", lambda: all(fleet.call(o, {"cmd": "status"}, timeout=1) for o in OBSERVERS), 60)
        bound = TIMING["lease_ttl"] + 2 * TIMING["evaluation_interval"]
        violations = []
        try:
            converged = wait_until(
                "the same plan everywhere", lambda: len({json.dumps(p, sort_keys=True) for p in plans(fleet).values()} | {json.dumps(committed(fleet)[1], sort_keys=True)}) == 1,
                bound + 30)
            say(f"converged {converged - healed:.2f} s after the last fault healed (bound {bound:.1f} s)")
            if converged - healed > bound:
                violations.append(f"the instances took {converged - healed:.2f} s to agree on the plan after the last fault healed (bound: lease_ttl + 2 evaluation rounds = {bound:.1f} s)")
        except RuntimeError as error:
            violations.append(str(error))
        # Quiet: no new decision for a recovery window, then read everything.
        last = [None, time.time()]

        def quiet():
            log, _ = committed(fleet)
            newest = max(log, default=0)
            if newest != last[0]:
                last[0], last[1] = newest, time.time()
            return time.time() - last[1] > TIMING["recovery_window"] + TIMING["failback_ramp"] + 2 and len({json.dumps(p, sort_keys=True) for p in plans(fleet).values()}) == 1

        wait_until("decisions to stop", quiet, 120)
        log, state_plan = committed(fleet)
        histories = {o: read_history(f"{fleet.state(o)}/regiond.sqlite") for o in OBSERVERS}
        truth = Truth(nemesis.truth, time.time())
        violations += check(histories, plans(fleet), log, state_plan, truth, nemesis.start)
        delays = unreachable_delays(histories, nemesis.truth)
        if delays:
            say(f"etcd declared unreachable {min(delays):.2f} to {max(delays):.2f} s after the cut (median {sorted(delays)[len(delays) // 2]:.2f}, {len(delays)} cuts)")
        kinds = sorted({e["kind"] for d in log.values() for e in d["events"]})
        say(f"{len(log)} decisions committed ({', '.join(kinds)}), {len(nemesis.truth)} faults applied")
        for revision in sorted(log):
            decision = log[revision]
            say(f"  revision {revision} by {decision['leader']}: " + ", ".join(f"+{e['time'] - nemesis.start:.2f} {e['kind']} {e.get('region') or ''}" for e in decision["events"]))
        if violations:
            say(f"\nVIOLATIONS (seed {seed}; replay: scripts/chaos.py --seed {seed} --seconds {seconds:.0f}):")
            for violation in violations:
                say(f"  - {violation}")
            say("\nwhat the nemesis did:")
            for entry in nemesis.truth:
                say(f"  {entry['start'] - nemesis.start:7.2f} .. {(entry['end'] or time.time()) - nemesis.start:7.2f}  {entry['kind']:15} {','.join(entry['targets'])}")
            fleet.etcd_history("/chaos/", f"{directory}/etcd-history.txt")
            say(f"\nlogs, databases and etcd's history: {directory}")
        else:
            ok = True
            say(f"seed {seed}: every invariant holds")
    except Exception as error:
        say(f"seed {seed}: the run failed: {error}")
        for name in list(OBSERVERS) + list(ETCD):
            say(f"\n--- {name}\n{fleet.log_tail(name, 15)}")
    finally:
        fleet.stop_all()
        net.destroy()
        if ok and not keep:
            shutil.rmtree(directory, ignore_errors=True)
    return ok


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seed", type=int, help="the schedule's seed (default: a new one per run)")
    parser.add_argument("--seconds", type=float, default=120, help="length of one run's schedule (default 120)")
    parser.add_argument("--minutes", type=float, help="keep running new seeds for this long")
    parser.add_argument("--binaries", default=os.path.join(ROOT, ".build", "debug"), help="where regiond is (default .build/debug)")
    parser.add_argument("--keep", action="store_true", help="keep the run's directory even when it passes")
    parser.add_argument("--slowdown", type=float, default=1, help="stretch every timing by this factor (sanitizer builds)")
    args = parser.parse_args()
    if args.slowdown > 1:
        slow_down(args.slowdown)
    if os.geteuid() != 0:
        sys.exit("chaos.py needs root: it makes network namespaces")
    for tool in ("etcd", "etcdctl", "nft", "ip"):
        if not shutil.which(tool):
            sys.exit(f"chaos.py needs {tool} (make test-deps installs it)")
    sweep()
    started = time.time()
    seeds = [args.seed] if args.seed is not None else []
    runs, failures = 0, []
    while True:
        seed = seeds.pop(0) if seeds else random.randrange(1, 1 << 31)
        runs += 1
        if not run_once(seed, args.seconds, args.binaries, args.keep):
            failures.append(seed)
        if args.minutes is None or time.time() - started > args.minutes * 60:
            break
    say(f"\n{runs} runs, {(time.time() - started) / 60:.1f} minutes, {len(failures)} failed" + (f": seeds {failures}" if failures else ""))
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
