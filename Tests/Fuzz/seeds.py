#!/usr/bin/env python3
"""Writes the seed inputs of every fuzz target into Tests/Fuzz/corpus/TARGET/, taken from
the cases the tests use. Run once; `make fuzz` adds what the fuzzer finds (merged, so the
corpus keeps only inputs that reach new code). Files are named by a hash of their content."""
import hashlib, os, sys

ROOT = os.path.dirname(os.path.abspath(__file__))
CORPUS = os.path.join(ROOT, "corpus")
REPO = os.path.dirname(os.path.dirname(ROOT))


def save(target, data):
    if isinstance(data, str):
        data = data.encode()
    directory = os.path.join(CORPUS, target)
    os.makedirs(directory, exist_ok=True)
    name = "seed-" + hashlib.sha1(data).hexdigest()[:16]
    with open(os.path.join(directory, name), "wb") as f:
        f.write(data)


control = [
    '{"cmd":"status"}', '{"cmd":"regions"}', '{"cmd":"region","region":"eu-west"}', '{"id":"req-7","cmd":"version"}',
    '{"cmd":"help"}', '{"cmd":"watch"}', '{"cmd":"traffic"}', '{"cmd":"history","since":"1h","limit":10}',
    '{"cmd":"history","region":"eu-west","since":"2026-11-25T12:00:00Z"}', '{"cmd":"analytics","since":"24h"}',
    '{"cmd":"reload"}', '{"cmd":"failover","region":"eu-west","to":"us-east","strategy":"gradual","reason":"r"}',
    '{"cmd":"failover","region":"eu-west","strategy":"cascading"}', '{"cmd":"drain","region":"us-east","reason":"maintenance"}',
    '{"cmd":"enable","region":"us-east"}', '{"cmd":"disable","region":"ap-south"}',
    '{"cmd":"set-weights","weights":{"eu-west":6000,"us-east":4000,"ap-south":0}}', '{"cmd":"pin","reason":"incident","ttl":"30m"}',
    '{"cmd":"unpin"}', '{not json', '[1,2,3]', '{"command":"status"}', '{"cmd":42}', '{"cmd":"explode"}', '{"v":2,"cmd":"status"}',
    '{"cmd":"region"}', '{"cmd":"region","region":"mars"}', '   ',
    # The lines that used to kill the daemon.
    '{"cmd":"history","since":"99999999999999h"}', '{"cmd":"analytics","since":"99999999999999h"}',
    '{"cmd":"pin","reason":"r","ttl":"99999999999999h"}',
    '{"cmd":"set-weights","weights":{"eu-west":9223372036854775807,"us-east":9223372036854775807}}',
    '{"cmd":"history","limit":9223372036854775808}',
]
for line in control:
    save("control", line)

ok = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok"
answers = [
    ok, "HTTP/1.1 200 OK\r\nX-Capacity: 70%\r\nContent-Length: 2\r\n\r\nok",
    "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n7\r\n{\"capac\r\n10\r\nity\": 0.25, \"ok\"\r\n4\r\n: 1}\r\n0\r\n\r\n",
    "HTTP/1.1 100 Continue\r\n\r\n" + ok, "HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n" + ok,
    "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n7fffffffffffffff\r\nabc\r\n0\r\n\r\n",
    "HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999\r\n\r\nok", "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nok",
    "\x01\x02NOT HTTP AT ALL\r\n\r\n\xff", "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n",
    "HTTP/1.0 200 OK\r\n\r\nall of it ok", "HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\n", "HTTP/1.1 200 OK\r\nContent-Le",
    "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\nX-Trailer: 1\r\n\r\n", "HTTP/2.0 200 OK\r\n\r\n",
    "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n",
    "HTTP/1.1 200 OK\r\nX-Filler: " + "a" * 300 + "\r\nContent-Length: 2\r\n\r\nok",
]
for answer in answers:
    for chunk in (0, 3, 255):
        save("probe-answer", bytes([chunk]) + answer.encode("latin-1"))

for name in ("etc/regiond/regiond.toml", "etc/regiond/demo.toml"):
    with open(os.path.join(REPO, name), "rb") as f:
        save("config", f.read())
region = '[[region]]\nid = "eu-west"\nweight = 5000\n  [[region.endpoint]]\n  url = "http://127.0.0.1:1/healthz"\n'
configs = [
    region, region + '[region.status]\nfall = 1\n[[region]]\nid = "us-east"\nweight = 5000\n[region.status]\nfall = 2\n  [[region.endpoint]]\n  tcp = "db:1"\n',
    "[probe]\njitter = 1e300\n" + region, '[probe]\ninterval = "99999999999999h"\n' + region, "[failover]\ntotal = 9223372036854775807\n" + region,
    '[failover]\nstrategy = "cascading"\n[haproxy]\nsocket = "/run/haproxy/admin.sock"\nbackend = "app"\n[hook]\ncommand = ["/bin/true"]\n' + region,
    'a = """\nmulti\\\n  line"""\nb = 0xff\nc = 1979-05-27\n' + region, '[x]\na.b = 1\n[x.a]\n', "a = { b = 1, b.c = 2 }",
]
for text in configs:
    save("config", text)

for text in ["250ms", "2s", "1.5s", "1m30s", "1h", "87600h", "99999999999999h", "1h0.5ms", "-1s", "1.2.3s", "10%", "0.25",
             "1e300%", "2026-11-25T12:00:00Z", "", "nan", " 20% "]:
    save("durations", text)

for status, flag, out in [(0, 1, "0.75\n"), (0, 1, "75%\nsecond line\n"), (0, 1, "lots\n"), (0, 0, ""), (3, 0, "database down\n"),
                          (137, 0, ""), (0, 1, "nan\n"), (0, 1, "1e999\n")]:
    save("exec-output", bytes([status, flag]) + out.encode())

haproxy = [
    "", "\nNo such server.\n\n", "Name: HAProxy\nVersion: 2.6.12-1+deb12u4\nPid: 23647\nUptime: 0d 0h00m00s\nUptime_sec: 0\nStart_time_sec: 1795623348\n",
    "1\n# be_id be_name srv_id srv_name srv_addr srv_op_state srv_admin_state srv_uweight srv_iweight srv_time_since_last_change "
    "srv_check_status srv_check_result srv_check_health srv_check_state srv_agent_state bk_f_forced_id srv_f_forced_id srv_fqdn srv_port "
    "srvrecord srv_use_ssl srv_check_port srv_check_addr srv_agent_addr srv_agent_port\n"
    "2 app 1 eu-west 127.0.0.1 2 8 12 100 0 1 0 2 0 0 0 0 - 1 - 0 0 - - 0\n2 app 2 us-east 127.0.0.1 2 0 100 100 0 1 0 2 0 0 0 0 - 2 - 0 0 - - 0\n",
    "# pxname,svname,qcur,qmax,scur,smax,slim,stot,bin,bout,dreq,dresp,ereq,econ,eresp,wretr,wredis,status,weight\n"
    "f,FRONTEND,,,0,0,9986,1,0,0,0,0,0,,,,,OPEN,\napp,eu-west,0,0,3,5,,9,0,0,,0,,0,0,0,0,UP,100\napp,BACKEND,0,0,3,5,999,9,0,0,0,0,,0,0,0,0,UP,200\n",
    "12 (initial 100)\n", "Pid: 99999999999999999999\nUptime_sec: -1\n",
]
for text in haproxy:
    save("haproxy-answer", text)
print("seeds written to", CORPUS)
