"""The stub resolver (proto/resolver.c) against real dnsmasq and against the
hostile servers of dns_fake.py, through test/resolver_probe.c.

The probe is compiled here once per run from the source tree (with
ASan/UBSan when the binary under test is a sanitizer build); set
RESOLVER_PROBE=/abs/path to use a prebuilt one.
"""

import os
import shutil

from dns_fake import DnsMasq, FakeDNS, HOSTILE
from harness import REPO, Unavailable, run, sanitizer_build, timeout, tmpdir

PROBE_SRC = ["test/resolver_probe.c", "proto/resolver.c", "proto/dns_msg.c", "core/loop.c",
             "core/loop_epoll.c", "core/loop_kqueue.c", "core/timer.c", "core/net.c",
             "core/rand.c", "core/log.c"]
PROBE = None

ZONE = {
    "host.example.test": {"A": ["192.0.2.1"], "AAAA": ["2001:db8::1"]},
    "10.2.0.192.in-addr.arpa": {"PTR": "mail.example.test"},
    "mail.example.test": {"A": ["192.0.2.10"]},
    "20.2.0.192.in-addr.arpa": {"PTR": b"\x08evil\r\nxx\x07example\x04test"},
    "21.2.0.192.in-addr.arpa": {"PTR": "evil name.example.test"},
}


def setup_module():
    global PROBE
    PROBE = os.environ.get("RESOLVER_PROBE")
    if PROBE:
        return
    d = tmpdir("mpt-probe-")
    cc = os.environ.get("CC") or "cc"
    flags = ["-std=c11", "-D_GNU_SOURCE", "-O1", "-g", "-I."]
    if sanitizer_build() and shutil.which("clang"):
        cc = "clang"
        flags += ["-fsanitize=address,undefined", "-fno-sanitize-recover=undefined"]
    if not shutil.which(cc):
        raise Unavailable(f"no C compiler ({cc}) to build test/resolver_probe.c")
    out = os.path.join(d, "resolver_probe")
    r = run([cc] + flags + PROBE_SRC + ["-o", out], cwd=REPO, timeout=120)
    if r.returncode != 0:
        raise AssertionError(f"building the probe failed:\n{r.stderr}")
    PROBE = out


def probe(servers, *ops, t=3000, extra=()):
    """Run the probe; returns one (status, [values], ms) per operation."""
    argv = [PROBE, "-t", str(t)]
    for s in servers:
        argv += ["-s", s]
    argv += list(extra) + list(ops)
    r = run(argv, timeout=60)
    assert r.returncode == 0, f"{argv} exited {r.returncode}\n{r.stdout}\n{r.stderr}"
    assert "ERROR: AddressSanitizer" not in r.stderr and "runtime error" not in r.stderr, r.stderr
    out = []
    for line in r.stdout.splitlines():
        words = line.split()
        ms = int(words[-1].split("=")[1])
        out.append((words[0], words[1:-1], ms))
    return out


def need_dnsmasq():
    if not shutil.which("dnsmasq"):
        raise Unavailable("dnsmasq not installed (apt-get install dnsmasq-base)")


@timeout(30)
def test_dnsmasq_client_names_and_hosts():
    need_dnsmasq()
    dns = DnsMasq(hosts=[("127.0.0.21", "client21.example.test"), ("::1", "v6.example.test"),
                         ("127.0.0.22", "two.example.test"), ("127.0.0.23", "two.example.test")],
                  ptr_records=[("127.0.0.50", "liar.example.test")],
                  host_records=[("liar.example.test", "127.0.0.77")]).start()
    got = probe([dns.addr],
                "client", "127.0.0.21",
                "client", "127.0.0.50",          # PTR and A disagree
                "client", "127.0.0.99",          # NXDOMAIN
                "client", "::1",
                "client", "::ffff:127.0.0.21",   # as a dual-stack listener reports it
                "host", "client21.example.test",
                "host", "two.example.test",
                "host", "v6.example.test",
                "host", "nosuch.example.test",
                "host", "other.invalid")         # dnsmasq: REFUSED
    assert got[0][:2] == ("OK", ["client21.example.test"]), got
    assert got[1][0] == "NOTFOUND", got
    assert got[2][0] == "NOTFOUND", got
    assert got[3][:2] == ("OK", ["v6.example.test"]), got
    assert got[4][:2] == ("OK", ["client21.example.test"]), got
    assert got[5][:2] == ("OK", ["127.0.0.21"]), got
    assert got[6][:2] == ("OK", ["127.0.0.22", "127.0.0.23"]), got
    assert got[7][:2] == ("OK", ["::1"]), got
    assert got[8][0] == "NOTFOUND", got
    assert got[9][0] == "TEMPFAIL" and got[9][2] < 1000, got
    # ipv6=off: only A asked
    got = probe([dns.addr], "host", "v6.example.test", "host", "client21.example.test",
                extra=["-6"])
    assert got[0][0] == "NOTFOUND" and got[1][:2] == ("OK", ["127.0.0.21"]), got


