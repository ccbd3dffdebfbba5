#!/usr/bin/env python3
"""Cluster mode (docs/cluster.md) against single-node, in one run, on a real 3-member
etcd cluster on loopback:

1. Fault to committed decision: the same injected fault (a demo-fleet region switched
   to HTTP 500), BENCH_CLUSTER_FAULTS times (default 20), first with one regiond alone,
   then with three in cluster mode. Latency is from the deciding instance's first
   failed probe to its `failover_started` event (published after the commit), both on
   its own clock. Probes every 250 ms, fall 3, as scripts/detect_bench.py.
2. Leader failover: `kill -9` of the leader, BENCH_KILLS times (default 20), with
   lease_ttl = 5s; time until another instance's `leadership_gained` event. The killed
   instance is started again before the next kill.
3. etcd writes per observer at 1,000 regions (probes every 5 s: three observers of
   1,000 regions each, every 1 s, overload these 2 cores with etcd beside them), over
   BENCH_SECONDS (default 20): the etcd revision's growth (every put is one revision,
   a transaction of many puts also one).

BENCH_CLUSTER_PARTS (default "detect,failover,writes") chooses the parts.
"""
import json, os, select, signal, socket, subprocess, sys, tempfile, time, urllib.request
from control_client import Watch, call, parse_time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.join(ROOT, ".build", "release")
FAULTS = int(os.environ.get("BENCH_CLUSTER_FAULTS", "20"))
KILLS = int(os.environ.get("BENCH_KILLS", "20"))
SECONDS = float(os.environ.get("BENCH_SECONDS", "20"))
PARTS = os.environ.get("BENCH_CLUSTER_PARTS", "detect,failover,writes").split(",")
INTERVAL, TIMEOUT, FALL = 0.25, 0.2, 3


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port








def wait_for(predicate, limit, what):
    deadline = time.time() + limit
    while time.time() < deadline:
        try:
            if predicate():
                return
        except (OSError, ValueError, KeyError, TypeError):
            pass
        time.sleep(0.05)  # a benchmark harness: polling for start-up is fine here
    raise SystemExit(f"cluster bench: gave up waiting for {what}")


class Etcd:
    def __init__(self, tmp):
        self.members = [(f"m{i}", free_port(), free_port()) for i in range(1, 4)]
        self.urls = [f"http://127.0.0.1:{c}" for _, c, _ in self.members]
        initial = ",".join(f"{n}=http://127.0.0.1:{p}" for n, _, p in self.members)
        self.procs = []
        for name, client, peer in self.members:
            self.procs.append(subprocess.Popen(
                ["etcd", "--name", name, "--data-dir", f"{tmp}/{name}", "--listen-client-urls", f"http://127.0.0.1:{client}",
                 "--advertise-client-urls", f"http://127.0.0.1:{client}", "--listen-peer-urls", f"http://127.0.0.1:{peer}",
                 "--initial-advertise-peer-urls", f"http://127.0.0.1:{peer}", "--initial-cluster", initial,
                 "--initial-cluster-state", "new", "--log-level", "warn", "--logger", "zap"],
                stdout=subprocess.DEVNULL, stderr=open(f"{tmp}/{name}.log", "w")))
        self.ctl("--command-timeout=60s", "put", "/bench-ready", "1")

    def ctl(self, *args):
        return subprocess.run(["etcdctl", "--endpoints", ",".join(self.urls), *args], env={**os.environ, "ETCDCTL_API": "3"},
                              check=True, capture_output=True, text=True).stdout

    def revision(self):
        status = json.loads(self.ctl("endpoint", "status", "--write-out=json"))
        return max(int(s["Status"]["header"]["revision"]) for s in status)

    def stop(self):
        for p in self.procs:
            p.kill()
            p.wait()


