"""Tries to reach out: interfaces, routes, a TEST-NET address, the resolvers, DNS; binds an extra port.

No packet can leave this machine because of it: every active probe runs only after the app has seen
that it has no interface but loopback and no route (an unroutable connect fails in the kernel, before
any packet exists), the only address it connects to is 192.0.2.1 (TEST-NET-1, documentation only),
and UDP connect() to a resolver sends nothing (it only picks a route).
"""

import errno
import ipaddress
import socket

from probe_server import serve

TEST_NET = ("192.0.2.1", 80)
EXTRA_PORT = 18573


def routes() -> list[str]:
    """Non-loopback routes (IPv4 main table and IPv6), from /proc."""
    found = []
    try:
        with open("/proc/net/route") as table:
            found += [line.split()[0] for line in table.readlines()[1:] if line.split() and line.split()[0] != "lo"]
    except OSError:
        pass
    try:
        with open("/proc/net/ipv6_route") as table:
            found += [line.split()[-1] for line in table if line.split() and line.split()[-1] != "lo"]
    except OSError:
        pass
    return found


def err_name(exc: OSError) -> str:
    return errno.errorcode.get(exc.errno or 0, type(exc).__name__)


def tcp_connect(address: tuple[str, int]) -> str:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(2)
        try:
            sock.connect(address)
            return "connected"
        except OSError as exc:
            return err_name(exc)


def resolvers() -> dict[str, str]:
    """Each nameserver in resolv.conf: what a UDP connect() (which sends nothing) says about its route."""
    result = {}
    try:
        lines = open("/etc/resolv.conf").read().splitlines()
    except OSError:
        return result
    for line in lines:
        parts = line.split()
        if len(parts) >= 2 and parts[0] == "nameserver":
            server = parts[1]
            if ipaddress.ip_address(server).is_loopback:
                result[server] = "loopback"
                continue
            family = socket.AF_INET6 if ":" in server else socket.AF_INET
            with socket.socket(family, socket.SOCK_DGRAM) as sock:
                try:
                    sock.connect((server, 53))
                    result[server] = "routable"
                except OSError as exc:
                    result[server] = err_name(exc)
    return result


def dns() -> str:
    try:
        socket.getaddrinfo("adversarial-probe.invalid", 80)
        return "resolved"
    except socket.gaierror:
        return "failed"


def observe() -> dict[str, object]:
    interfaces = sorted(name for _, name in socket.if_nameindex())
    found_routes = routes()
    isolated = interfaces == ["lo"] and not found_routes
    result: dict[str, object] = {"kind": "network", "interfaces": interfaces, "routes": found_routes,
                                 "isolated": isolated, "extra_port": EXTRA_PORT}
    if isolated:  # only then can nothing leave, whatever the probes do
        result.update(tcp_testnet=tcp_connect(TEST_NET), resolvers=resolvers(), dns=dns())
    return result


observed = observe()
extra = socket.socket()
extra.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
extra.bind(("0.0.0.0", EXTRA_PORT))
extra.listen(1)
print(f"observed {observed}", flush=True)
serve(lambda: observed)