@timeout(30)
def test_dnsmasq_cache_and_valid():
    need_dnsmasq()
    dns = DnsMasq(hosts=[("127.0.0.31", "cached.example.test")], ttl=60).start()

    def asked():
        return dns.log().count("query[A] cached.example.test")

    got = probe([dns.addr], "host", "cached.example.test", "host", "cached.example.test",
                extra=["-6"])
    assert [g[:2] for g in got] == [("OK", ["127.0.0.31"])] * 2, got
    assert asked() == 1, dns.log()
    # valid=50ms overrides the TTL of 60 s
    probe([dns.addr], "host", "cached.example.test", "sleep", "80",
          "host", "cached.example.test", extra=["-6", "-V", "50"])
    assert asked() == 3, dns.log()


@timeout(60)
def test_fake_hostile_answers_dropped():
    dns = FakeDNS(ZONE).start()
    for mode in HOSTILE:
        dns.set_mode(mode, then_answer=True)
        got = probe([dns.addr], "host", "host.example.test", extra=["-6"], t=2000)
        assert got[0][:2] == ("OK", ["192.0.2.1"]), (mode, got)
        dns.set_mode(mode)
        got = probe([dns.addr], "host", "host.example.test", extra=["-6"], t=200)
        assert got[0][0] == "TEMPFAIL" and got[0][2] >= 200, (mode, got)


@timeout(30)
def test_fake_error_codes_and_silence():
    dns = FakeDNS(ZONE, mode="truncated").start()
    got = probe([dns.addr], "host", "host.example.test", "client", "192.0.2.10")
    assert [g[0] for g in got] == ["TEMPFAIL", "TEMPFAIL"] and max(g[2] for g in got) < 1000, got
    dns.set_mode("silent")
    got = probe([dns.addr], "host", "host.example.test", t=300)
    assert got[0][0] == "TEMPFAIL" and 300 <= got[0][2] < 1000, got
    dns.set_mode("nxdomain")
    assert probe([dns.addr], "host", "host.example.test")[0][0] == "NOTFOUND"
    # SERVFAIL or REFUSED from one server: the other is asked at once
    good = FakeDNS(ZONE).start()
    for mode in ("servfail", "refused"):
        dns.set_mode(mode)
        got = probe([dns.addr, good.addr], "client", "192.0.2.10", "host", "host.example.test")
        assert got[0][:2] == ("OK", ["mail.example.test"]), got
        assert got[1][:2] == ("OK", ["192.0.2.1", "2001:db8::1"]), got
        assert max(g[2] for g in got) < 1000, got
    got = probe([dns.addr], "host", "host.example.test")
    assert got[0][0] == "TEMPFAIL" and got[0][2] < 1000, got


@timeout(30)
def test_fake_resend_and_late_answer():
    dns = FakeDNS(ZONE, mode="hold_prev").start()
    got = probe([dns.addr], "host", "host.example.test", extra=["-6"])
    assert got[0][:2] == ("OK", ["192.0.2.1"]) and got[0][2] >= 1000, got
    assert len(dns.queries) == 2 and dns.queries[0].src_port != dns.queries[1].src_port


@timeout(30)
def test_fake_ptr_injection_never_comes_out():
    dns = FakeDNS(ZONE).start()
    got = probe([dns.addr], "client", "192.0.2.20", "client", "192.0.2.21", "client", "192.0.2.10",
                t=300)
    # a bad PTR name ends the lookup at once as not found ("[UNAVAILABLE]")
    assert got[0][:2] == ("NOTFOUND", []), got
    assert got[1][:2] == ("NOTFOUND", []), got
    assert got[2][:2] == ("OK", ["mail.example.test"]), got
    # no forward lookup of anything the bad PTRs said
    assert [q.qtype for q in dns.queries] == ["PTR", "PTR", "PTR", "A"], dns.queries
