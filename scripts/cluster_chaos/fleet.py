"""The processes of a chaos run: 3 etcd members, 3 regiond and one HTTP server per region,
each in its own namespace of a `Net`. Every process is started with PR_SET_PDEATHSIG, so
it dies with the run that started it, whatever kills the run."""
import base64
import ctypes
import json
import os
import signal
import socket
import subprocess
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PR_SET_PDEATHSIG = 1

REGIONS = {"eu": 31, "us": 32, "ap": 33}
WEIGHTS = {"eu": 5000, "us": 3000, "ap": 2000}
ETCD = {"e1": 11, "e2": 12, "e3": 13}
OBSERVERS = {"r1": 21, "r2": 22, "r3": 23}

# The cluster's timing (docs/cluster.md): short, so that faults come and go quickly.
TIMING = {
    "lease_ttl": 2.0, "renew_interval": 0.4, "request_timeout": 0.4, "evaluation_interval": 0.1,
    "probe_interval": 0.1, "probe_timeout": 0.5, "window": 1.0, "fall": 2, "rise": 2, "recovery_window": 3.0,
    "failback_ramp": 1.5,
}


def slow_down(factor):
    """Stretches every duration of TIMING (sanitizer builds run several times slower)."""
    for key, value in TIMING.items():
        if isinstance(value, float):
            TIMING[key] = value * factor


