#!/usr/bin/env python3
"""Detection latency: from the first failed probe of an injected fault to the
committed failover decision. Interval 250 ms, timeout 200 ms, fall 3, over
BENCH_FAULTS (default 50) faults, against the bound fall x interval + timeout.

A fault is injected by switching a demo-fleet region to HTTP 500. The decision
time is the `failover_started` event's time (it is published only after the
commit). The first failed probe's finish time comes from the endpoint's last
result and its count of consecutive failures (jitter is 0, so probes are exactly
one interval apart). Both times come from regiond's own clock.
"""
import json, os, signal, socket, subprocess, sys, tempfile, time, urllib.request
from control_client import Watch, call, parse_time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.join(ROOT, ".build", "release")
FAULTS = int(os.environ.get("BENCH_FAULTS", "50"))
INTERVAL, TIMEOUT, FALL = 0.25, 0.2, 3
BASE = 18950



def fleet(region, mode):
    req = urllib.request.Request(f"http://127.0.0.1:{BASE}/{region}/{mode}", method="POST")
    urllib.request.urlopen(req, timeout=5).read()







def main():
    tmp = tempfile.mkdtemp(prefix="rdd-", dir="/tmp")
    sock = os.path.join(tmp, "c.sock")
    conf = os.path.join(tmp, "regiond.toml")
    with open(conf, "w") as f:
        f.write(f"""[daemon]
control_socket = "{sock}"
state_directory = "{tmp}"
[probe]
interval = "250ms"
timeout = "200ms"
jitter = 0
[status]
window = "5s"
evaluation_interval = "250ms"
min_samples = 2
rise = 2
fall = {FALL}
[failover]
cooldown = "0s"
recovery_window = "1s"
failback_ramp = "0s"
[[region]]
id = "eu-west"
weight = 5000
  [[region.endpoint]]
  url = "http://127.0.0.1:{BASE + 1}/healthz"
[[region]]
id = "us-east"
weight = 5000
  [[region.endpoint]]
  url = "http://127.0.0.1:{BASE + 2}/healthz"
""")
    fleet_proc = subprocess.Popen([os.path.join(BIN, "demo-fleet"), "--base-port", str(BASE), "--regions", "eu-west,us-east"],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    daemon = subprocess.Popen([os.path.join(BIN, "regiond"), "--config", conf, "--log-level", os.environ.get("BENCH_LOG_LEVEL", "warning")],
                              stderr=open(os.path.join(tmp, "regiond.log"), "w"))
    latencies = []
    try:
        deadline = time.time() + 30
        while not os.path.exists(sock) and time.time() < deadline:
            time.sleep(0.05)  # a benchmark harness: polling for start-up is fine here
        watch = Watch(sock)
        for i in range(FAULTS):
            fleet("eu-west", "error")
            decided = watch.wait("failover_started", "eu-west")
            endpoint = call(sock, {"cmd": "region", "region": "eu-west"})["endpoints"][0]
            last = parse_time(endpoint["last"]["finishedAt"])
            first_failure = last - (endpoint["consecutiveFailures"] - 1) * INTERVAL
            latencies.append((parse_time(decided["time"]) - first_failure) * 1000)
            fleet("eu-west", "ok")
            watch.wait("failback_completed", "eu-west")
    finally:
        daemon.send_signal(signal.SIGTERM)
        daemon.wait(timeout=30)
        fleet_proc.terminate()
        fleet_proc.wait(timeout=10)
    latencies.sort()
    bound = (FALL * INTERVAL + TIMEOUT) * 1000
    result = {
        "faults": len(latencies),
        "interval_ms": INTERVAL * 1000, "timeout_ms": TIMEOUT * 1000, "fall": FALL,
        "bound_ms": bound,
        "detect_p50_ms": round(latencies[len(latencies) // 2], 1),
        "detect_p99_ms": round(latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))], 1),
        "detect_max_ms": round(latencies[-1], 1),
    }
    print(f"detection, {len(latencies)} injected faults: p50 {result['detect_p50_ms']} ms, p99 {result['detect_p99_ms']} ms "
          f"(bound fall x interval + timeout = {bound:.0f} ms)")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
