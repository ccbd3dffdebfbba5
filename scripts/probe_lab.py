#!/usr/bin/env python3
"""Measurements behind docs/performance.md that `make bench` does not print: regiond
(release build) probes ENDPOINTS plain-HTTP endpoints (10 per region) of the bench's
nginx, and one of these runs after a 5 s warm-up:

  threads   CPU per thread over SECONDS, from /proc/PID/task/*/schedstat (µs per probe)
  rss       RSS steady, then just after each of SCRAPES metrics scrapes, then after 5 s
  why       every region not healthy after SECONDS, and why (as the bench reports it)

Usage: scripts/probe_lab.py threads|rss|why   (after `swift build -c release`)
Environment: ENDPOINTS (default 1000), SECONDS (default 15), SCRAPES (default 3).
Not a test: figures from one machine, to compare one change with its parent.
"""
import json, os, shutil, signal, subprocess, sys, tempfile, time, urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench  # noqa: E402  (nginx, the config and the /proc readers are the bench's)

ENDPOINTS = int(os.environ.get("ENDPOINTS", "1000"))
SECONDS = float(os.environ.get("SECONDS", "15"))
SCRAPES = int(os.environ.get("SCRAPES", "3"))


def thread_times(pid):
    """Thread name -> nanoseconds on CPU (threads of one name summed)."""
    times = {}
    for task in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{task}/comm") as f:
                name = f.read().strip()
            with open(f"/proc/{pid}/task/{task}/schedstat") as f:
                ns = int(f.read().split()[0])
        except FileNotFoundError:
            continue  # ended meanwhile
        times[name] = times.get(name, 0) + ns
    return times


def start_regiond(tmp):
    port = bench.free_port()
    conf, sock = bench.regiond_config(tmp, ENDPOINTS, port)
    proc = subprocess.Popen([os.path.join(bench.BIN, "regiond"), "--config", conf, "--log-level", "warning"],
                            env={**os.environ, "MALLOC_ARENA_MAX": "2"}, stderr=open(os.path.join(tmp, "lab.log"), "w"))
    bench.wait_for(lambda: bench._ok(lambda: bench.regionctl(sock, "version")), 60, "regiond")
    time.sleep(5)  # warm-up: the first probes are spread over one interval
    return proc, sock, port


def threads(proc, sock, port):
    t0, c0 = thread_times(proc.pid), bench.connections()
    time.sleep(SECONDS)
    t1, probes = thread_times(proc.pid), bench.connections() - c0
    print(f"{probes} probes in {SECONDS:.0f} s")
    for name in sorted(t1, key=lambda n: t0.get(n, 0) - t1[n]):
        ms = (t1[name] - t0.get(name, 0)) / 1e6
        if ms > 0:
            print(f"  {name:<20} {ms:9.1f} ms  {ms * 1000 / max(probes, 1):7.2f} µs/probe")


def rss(proc, sock, port):
    time.sleep(SECONDS)
    print(f"steady: {bench.rss_mb(proc.pid):.1f} MB")
    for i in range(SCRAPES):
        size = len(urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=30).read())
        print(f"after scrape {i + 1} ({size / 1024:,.0f} KB of text): {bench.rss_mb(proc.pid):.1f} MB")
    time.sleep(5)
    print(f"5 s later: {bench.rss_mb(proc.pid):.1f} MB")


def why(proc, sock, port):
    time.sleep(SECONDS)
    status = bench.regionctl(sock, "status", timeout=30)
    print(json.dumps({"counts": status["counts"], **bench.not_healthy(sock, ENDPOINTS // 10 - status["counts"].get("healthy", 0))}, indent=2))


def main():
    runs = {"threads": threads, "rss": rss, "why": why}
    if len(sys.argv) != 2 or sys.argv[1] not in runs:
        raise SystemExit(__doc__)
    tmp = tempfile.mkdtemp(prefix="rdlab-", dir="/tmp")
    nginx = bench.start_nginx(tmp)
    proc = None
    try:
        proc, sock, port = start_regiond(tmp)
        runs[sys.argv[1]](proc, sock, port)
    finally:
        if proc:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=30)
        nginx.terminate()
        nginx.wait(timeout=30)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