def die_with_parent():
    libc = ctypes.CDLL("libc.so.6", use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


REGION_SERVER = r"""
import http.server, os, sys
flag = sys.argv[2]
class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        code = 503 if os.path.exists(flag) else 200
        body = b"broken\n" if code == 503 else b"ok\n"
        self.send_response(code)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *args):
        pass
http.server.ThreadingHTTPServer((sys.argv[1], 8080), Handler).serve_forever()
"""


class Fleet:
    def __init__(self, net, directory, binary_dir):
        self.net = net
        self.directory = directory
        self.bin = binary_dir
        self.processes = {}
        self.stopped = set()
        self.logs = {}

    # MARK: starting

    def spawn(self, name, host, argv, log):
        out = open(log, "ab")
        self.logs[name] = log
        self.processes[name] = subprocess.Popen(self.net.exec(host) + argv, stdout=out, stderr=subprocess.STDOUT, preexec_fn=die_with_parent)

    def start_etcd(self, name):
        address = self.net.address(name)
        cluster = ",".join(f"{m}=http://{self.net.address(m)}:2380" for m in ETCD)
        argv = [
            "/usr/bin/etcd", "--name", name, "--data-dir", f"{self.directory}/{name}",
            "--listen-client-urls", f"http://{address}:2379,http://127.0.0.1:2379", "--advertise-client-urls", f"http://{address}:2379",
            "--listen-peer-urls", f"http://{address}:2380", "--initial-advertise-peer-urls", f"http://{address}:2380",
            "--initial-cluster", cluster, "--initial-cluster-state", "new", "--initial-cluster-token", self.net.tag,
            "--heartbeat-interval", "50", "--election-timeout", "500", "--log-level", "warn", "--logger", "zap",
        ]
        self.spawn(name, name, argv, f"{self.directory}/{name}.log")

    def start_region(self, region):
        self.spawn(region, region, ["python3", "-c", REGION_SERVER, self.net.address(region), self.broken_flag(region)], f"{self.directory}/{region}.log")

    def region_answers(self, region):
        """The region's server answers from an observer's namespace."""
        probe = subprocess.run(
            self.net.exec(next(iter(OBSERVERS))) + ["curl", "-s", "-o", "/dev/null", "-m", "1", "-w", "%{http_code}", f"http://{self.net.address(region)}:8080/healthz"],
            capture_output=True, text=True)
        return probe.stdout.strip() == "200"

    def broken_flag(self, region):
        return f"{self.directory}/{region}.broken"

    def config(self, observer):
        t = TIMING
        ms = lambda seconds: f"{int(seconds * 1000)}ms"
        etcd = ", ".join(f'"http://{self.net.address(m)}:2379"' for m in ETCD)
        text = f"""
[daemon]
control_socket = "{self.socket(observer)}"
state_directory = "{self.state(observer)}"

[probe]
interval = "{ms(t['probe_interval'])}"
timeout = "{ms(t['probe_timeout'])}"
jitter = 0

[status]
window = "{ms(t['window'])}"
evaluation_interval = "{ms(t['evaluation_interval'])}"
min_samples = 2
rise = {t['rise']}
fall = {t['fall']}

[failover]
cooldown = "0s"
recovery_window = "{ms(t['recovery_window'])}"
failback_ramp = "{ms(t['failback_ramp'])}"

[cluster]
etcd = [{etcd}]
name = "{observer}"
prefix = "/chaos"
lease_ttl = "{ms(t['lease_ttl'])}"
renew_interval = "{ms(t['renew_interval'])}"
request_timeout = "{ms(t['request_timeout'])}"
"""
        for region in REGIONS:
            text += f"""
[[region]]
id = "{region}"
weight = {WEIGHTS[region]}
  [[region.endpoint]]
  url = "http://{self.net.address(region)}:8080/healthz"
"""
        path = f"{self.directory}/{observer}.toml"
        with open(path, "w") as f:
            f.write(text)
        return path

    def socket(self, observer):
        return f"{self.directory}/{observer}.sock"

    def state(self, observer):
        return f"{self.directory}/{observer}-state"

    def start_observer(self, observer):
        config = self.config(observer)
        self.stopped.discard(observer)
        self.spawn(observer, observer, [f"{self.bin}/regiond", "--config", config], f"{self.directory}/{observer}.log")

    # MARK: faults

    def running(self, name):
        process = self.processes.get(name)
        return process is not None and process.poll() is None

    def kill(self, name):
        process = self.processes.get(name)
        if process and process.poll() is None:
            process.kill()
            process.wait()
        self.stopped.discard(name)

    def pause(self, name):
        self.processes[name].send_signal(signal.SIGSTOP)
        self.stopped.add(name)

    def resume(self, name):
        if name in self.stopped and self.running(name):
            self.processes[name].send_signal(signal.SIGCONT)
        self.stopped.discard(name)

    def stop_all(self):
        for name in list(self.processes):
            self.resume(name)
            process = self.processes[name]
            if process.poll() is None:
                process.terminate()
        deadline = time.time() + 10
        for process in self.processes.values():
            try:
                process.wait(timeout=max(0.1, deadline - time.time()))
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()

    # MARK: asking

    def call(self, observer, request, timeout=5):
        """One control request; None when the instance does not answer."""
        try:
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.settimeout(timeout)
            s.connect(self.socket(observer))
            s.sendall((json.dumps(request) + "\n").encode())
            data = b""
            while not data.endswith(b"\n"):
                chunk = s.recv(1 << 20)
                if not chunk:
                    break
                data += chunk
            s.close()
            return json.loads(data).get("result")
        except (OSError, ValueError):
            return None

    def leader(self):
        """The observer that says it leads, if one does."""
        for observer in OBSERVERS:
            if observer in self.stopped or not self.running(observer):
                continue
            status = self.call(observer, {"cmd": "status"}, timeout=2)
            if status and (status.get("cluster") or {}).get("role") == "leader":
                return observer
        return None

    def etcd_get(self, prefix):
        """Every key under `prefix` with its value and mod revision, from a member that answers."""
        for member in ETCD:
            result = subprocess.run(
                self.net.exec(member) + ["etcdctl", "--endpoints", "http://127.0.0.1:2379", "--command-timeout", "5s", "get", "--prefix", prefix, "-w", "json"],
                capture_output=True, text=True, env={**os.environ, "ETCDCTL_API": "3"})
            if result.returncode == 0:
                kvs = json.loads(result.stdout).get("kvs") or []
                return [(base64.b64decode(kv["key"]).decode(), base64.b64decode(kv.get("value", "")), int(kv.get("mod_revision", 0))) for kv in kvs]
        raise RuntimeError("no etcd member answered")

    def etcd_history(self, prefix, path):
        """Every change under `prefix` since the cluster began, into `path` (for a failed run)."""
        for member in ETCD:
            result = subprocess.run(
                ["timeout", "3"] + self.net.exec(member) + ["etcdctl", "--endpoints", "http://127.0.0.1:2379", "watch", "--prefix", prefix, "--rev", "1", "--prev-kv"],
                capture_output=True, text=True, env={**os.environ, "ETCDCTL_API": "3"})
            if result.stdout:
                with open(path, "w") as f:
                    f.write(result.stdout)
                return

    def wait_for_etcd(self, limit=60):
        deadline = time.time() + limit
        while time.time() < deadline:
            for member in ETCD:
                result = subprocess.run(
                    self.net.exec(member) + ["etcdctl", "--endpoints", "http://127.0.0.1:2379", "--command-timeout", "2s", "put", "/chaos-ready", "1"],
                    capture_output=True, text=True, env={**os.environ, "ETCDCTL_API": "3"})
                if result.returncode == 0:
                    return
            time.sleep(0.2)
        raise RuntimeError("etcd did not form a cluster")

    def log_tail(self, name, lines=40):
        try:
            with open(self.logs[name], errors="replace") as f:
                return "".join(f.readlines()[-lines:])
        except (OSError, KeyError):
            return ""
