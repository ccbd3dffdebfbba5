#!/usr/bin/env python3
"""regiond benchmark: probe throughput, lateness, CPU per probe and RSS, against
nginx on loopback, side by side with HAProxy health-checking the same target.

Run by `make bench` (release build). Prints a table, then the same figures as JSON.
Every probe opens a new TCP connection (regiond sends Connection: close; nginx has
keepalive off), as HAProxy's checks do. Probes are counted as the TCP connections the
kernel opened (ActiveOpens), so both probers are counted the same way.

Each run also measures TCP probes (`check` in HAProxy) and HTTPS probes with a TLS
handshake each (`check ssl verify none`) at 1,000 endpoints, on both probers, against
nginx's TLS listener (a self-signed certificate made by openssl for the run).

The headline figure, CPU per plain-HTTP probe at 1,000 endpoints against HAProxy's,
moves by 5-10% from run to run on a shared VM, as much as the difference measured. So
it is measured in BENCH_PAIRS back-to-back pairs (the order alternating, so a drift in
the machine's speed falls on both probers), and the median ratio is reported with its
range.

Environment: BENCH_SECONDS (default 20), BENCH_SIZES (default "1000,10000"),
BENCH_KINDS (default "tcp,https": the probe kinds measured besides plain http),
BENCH_PAIRS (default 3).
"""
import json, os, shutil, signal, socket, statistics, subprocess, sys, tempfile, threading, time, urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.join(ROOT, ".build", "release")
SECONDS = float(os.environ.get("BENCH_SECONDS", "20"))
SIZES = [int(x) for x in os.environ.get("BENCH_SIZES", "1000,10000").split(",")]
KINDS = [k for k in os.environ.get("BENCH_KINDS", "tcp,https").split(",") if k]
PAIRS = int(os.environ.get("BENCH_PAIRS", "3"))
PORT = 18900
TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK  # utime + stime


def rss_mb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def nginx_requests():
    """Answers nginx's status page (it is up)."""
    text = urllib.request.urlopen(f"http://127.0.0.1:{PORT + 1}/status", timeout=5).read().decode()
    return int(text.splitlines()[2].split()[2])


def connections():
    """TCP connections opened on this machine so far (ActiveOpens in /proc/net/snmp): one
    per probe of every kind, counted by the kernel the same way for both probers. nginx's
    counters, and PassiveOpens, miss HAProxy's TCP checks: HAProxy resets the connection
    before the handshake's last ACK, so nginx never sees one."""
    with open("/proc/net/snmp") as f:
        rows = [line.split() for line in f if line.startswith("Tcp:")]
    return int(rows[1][rows[0].index("ActiveOpens")])


def wait_for(predicate, limit, what):
    deadline = time.time() + limit
    while time.time() < deadline:
        if predicate():
            return
        time.sleep(0.1)  # a benchmark harness, not a test: polling is fine here
    raise RuntimeError(f"gave up waiting for {what}")


def start_nginx(tmp):
    key, cert = os.path.join(tmp, "key.pem"), os.path.join(tmp, "cert.pem")
    # ECDSA P-256, the cheapest handshake for nginx: at 1,000 handshakes a second RSA-2048
    # left nginx, not the probers, the bottleneck on these 2 cores.
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", key, "-out", cert, "-days", "1",
                    "-subj", "/CN=127.0.0.1"], check=True, capture_output=True)
    conf = os.path.join(tmp, "nginx.conf")
    with open(conf, "w") as f:
        f.write(f"""
worker_processes 1;
pid {tmp}/nginx.pid;
error_log {tmp}/nginx-error.log;
events {{ worker_connections 65536; }}
http {{
    access_log off;
    keepalive_timeout 0;
    server {{ listen 127.0.0.1:{PORT} backlog=65535; location / {{ return 200 "ok"; }} }}
    server {{ listen 127.0.0.1:{PORT + 1}; location /status {{ stub_status; }} }}
    server {{ listen 127.0.0.1:{PORT + 3} ssl backlog=65535; ssl_certificate {cert}; ssl_certificate_key {key};
             location / {{ return 200 "ok"; }} }}
}}
""")
    proc = subprocess.Popen(["nginx", "-c", conf, "-p", tmp, "-g", "daemon off;"])
    wait_for(lambda: _ok(nginx_requests), 10, "nginx")
    return proc


def _ok(fn):
    try:
        fn()
        return True
    except Exception:
        return False


def sleeps(pid):
    """Times the process's threads went to sleep (voluntary context switches)."""
    total = 0
    for task in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{task}/status") as f:
                total += sum(int(line.split()[1]) for line in f if line.startswith("voluntary_ctxt_switches"))
        except FileNotFoundError:
            pass  # a thread that ended meanwhile
    return total


