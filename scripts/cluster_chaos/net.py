"""The test network: one network namespace per host (etcd members, regiond instances,
regions), all on one bridge inside a switch namespace of their own, so nothing touches
the host's network. A partition is an nftables set of blocked addresses inside a host's
namespace: every packet to or from them is dropped, both ways; mending deletes them."""
import os
import subprocess

SUBNET = "10.77.0"


def run(*args, check=True, input=None):
    result = subprocess.run(list(args), capture_output=True, text=True, input=input)
    if check and result.returncode != 0:
        raise RuntimeError(f"{' '.join(args)}: {result.stderr.strip() or result.stdout.strip()}")
    return result


class Net:
    """Hosts by name, each with an address on 10.77.0.0/24 and a namespace `<tag>-<name>`."""

    def __init__(self, tag):
        self.tag = tag
        self.switch = f"{tag}-sw"
        self.hosts = {}
        # Counted per (host, address): two faults may block the same path.
        self.blocks = {}

    def ns(self, host):
        return f"{self.tag}-{host}"

    def exec(self, host):
        """The argv prefix that runs a command in `host`'s namespace."""
        return ["ip", "netns", "exec", self.ns(host)]

    def create(self, hosts):
        """`hosts`: name -> last octet of its address."""
        run("ip", "netns", "add", self.switch)
        run(*self.exec_switch(), "ip", "link", "add", "br0", "type", "bridge")
        run(*self.exec_switch(), "ip", "link", "set", "br0", "up")
        for index, (name, octet) in enumerate(sorted(hosts.items())):
            ns = self.ns(name)
            # Made in the host's namespace first: the owner's pid keeps two runs apart.
            inside, outside = f"c{self.tag[5:]}x{index}", f"s{self.tag[5:]}x{index}"
            run("ip", "netns", "add", ns)
            run("ip", "link", "add", inside, "type", "veth", "peer", "name", outside)
            run("ip", "link", "set", inside, "netns", ns)
            run("ip", "link", "set", outside, "netns", self.switch)
            run(*self.exec_switch(), "ip", "link", "set", outside, "master", "br0")
            run(*self.exec_switch(), "ip", "link", "set", outside, "up")
            run("ip", "netns", "exec", ns, "ip", "link", "set", "lo", "up")
            run("ip", "netns", "exec", ns, "ip", "link", "set", inside, "up")
            run("ip", "netns", "exec", ns, "ip", "addr", "add", f"{SUBNET}.{octet}/24", "dev", inside)
            ruleset = (
                "table inet chaos {\n"
                "  set blocked { type ipv4_addr; }\n"
                "  chain in { type filter hook input priority 0; ip saddr @blocked drop; }\n"
                "  chain out { type filter hook output priority 0; ip daddr @blocked drop; }\n"
                "}\n"
            )
            run("ip", "netns", "exec", ns, "nft", "-f", "-", input=ruleset)
            self.hosts[name] = f"{SUBNET}.{octet}"

    def exec_switch(self):
        return ["ip", "netns", "exec", self.switch]

    def address(self, host):
        return self.hosts[host]

    def block(self, host, others):
        """Drops everything between `host` and each of `others` (from `host`'s side)."""
        for other in others:
            key = (host, other)
            self.blocks[key] = self.blocks.get(key, 0) + 1
            if self.blocks[key] == 1:
                run(*self.exec(host), "nft", "add", "element", "inet", "chaos", "blocked", "{ " + self.hosts[other] + " }")

    def unblock(self, host, others):
        for other in others:
            key = (host, other)
            count = self.blocks.get(key, 0)
            if count == 0:
                continue
            self.blocks[key] = count - 1
            if count == 1:
                del self.blocks[key]
                run(*self.exec(host), "nft", "delete", "element", "inet", "chaos", "blocked", "{ " + self.hosts[other] + " }")

    def blocked(self, host, other):
        return self.blocks.get((host, other), 0) > 0 or self.blocks.get((other, host), 0) > 0

    def mend_all(self):
        for (host, other) in list(self.blocks):
            self.blocks[(host, other)] = 1
            self.unblock(host, [other])

    def destroy(self):
        for name in list(self.hosts):
            run("ip", "netns", "del", self.ns(name), check=False)
        run("ip", "netns", "del", self.switch, check=False)
        self.hosts = {}


def owner_alive(name, prefix):
    """Namespaces are named `<prefix><pid>-<host>`: is the run that made this one still alive?"""
    owner = name[len(prefix):].split("-")[0]
    if not owner.isdigit():
        return False
    try:
        os.kill(int(owner), 0)
        return True
    except ProcessLookupError:
        return False
    except PermissionError:
        return True


def leftover_namespaces(prefix="chaos"):
    """Namespaces a killed run left behind (names start with `prefix`, their owner is gone).
    A run still alive keeps its own: two runs may share the machine."""
    listed = run("ip", "netns", "list", check=False).stdout.split("\n")
    names = [line.split()[0] for line in listed if line.startswith(prefix)]
    return [name for name in names if not owner_alive(name, prefix)]


def sweep(prefix="chaos"):
    """Removes what a killed run left behind, so a failed run cannot disturb the next."""
    for name in leftover_namespaces(prefix):
        pids = run("ip", "netns", "pids", name, check=False).stdout.split()
        for pid in pids:
            try:
                os.kill(int(pid), 9)
            except (ProcessLookupError, ValueError):
                pass
        run("ip", "netns", "del", name, check=False)
