#!/usr/bin/env python3
"""make bench, part 4: how fast real traffic follows the plan through HAProxy.

Three regions, each a small HTTP backend that timestamps every request; HAProxy in front
(roundrobin, one connection per request); steady load through it; regiond (release build)
applying plans to HAProxy. Measured:
  - drain: from the moment `regionctl drain eu-west` returns (the decision is committed)
    to the last request eu-west receives; enable: from the commit to its first request.
  - an `haproxy -sf` reload while eu-west is drained: requests eu-west receives after the
    reload, and for how long, with and without a server-state file.
Environment: BENCH_ROUNDS (default 20).
"""
import http.client, http.server, json, os, shutil, signal, socket, subprocess, sys, tempfile, threading, time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.join(ROOT, ".build", "release")
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "20"))
REGIONS = ["eu-west", "us-east", "ap-south"]


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Backends:
    def __init__(self):
        self.lock = threading.Lock()
        self.times = {r: [] for r in REGIONS}
        self.servers = {}
        for region in REGIONS:
            backends = self

            class Handler(http.server.BaseHTTPRequestHandler):
                protocol_version = "HTTP/1.0"

                def do_GET(self, region=region):
                    if not self.path.startswith("/healthz"):
                        with backends.lock:
                            backends.times[region].append(time.monotonic())
                    body = b"ok"
                    self.send_response(200)
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)

                def log_message(self, *args):
                    pass

            server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
            server.daemon_threads = True
            threading.Thread(target=server.serve_forever, daemon=True).start()
            self.servers[region] = server

    def port(self, region):
        return self.servers[region].server_address[1]

    def since(self, region, t):
        with self.lock:
            return [x for x in self.times[region] if x >= t]


def load(port, stop):
    while not stop.is_set():
        try:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            c.request("GET", "/", headers={"Connection": "close"})
            c.getresponse().read()
            c.close()
        except Exception:
            time.sleep(0.001)


def haproxy_config(tmp, port, backends, state_file):
    g = f"global\n    stats socket {tmp}/admin.sock level admin expose-fd listeners\n"
    if state_file:
        g += f"    server-state-file {state_file}\n"
    d = "defaults\n    mode http\n    timeout connect 1s\n    timeout client 5s\n    timeout server 5s\n"
    if state_file:
        d += "    load-server-state-from-file global\n"
    b = "backend app\n    balance roundrobin\n" + "".join(
        f"    server {r} 127.0.0.1:{backends.port(r)} weight 100\n" for r in REGIONS)
    return g + d + f"frontend web\n    bind 127.0.0.1:{port}\n    default_backend app\n" + b


def regionctl(sock, *args):
    out = subprocess.run([os.path.join(BIN, "regionctl"), *args, "--socket", sock], capture_output=True, text=True, timeout=30)
    if out.returncode != 0:
        raise RuntimeError(out.stderr)
    return out.stdout


def pct(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, max(0, int(len(values) * p + 0.999999) - 1))] if values else None


def run(state_file_on):
    tmp = tempfile.mkdtemp(prefix="rhb-", dir="/tmp")
    backends = Backends()
    port = free_port()
    state_file = f"{tmp}/server-state" if state_file_on else None
    with open(f"{tmp}/haproxy.cfg", "w") as f:
        f.write(haproxy_config(tmp, port, backends, state_file))
    subprocess.run(["haproxy", "-D", "-f", f"{tmp}/haproxy.cfg", "-p", f"{tmp}/haproxy.pid"], check=True)
    sock = f"{tmp}/control.sock"
    conf = f'[daemon]\ncontrol_socket = "{sock}"\nstate_directory = "{tmp}"\n[probe]\ninterval = "500ms"\ntimeout = "400ms"\n'
    conf += '[failover]\ncooldown = "0s"\n'
    conf += f'[[haproxy]]\nsocket = "{tmp}/admin.sock"\nbackend = "app"\n'
    if state_file:
        conf += f'state_file = "{state_file}"\n'
    for region, weight in zip(REGIONS, [5000, 3000, 2000]):
        conf += f'[[region]]\nid = "{region}"\nweight = {weight}\n  [[region.endpoint]]\n  url = "http://127.0.0.1:{backends.port(region)}/healthz"\n'
    with open(f"{tmp}/regiond.toml", "w") as f:
        f.write(conf)
    daemon = subprocess.Popen([os.path.join(BIN, "regiond"), "--config", f"{tmp}/regiond.toml", "--log-level", "warning"],
                              stderr=open(f"{tmp}/regiond.log", "w"))
    stop = threading.Event()
    loaders = [threading.Thread(target=load, args=(port, stop), daemon=True) for _ in range(4)]
    result = {"state_file": state_file_on}
    try:
        deadline = time.time() + 30
        while time.time() < deadline:
            try:
                if "3 healthy" in regionctl(sock, "status"):
                    break
            except Exception:
                pass
            time.sleep(0.1)  # a benchmark harness waiting for start-up, not a test
        for t in loaders:
            t.start()
        time.sleep(1)
        drain, enable = [], []
        for _ in range(ROUNDS):
            regionctl(sock, "drain", "eu-west", "--reason", "bench")
            committed = time.monotonic()
            time.sleep(0.5)
            served = backends.since("eu-west", committed)
            drain.append((served[-1] - committed) * 1000 if served else 0.0)
            regionctl(sock, "enable", "eu-west", "--reason", "bench")
            committed = time.monotonic()
            time.sleep(0.5)
            served = backends.since("eu-west", committed)
            if served:
                enable.append((served[0] - committed) * 1000)
        result.update({
            "drain_until_last_request_p50_ms": round(pct(drain, 0.5), 2), "drain_until_last_request_p99_ms": round(pct(drain, 0.99), 2),
            "enable_until_first_request_p50_ms": round(pct(enable, 0.5), 2), "enable_until_first_request_p99_ms": round(pct(enable, 0.99), 2),
        })
        # A reload while eu-west is drained.
        regionctl(sock, "drain", "eu-west", "--reason", "bench")
        time.sleep(1)
        old = open(f"{tmp}/haproxy.pid").read().strip()
        reloaded = time.monotonic()
        subprocess.run(["haproxy", "-D", "-f", f"{tmp}/haproxy.cfg", "-p", f"{tmp}/haproxy.pid", "-x", f"{tmp}/admin.sock", "-sf", old], check=True)
        time.sleep(3)
        leaked = backends.since("eu-west", reloaded)
        total = sum(len(backends.since(r, reloaded)) for r in REGIONS)
        result.update({
            "reload_requests_to_drained_region": len(leaked), "reload_requests_total": total,
            "reload_leak_window_ms": round((leaked[-1] - reloaded) * 1000, 1) if leaked else 0.0,
        })
    finally:
        stop.set()
        daemon.send_signal(signal.SIGTERM)
        daemon.wait(timeout=30)
        try:
            os.kill(int(open(f"{tmp}/haproxy.pid").read().split()[-1]), signal.SIGKILL)
        except Exception:
            pass
        for s in backends.servers.values():
            s.shutdown()
        shutil.rmtree(tmp, ignore_errors=True)
    return result


def main():
    results = [run(False), run(True)]
    for r in results:
        print("bench:", json.dumps(r), flush=True)
    print(json.dumps({"haproxy_plan": results}, indent=2))


if __name__ == "__main__":
    main()