def measure(pid, seconds):
    """CPU seconds of pid, probes (connections opened) and its sleeps over `seconds`."""
    cpu0, req0, sleeps0, t0 = cpu_seconds(pid), connections(), sleeps(pid), time.time()
    time.sleep(seconds)
    cpu1, req1, sleeps1, t1 = cpu_seconds(pid), connections(), sleeps(pid), time.time()
    return cpu1 - cpu0, req1 - req0, t1 - t0, sleeps1 - sleeps0


def figures(pid, cpu, requests, elapsed, sleeps):
    """What both probers are judged by, from the kernel's counts and /proc."""
    return {
        "sleeps_per_probe": round(sleeps / max(requests, 1), 2),
        "interval_s": 1.0,
        "seconds": round(elapsed, 1),
        "target_requests_per_s": round(requests / elapsed, 1),
        "cpu_us_per_probe": round(cpu / max(requests, 1) * 1e6, 1),
        "cpu_percent_of_one_core": round(cpu / elapsed * 100, 1),
        "rss_mb": round(rss_mb(pid), 1),
    }


def regionctl(sock, *args, timeout=60):
    out = subprocess.run([os.path.join(BIN, "regionctl"), *args, "--socket", sock, "--json"],
                         capture_output=True, text=True, timeout=timeout)
    if out.returncode != 0:
        raise RuntimeError(out.stderr)
    return json.loads(out.stdout)["result"]


def not_healthy(sock, count):
    """Why regions are not healthy, when some are not: the first three such regions' reasons,
    and every failure class their endpoints saw, so a bad run can be explained afterwards."""
    if count <= 0:
        return {}
    try:
        listed = regionctl(sock, "regions", "--status", "unknown,degraded,unhealthy,recovering", timeout=30)
        reports = [(brief, regionctl(sock, "region", brief["id"], timeout=30)) for brief in listed["regions"][:3]]
    except Exception as error:  # the figures above stand without this
        return {"not_healthy_error": str(error)[:160]}
    why = []
    for brief, report in reports:
        failures = {}
        for e in report["endpoints"]:
            for kind, n in ((e.get("tally") or {}).get("failed") or {}).items():
                failures[kind] = failures.get(kind, 0) + n
        details = sorted({(e.get("last") or {}).get("detail") or "" for e in report["endpoints"]} - {""})
        why.append({"region": brief["id"], "status": brief["status"], "reasons": report["reasons"],
                    "failures_since_start": failures, "last_details": details[:3]})
    return {"not_healthy": why}


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def scrape_metrics(port, stop, sizes):
    """Scrapes /metrics every 5 s, as a Prometheus would (more often than its default)."""
    while not stop.wait(5):
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as answer:
                sizes.append(len(answer.read()))
        except Exception:
            sizes.append(-1)


def bench_regiond_without_metrics(tmp, endpoints):
    return bench_regiond(tmp, endpoints, metrics=False)


def endpoint_line(kind, r, e):
    """One [[region.endpoint]] of the given probe kind, all against the same nginx."""
    if kind == "tcp":
        return f'  [[region.endpoint]]\n  name = "e{e}"\n  tcp = "127.0.0.1:{PORT}"\n'
    if kind == "https":
        return f'  [[region.endpoint]]\n  name = "e{e}"\n  url = "https://127.0.0.1:{PORT + 3}/healthz/{r}/{e}"\n  tls_verify = false\n'
    return f'  [[region.endpoint]]\n  name = "e{e}"\n  url = "http://127.0.0.1:{PORT}/healthz/{r}/{e}"\n'