def config(tmp, name, regions, etcd=None, lease="5s", interval=INTERVAL):
    directory = f"{tmp}/{name}"
    os.makedirs(directory, exist_ok=True)
    text = f"""[daemon]
control_socket = "{directory}/c.sock"
state_directory = "{directory}"
[probe]
interval = "{int(interval * 1000)}ms"
timeout = "{int(TIMEOUT * 1000)}ms"
jitter = 0
[status]
window = "{max(5, int(interval * 3))}s"
evaluation_interval = "{int(interval * 1000)}ms"
min_samples = 2
rise = 2
fall = {FALL}
[failover]
cooldown = "0s"
recovery_window = "1s"
failback_ramp = "0s"
[metrics]
listen = ""
"""
    if etcd:
        text += f"""[cluster]
etcd = [{", ".join(f'"{u}"' for u in etcd.urls)}]
name = "{name}"
prefix = "/bench-{os.getpid()}-{len(regions)}"
lease_ttl = "{lease}"
"""
    for region, url in regions:
        text += f'[[region]]\nid = "{region}"\nweight = 100\n  [[region.endpoint]]\n  url = "{url}"\n'
    path = f"{directory}/regiond.toml"
    with open(path, "w") as f:
        f.write(text)
    return path, f"{directory}/c.sock"


def start(path, log):
    return subprocess.Popen([os.path.join(BIN, "regiond"), "--config", path, "--log-level", "warning"], stderr=open(log, "a"))


def fleet_mode(base, region, mode):
    urllib.request.urlopen(urllib.request.Request(f"http://127.0.0.1:{base}/{region}/{mode}", method="POST"), timeout=5).read()


def percentile(values, p):
    values = sorted(values)
    return round(values[min(len(values) - 1, int(len(values) * p))], 1)


def detect(socks, base, leader_of):
    """Injects FAULTS faults; returns the fault-to-decision latencies in ms."""
    latencies = []
    for _ in range(FAULTS):
        sock = leader_of()
        watch = Watch(sock)
        fleet_mode(base, "eu-west", "error")
        decided = watch.wait("failover_started", "eu-west")
        endpoint = call(sock, {"cmd": "region", "region": "eu-west"})["endpoints"][0]
        first_failure = parse_time(endpoint["last"]["finishedAt"]) - (endpoint["consecutiveFailures"] - 1) * INTERVAL
        latencies.append((parse_time(decided["time"]) - first_failure) * 1000)
        fleet_mode(base, "eu-west", "ok")
        watch.wait("failback_completed", "eu-west")
        watch.close()
    return latencies


def leader(socks):
    for sock in socks:
        try:
            if call(sock, {"cmd": "status"})["cluster"]["role"] == "leader":
                return sock
        except (OSError, ValueError, KeyError, TypeError):
            pass
    return None


def settled(socks, observers):
    for sock in socks:
        status = call(sock, {"cmd": "status"})
        if sum(1 for o in status["cluster"]["observers"] if o["live"]) != observers or status["counts"].get("healthy", 0) != len(status["regions"]):
            return False
    return leader(socks) is not None


def part_detect(tmp, base, etcd, two):
    """1. Fault to decision: alone, then as a cluster of three."""
    path, sock = config(tmp, "single", two)
    single_proc = start(path, f"{tmp}/single.log")
    try:
        wait_for(lambda: call(sock, {"cmd": "status"})["counts"].get("healthy") == 2, 30, "the single regiond")
        single = detect([sock], base, lambda: sock)
    finally:
        stop([single_proc])
    names = ["obs1", "obs2", "obs3"]
    nodes = {n: config(tmp, n, two, etcd) for n in names}
    socks = [nodes[n][1] for n in names]
    running = {n: start(nodes[n][0], f"{tmp}/{n}.log") for n in names}
    try:
        wait_for(lambda: settled(socks, 3), 60, "the cluster to settle")
        clustered = detect(socks, base, lambda: leader(socks))
    finally:
        stop(running.values())
    f = {
        "faults": FAULTS,
        "single_p50_ms": percentile(single, 0.5), "single_p99_ms": percentile(single, 0.99),
        "cluster_p50_ms": percentile(clustered, 0.5), "cluster_p99_ms": percentile(clustered, 0.99),
    }
    f["p99_above_single_ms"] = round(f["cluster_p99_ms"] - f["single_p99_ms"], 1)
    print(f"cluster, fault to committed decision over {FAULTS} faults: single p50 {f['single_p50_ms']} / p99 {f['single_p99_ms']} ms, "
          f"cluster of 3 p50 {f['cluster_p50_ms']} / p99 {f['cluster_p99_ms']} ms (p99 {f['p99_above_single_ms']} ms above single; goal <= 200)", flush=True)
    return f