def regiond_config(tmp, endpoints, metrics_port, kind="http"):
    """A config of `endpoints` endpoints, 10 per region, probed every second; returns its
    path and its control socket's."""
    sock = os.path.join(tmp, f"c{endpoints}.sock")
    conf = os.path.join(tmp, f"regiond-{endpoints}.toml")
    with open(conf, "w") as f:
        f.write(f'[daemon]\ncontrol_socket = "{sock}"\nstate_directory = "{tmp}"\nmax_clients = 4096\n\n')
        f.write(f'[metrics]\nlisten = "{f"127.0.0.1:{metrics_port}" if metrics_port else ""}"\n\n')
        f.write('[probe]\ninterval = "1s"\ntimeout = "900ms"\njitter = "10%"\n\n')
        f.write('[status]\nwindow = "10s"\nevaluation_interval = "1s"\n\n')
        for r in range(endpoints // 10):
            f.write(f'[[region]]\nid = "r{r}"\nweight = 10\n')
            for e in range(10):
                f.write(endpoint_line(kind, r, e))
    return conf, sock


def haproxy_config(tmp, servers, kind="http"):
    """HAProxy checking `servers` servers (the same nginx) every second, as regiond probes."""
    conf = os.path.join(tmp, "haproxy.cfg")
    with open(conf, "w") as f:
        f.write("global\n    nbthread 1\n    maxconn 4000\n\ndefaults\n    mode http\n    timeout connect 900ms\n"
                "    timeout check 900ms\n    timeout client 10s\n    timeout server 10s\n\n")
        f.write("backend checks\n" + ("" if kind == "tcp" else "    option httpchk GET /healthz\n"))
        target = f"127.0.0.1:{PORT + 3} check ssl verify none" if kind == "https" else f"127.0.0.1:{PORT} check"
        for i in range(servers):
            f.write(f"    server s{i} {target} inter 1000 rise 2 fall 3\n")
        f.write(f"\nfrontend unused\n    bind 127.0.0.1:{PORT + 2}\n    default_backend checks\n")
    return conf


def bench_regiond(tmp, endpoints, metrics=True, kind="http"):
    regions = endpoints // 10
    port = free_port() if metrics else None
    conf, sock = regiond_config(tmp, endpoints, port, kind)
    # As systemd/regiond.service runs it.
    proc = subprocess.Popen([os.path.join(BIN, "regiond"), "--config", conf, "--log-level", "warning"], env={**os.environ, "MALLOC_ARENA_MAX": "2"},
                            stderr=open(os.path.join(tmp, f"regiond-{endpoints}.log"), "w"))
    try:
        wait_for(lambda: _ok(lambda: regionctl(sock, "version")), 60, "regiond")
        time.sleep(5)  # warm up: first probes are spread over one interval
        # Throughput and CPU come from nginx and /proc, so they are measured even when
        # the daemon is too busy to answer its control socket.
        stop, sizes = threading.Event(), []
        if metrics:
            threading.Thread(target=scrape_metrics, args=(port, stop, sizes), daemon=True).start()
        cpu, requests, elapsed, slept = measure(proc.pid, SECONDS)
        stop.set()
        result = {"prober": "regiond" if metrics else "regiond (metrics off)", "kind": kind, "endpoints": endpoints, "regions": regions,
                  **figures(proc.pid, cpu, requests, elapsed, slept)}
        if metrics:
            result["scrapes"] = len([x for x in sizes if x > 0])
            result["scrape_kb"] = round(max(sizes, default=0) / 1024, 1)
        try:
            status = regionctl(sock, "status", timeout=30)
            latencies = []
            for _ in range(int(os.environ.get("BENCH_STATUS_RUNS", "50"))):
                t = time.perf_counter()
                regionctl(sock, "status", timeout=30)
                latencies.append((time.perf_counter() - t) * 1000)
            latencies.sort()
            # regionctl's own start-up: `version` asks regiond for a few bytes, so its time
            # is mostly process start, dynamic loading and argument parsing.
            starts = []
            for _ in range(int(os.environ.get("BENCH_STATUS_RUNS", "50"))):
                t = time.perf_counter()
                subprocess.run([os.path.join(BIN, "regionctl"), "version", "--socket", sock], capture_output=True, check=True, timeout=30)
                starts.append((time.perf_counter() - t) * 1000)
            starts.sort()
            result.update({
                "regionctl_version_p50_ms": round(starts[len(starts) // 2], 2),
                "regionctl_version_p99_ms": round(starts[min(len(starts) - 1, int(len(starts) * 0.99))], 2),
                "lateness_p50_ms": round(status.get("probeLatenessP50Ms") or 0, 2),
                "lateness_p99_ms": round(status.get("probeLatenessP99Ms") or 0, 2),
                "regions_healthy": status["counts"].get("healthy", 0),
                # Not healthy: the rest by status (an overloaded regiond holds them `unknown`).
                "regions_other": {k: v for k, v in status["counts"].items() if k != "healthy"},
                "decisions_held": bool(status.get("decisionsHeld")),
                **not_healthy(sock, regions - status["counts"].get("healthy", 0)),
                "regionctl_status_p50_ms": round(latencies[len(latencies) // 2], 2),
                "regionctl_status_p99_ms": round(latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))], 2),
            })
        except Exception as error:
            result["status_error"] = f"control socket too slow while probing: {str(error)[:160]}"
        return result
    finally:
        t = time.perf_counter()
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
            print(f"bench: regiond with {endpoints} endpoints stopped {time.perf_counter() - t:.1f} s after SIGTERM", flush=True)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            print(f"bench: regiond with {endpoints} endpoints did not stop within 30 s of SIGTERM; killed", flush=True)


def bench_haproxy(tmp, servers, kind="http"):
    conf = haproxy_config(tmp, servers, kind)
    log = open(os.path.join(tmp, "haproxy.log"), "w")
    proc = subprocess.Popen(["haproxy", "-f", conf, "-db"], stdout=log, stderr=log)
    try:
        time.sleep(5)  # warm up: HAProxy spreads first checks over one interval too
        if proc.poll() is not None:
            raise RuntimeError("haproxy exited: " + open(os.path.join(tmp, "haproxy.log")).read()[-300:])
        cpu, requests, elapsed, slept = measure(proc.pid, SECONDS)
        version = subprocess.run(["haproxy", "-v"], capture_output=True, text=True).stdout.split()[2]
        return {"prober": "haproxy " + version, "kind": kind, "endpoints": servers, **figures(proc.pid, cpu, requests, elapsed, slept)}
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def attempt(run):
    try:
        return run()
    except Exception as error:  # an overloaded prober is a result too
        return {"prober": "failed", "error": str(error)[:300]}


def http_pairs(tmp, results):
    """The ratio of regiond's CPU per plain-HTTP probe to HAProxy's at 1,000 endpoints over
    PAIRS pairs: the pair measured above, then more, HAProxy first in every other pair."""
    def measured(prober):
        return next((r.get("cpu_us_per_probe") for r in results
                     if r.get("endpoints") == 1000 and r.get("kind") == "http" and r["prober"].split()[0] == prober and "metrics off" not in r["prober"]), None)
    pairs = [(measured("regiond"), measured("haproxy"))]
    for i in range(PAIRS - len(pairs)):
        order = [lambda: bench_haproxy(tmp, 1000), lambda: bench_regiond(tmp, 1000)]
        if i % 2:
            order.reverse()
        pair = [attempt(run) for run in order]
        print("bench: pair", json.dumps(pair), flush=True)
        by = {r["prober"].split()[0]: r.get("cpu_us_per_probe") for r in pair}
        pairs.append((by.get("regiond"), by.get("haproxy")))
    ratios = sorted(round(a / b, 3) for a, b in pairs if a and b)
    summary = {"prober": "regiond / haproxy", "kind": "http", "endpoints": 1000, "pairs_us_per_probe": pairs, "ratios": ratios,
               "median_ratio": round(statistics.median(ratios), 3) if ratios else None}
    print("bench:", json.dumps(summary), flush=True)
    return summary


def main():
    for tool in ("nginx", "haproxy"):
        if not shutil.which(tool):
            raise SystemExit(f"bench: {tool} is not installed (make bench installs it)")
    tmp = tempfile.mkdtemp(prefix="rdb-", dir="/tmp")
    nginx = start_nginx(tmp)
    results = []
    try:
        for n in SIZES:
            runs = [bench_regiond, bench_regiond_without_metrics, bench_haproxy] if n == 1000 else [bench_regiond, bench_haproxy]
            if n == 1000:
                for kind in KINDS:
                    runs += [lambda tmp, n, kind=kind: bench_regiond(tmp, n, metrics=False, kind=kind),
                             lambda tmp, n, kind=kind: bench_haproxy(tmp, n, kind=kind)]
            for run in runs:
                try:
                    result = run(tmp, n)
                except Exception as error:  # an overloaded prober is a result too
                    result = {"prober": getattr(run, "__name__", "run").replace("bench_", "").replace("_", " "), "endpoints": n, "error": str(error)[:300]}
                print("bench:", json.dumps(result), flush=True)
                results.append(result)
        if 1000 in SIZES:
            results.append(http_pairs(tmp, results))
    finally:
        nginx.terminate()
        nginx.wait(timeout=30)
    cols = ["prober", "kind", "endpoints", "target_requests_per_s", "cpu_us_per_probe", "sleeps_per_probe", "cpu_percent_of_one_core", "lateness_p50_ms",
            "lateness_p99_ms", "rss_mb", "regionctl_status_p99_ms", "regionctl_version_p99_ms"]
    print("  ".join(f"{c:>22}" if i else f"{c:<16}" for i, c in enumerate(cols)))
    for r in results:
        print("  ".join(f"{str(r.get(c, '-')):>22}" if i else f"{str(r.get(c, '-')):<16}" for i, c in enumerate(cols)))
    for r in results:
        if r.get("median_ratio") is not None:
            print(f"regiond / HAProxy, CPU per plain-HTTP probe at 1,000 endpoints: median {r['median_ratio']} over {len(r['ratios'])} pairs "
                  f"(from {r['ratios'][0]} to {r['ratios'][-1]})")
    print(json.dumps({"seconds": SECONDS, "cores": os.cpu_count(), "results": results}, indent=2))
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