def part_failover(tmp, etcd, two):
    """2. Leader failover: kill -9 the leader, time to the next leadership_gained."""
    names = ["obs1", "obs2", "obs3"]
    nodes = {n: config(tmp, n + "-f", two, etcd) for n in names}
    socks = [nodes[n][1] for n in names]
    running = {n: start(nodes[n][0], f"{tmp}/{n}-f.log") for n in names}
    failovers = []
    try:
        for _ in range(KILLS):
            wait_for(lambda: settled(socks, 3), 60, "the cluster to settle")
            current = leader(socks)
            name = names[socks.index(current)]
            watches = {n: Watch(nodes[n][1]) for n in names if n != name}
            killed_at = time.time()
            running[name].kill()
            running[name].wait()
            gained = None
            # The first of the others to announce leadership.
            while gained is None:
                ready, _, _ = select.select([w.s for w in watches.values()], [], [], 30)
                if not ready:
                    raise SystemExit("cluster bench: no new leader within 30 s")
                for w in watches.values():
                    if w.s in ready or b"\n" in w.buffer:
                        try:
                            event = w.next_line().get("event", {})
                        except EOFError:
                            continue
                        if event.get("kind") == "leadership_gained":
                            gained = parse_time(event["time"])
                            break
            failovers.append((gained - killed_at) * 1000)
            for w in watches.values():
                w.close()
            running[name] = start(nodes[name][0], f"{tmp}/{name}-f.log")
    finally:
        stop(running.values())
    l = {"kills": KILLS, "lease_ttl_s": 5, "p50_ms": percentile(failovers, 0.5), "p99_ms": percentile(failovers, 0.99), "max_ms": round(max(failovers), 1)}
    print(f"leader failover, {KILLS} kill -9 with lease_ttl 5s: p50 {l['p50_ms']} ms, p99 {l['p99_ms']} ms (goal p99 <= 6000)", flush=True)
    return l


def part_writes(tmp, base, etcd):
    """3. etcd writes per observer at 1,000 regions."""
    names = ["obs1", "obs2", "obs3"]
    many = [(f"r{i:04d}", f"http://127.0.0.1:{base + 2}/healthz") for i in range(1000)]
    big = {n: config(tmp, n + "-1k", many, etcd, interval=5.0) for n in names}
    running = {n: start(big[n][0], f"{tmp}/{n}-1k.log") for n in names}
    try:
        wait_for(lambda: settled([big[n][1] for n in names], 3), 180, "1,000 regions on three observers")
        # A benchmark harness: wait one window (15 s) and then some, so that signals still
        # changing as windows fill after start-up are not counted as steady state.
        time.sleep(20)
        before = etcd.revision()
        time.sleep(SECONDS)  # the measurement period
        writes = etcd.revision() - before
    finally:
        stop(running.values())
    e = {"regions": 1000, "observers": 3, "seconds": SECONDS, "writes_per_second_per_observer": round(writes / SECONDS / 3, 2)}
    print(f"etcd writes at 1,000 regions (probes every 5 s, a heartbeat every 1 s): {e['writes_per_second_per_observer']} per second per observer", flush=True)
    return e


def stop(procs):
    for p in procs:
        p.send_signal(signal.SIGTERM)
    for p in procs:
        try:
            p.wait(timeout=60)
        except subprocess.TimeoutExpired:
            print(f"cluster bench: regiond {p.pid} did not stop within 60 s of SIGTERM", file=sys.stderr)
            p.kill()
            p.wait()


def main():
    tmp = tempfile.mkdtemp(prefix="rdc-", dir="/tmp")
    base = free_port()
    fleet = subprocess.Popen([os.path.join(BIN, "demo-fleet"), "--base-port", str(base), "--regions", "eu-west,us-east"],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    two = [("eu-west", f"http://127.0.0.1:{base + 1}/healthz"), ("us-east", f"http://127.0.0.1:{base + 2}/healthz")]
    etcd = Etcd(tmp)
    result = {}
    try:
        if "detect" in PARTS:
            result["fault_to_decision"] = part_detect(tmp, base, etcd, two)
        if "failover" in PARTS:
            result["leader_failover"] = part_failover(tmp, etcd, two)
        if "writes" in PARTS:
            result["etcd_writes"] = part_writes(tmp, base, etcd)
    finally:
        fleet.terminate()
        fleet.wait(timeout=10)
        etcd.stop()
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
