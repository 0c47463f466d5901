"""Who the client is, end to end (issue 7): PROXY protocol in (from a real
HAProxy and hand-written), set_real_ip_from trust, PROXY protocol and IMAP
ID toward Dovecot, the SMTP client-name resolver (real dnsmasq and the
hostile servers of dns_fake.py) toward auth_http and Postfix's XCLIENT, and
allow/deny on IPv4, IPv6 and unix sockets.

Peers: reference/test-peers.md (HAProxy section 3, dnsmasq section 4).
Security rows covered: 6 (PTR injection into Client-Host / XCLIENT NAME),
10 (hostile resolver answers), 16 (trust of forwarded client identity).

Addresses: client_ip() gives 127.0.x.y with x >= 1; the fixed addresses here
are 127.0.0.N (names in the DNS zones) and 127.1.x.y (access rules), so they
never collide with it.
"""

import os
import re
import smtplib
import socket
import ssl
import struct
import subprocess
import time

from dns_fake import EVIL_PTR, EVIL_V4, DnsMasq, FakeDNS
from harness import (LOG_LINE_RE, AuthServer, Dovecot, LineClient, Mproxy, Postfix, auth_fail,
                     auth_ok, auth_users, client_ip, closed_port, free_port, make_cert, read_text,
                     register, tail, timeout, tmpdir, wait_for, wait_port, wait_session_line,
                     write_file)

USERS = {"alice": "alicepw", "bob": "bobpw"}
SERVER_NAME = "mail.example.test"
SMTP_GREETING = f"220 {SERVER_NAME} ESMTP ready"
FROM = "s@example.test"
TO = "x@pipe.example.test"

dovecot = None
postfix = None
dnsmasq = None


def setup_module():
    global dovecot, postfix, dnsmasq
    dovecot = Dovecot(USERS).start()
    postfix = Postfix().start()
    dnsmasq = DnsMasq(hosts=[("127.0.0.21", "client21.example.test"),
                             ("127.0.0.22", "client22.example.test"),
                             ("::1", "v6.example.test")],
                      ptr_records=[("127.0.0.50", "liar.example.test")],
                      host_records=[("liar.example.test", "127.0.0.77")]).start()


def teardown_module():
    dnsmasq.stop()
    postfix.stop()
    dovecot.stop()


# --- HAProxy (test-peers.md section 3) ----------------------------------------

class HAProxy:
    """haproxy -db -f FILE in TCP mode, one `listen` per route:
    routes = {name: (target "host:port", server options e.g. "send-proxy-v2")}.
    .port[name] is the front port on 127.0.0.1. Its own `resolvers default`
    points at a closed loopback port, so it never asks the off-machine DNS."""

    def __init__(self, routes):
        self.routes = dict(routes)
        self.dir = tmpdir("mpt-ha-")
        self.cfg = os.path.join(self.dir, "haproxy.cfg")
        self.log_path = os.path.join(self.dir, "haproxy.log")
        self.proc = None
        register(self)

    def _write(self):
        out = [
            "global",
            "    log stderr format short local0 info",
            "resolvers default",
            f"    nameserver lo 127.0.0.1:{closed_port()}",
            "defaults",
            "    mode tcp",
            "    log global",
            "    option tcplog",
            "    timeout connect 2s",
            "    timeout client 60s",
            "    timeout server 60s",
        ]
        for name, (target, opts) in self.routes.items():
            out += [f"listen {name}", f"    bind 127.0.0.1:{self.port[name]}",
                    f"    server s {target} {opts}"]
        write_file(self.cfg, "\n".join(out) + "\n")

    def start(self, timeout=10.0):
        last = ""
        for attempt in range(4):
            self.port = {name: free_port() for name in self.routes}
            self._write()
            log = open(self.log_path, "wb")
            try:
                self.proc = subprocess.Popen(["haproxy", "-db", "-f", self.cfg], stdout=log,
                                             stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                             start_new_session=True)
            finally:
                log.close()
            try:
                for p in self.port.values():
                    wait_port(p, timeout=timeout, proc=self.proc)
                return self
            except AssertionError:
                rc = self.proc.poll()
                last = self.log()
                self.stop()
                if rc is not None and attempt < 3:
                    continue  # a port was taken meanwhile: HAProxy exits 1
                break
        raise AssertionError(f"HAProxy did not start:\n{tail(last)}")

    def log(self):
        return read_text(self.log_path)

    def stop(self):
        if self.proc is not None:
            if self.proc.poll() is None:
                self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
            self.proc = None

    def _cleanup(self):
        self.stop()

    def diagnostics(self):
        return f"--- haproxy log (tail)\n{tail(self.log(), 10)}"

    def __repr__(self):
        return f"<HAProxy {self.dir}>"


# --- PROXY protocol headers by hand (haproxy's proxy-protocol.txt) ------------

V2_SIG = b"\r\n\r\n\x00\r\nQUIT\n"


def v1(*words):
    return ("PROXY " + " ".join(str(w) for w in words) + "\r\n").encode()


def v2(body=b"", cmd=1, fam=0x11, ver=2, length=None):
    n = len(body) if length is None else length
    return V2_SIG + bytes([ver << 4 | cmd, fam]) + struct.pack("!H", n) + body


def addr4(src, dst, sport, dport):
    return socket.inet_aton(src) + socket.inet_aton(dst) + struct.pack("!HH", sport, dport)


def addr6(src, dst, sport, dport):
    return (socket.inet_pton(socket.AF_INET6, src) + socket.inet_pton(socket.AF_INET6, dst)
            + struct.pack("!HH", sport, dport))


def tlv(kind, value):
    return bytes([kind]) + struct.pack("!H", len(value)) + value


# PP2_TYPE_* values of the spec, section 2.2.7
TLV_ALPN, TLV_AUTHORITY, TLV_CRC32C, TLV_NOOP, TLV_UNIQUE_ID, TLV_SSL = 1, 2, 3, 4, 5, 0x20


# --- helpers --------------------------------------------------------------------

def imap_server(port_spec, extra="", auth_line=""):
    """One IMAP server block (listen directive given whole)."""
    return f"""
    server {{
        listen {port_spec};
        protocol imap;
        imap_auth plain login;
        {auth_line}
        {extra}
    }}"""


def imap_proxy(auth_url, listen_extra="", server_extra="", mail_extra="", port=None):
    port = port or free_port()
    block = f"""
    server_name {SERVER_NAME};
    auth_http {auth_url};
    {mail_extra}
    {imap_server(f"127.0.0.1:{port} {listen_extra}", server_extra)}
"""
    return Mproxy(block), port


def users_auth(port=None):
    """Checks USERS and sends Dovecot's plain IMAP port (or `port`)."""
    return AuthServer(auth_users(USERS, port or dovecot.imap_port)).start()


def imap_greeted(c):
    c.expect_re(r"^\* OK \[CAPABILITY .*\] IMAP4 ready$")
    return c


def imap_login(c, user="alice", password="alicepw", tag="L"):
    c.sendline(f"{tag} LOGIN {user} {password}")
    lines = c.read_tagged(tag)
    assert lines[-1].startswith(f"{tag} OK"), lines
    return lines


def imap_logout(c):
    c.sendline("Z LOGOUT")
    c.read_tagged("Z")
    c.close()


def request_for(auth, ip, timeout=10.0):
    """The (first) auth request whose Client-IP is ip."""
    return wait_for(lambda: next((r for r in auth.requests if r.get("Client-IP") == ip), None),
                    timeout, f"an auth request with Client-IP {ip}")


def assert_closed_without_greeting(c, timeout=5):
    data = c.expect_closed(timeout)
    assert data == b"", f"got bytes from a connection that must be closed unanswered: {data!r}"


def pp_headers(req):
    return {n: req.get(n) for n in ("Proxy-Protocol-Addr", "Proxy-Protocol-Port",
                                    "Proxy-Protocol-Server-Addr", "Proxy-Protocol-Server-Port")}


NO_PP = {"Proxy-Protocol-Addr": None, "Proxy-Protocol-Port": None,
         "Proxy-Protocol-Server-Addr": None, "Proxy-Protocol-Server-Port": None}


# ==============================================================================
# 1. PROXY protocol in front of mproxy
# ==============================================================================

@timeout(40)
def test_haproxy_send_proxy_v1_and_v2_give_the_real_client():
    """HAProxy send-proxy / send-proxy-v2 -> a proxy_protocol listener that
    trusts 127.0.0.1: auth_http gets the client's address as Client-IP and
    the Proxy-Protocol-* headers (nginx 1.19.8), the log names the client."""
    auth = users_auth()
    mp, port = imap_proxy(auth.conf_url, listen_extra="proxy_protocol",
                          server_extra="set_real_ip_from 127.0.0.1;")
    ha = HAProxy({"v1": (f"127.0.0.1:{port}", "send-proxy"),
                  "v2": (f"127.0.0.1:{port}", "send-proxy-v2")}).start()
    for name in ("v1", "v2"):
        ip = client_ip()
        c = imap_greeted(LineClient(ha.port[name], source=ip))
        cport = c.sock.getsockname()[1]
        imap_login(c)
        req = request_for(auth, ip)
        assert pp_headers(req) == {
            "Proxy-Protocol-Addr": ip, "Proxy-Protocol-Port": str(cport),
            "Proxy-Protocol-Server-Addr": "127.0.0.1",
            "Proxy-Protocol-Server-Port": str(ha.port[name])}, (name, req.raw)
        assert req.wire_ok(), req.raw
        mp.wait_log(rf"PROXY protocol from 127\.0\.0\.1:\d+: client {re.escape(ip)}:{cport}$")
        imap_logout(c)
        line = wait_session_line(mp, f"{ip}:{cport}", ('login: "alice"',))
        assert "upstream: 127.0.0.1:" in line, line
    # the TCP peer (HAProxy) never became a client
    assert all(r["Client-IP"] != "127.0.0.1" for r in auth.requests), auth.requests
    mp.stop()


@timeout(40)
def test_header_from_untrusted_peer_is_ignored():
    """A proxy_protocol listener needs the header from everybody, but uses its
    address only when the TCP peer is in set_real_ip_from (security.md 16):
    untrusted, Client-IP stays HAProxy's 127.0.0.1. The Proxy-Protocol-*
    headers still report what the header said, as nginx does."""
    auth = users_auth()
    p_other, p_none = free_port(), free_port()
    mp = Mproxy(f"""
    server_name {SERVER_NAME};
    auth_http {auth.conf_url};
    {imap_server(f"127.0.0.1:{p_other} proxy_protocol", "set_real_ip_from 10.0.0.0/8;")}
    {imap_server(f"127.0.0.1:{p_none} proxy_protocol")}
""")
    ha = HAProxy({"other": (f"127.0.0.1:{p_other}", "send-proxy-v2"),
                  "none": (f"127.0.0.1:{p_none}", "send-proxy")}).start()
    for name in ("other", "none"):
        ip = client_ip()
        auth.reset()
        c = imap_greeted(LineClient(ha.port[name], source=ip))
        imap_login(c)
        req = auth.last
        assert req["Client-IP"] == "127.0.0.1", (name, req.raw)
        assert req["Proxy-Protocol-Addr"] == ip, (name, req.raw)
        mp.wait_log(r"PROXY protocol header from 127\.0\.0\.1:\d+ ignored: "
                    r"peer not in set_real_ip_from")
        imap_logout(c)
        assert not re.search(rf"client: {re.escape(ip)}:", mp.log()), mp.log()
    wait_for(lambda: len(re.findall(r"ignored: peer not in set_real_ip_from", mp.log())) == 2,
             5, "two 'ignored' lines")
    mp.stop()


@timeout(30)
def test_missing_header_closes_without_greeting():
    """A proxy_protocol listener greets nobody before a header: a client that
    talks its protocol at once is closed (log line); one that says nothing
    is closed by `timeout`; one that closes mid-header is just gone."""
    auth = AuthServer(auth_fail()).start()
    mp, port = imap_proxy(auth.conf_url, listen_extra="proxy_protocol",
                          server_extra="set_real_ip_from 127.0.0.0/8; timeout 1s;")
    ip = client_ip()
    c = LineClient(port, source=ip)
    c.sendline("A1 LOGIN alice alicepw")
    assert_closed_without_greeting(c)
    mp.wait_log(r"broken header: invalid PROXY protocol header")
    wait_session_line(mp, ip, ("in state: proxy protocol",))

    ip = client_ip()
    c = LineClient(port, source=ip)
    start = time.monotonic()
    assert_closed_without_greeting(c, timeout=10)
    assert time.monotonic() - start >= 0.8
    wait_session_line(mp, ip, ("reason: client timed out", "in state: proxy protocol"))

    ip = client_ip()
    c = LineClient(port, source=ip)
    c.send(b"PROXY TCP4 10.1.1.1 ")
    c.sock.shutdown(socket.SHUT_WR)
    assert_closed_without_greeting(c)
    wait_session_line(mp, ip, ("in state: proxy protocol",))
    assert auth.requests == []
    mp.stop()


BAD_HEADERS = [
    ("imap command", b"A1 CAPABILITY\r\n"),
    ("http", b"GET / HTTP/1.0\r\n\r\n"),
    ("tls hello", b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + b"\x00" * 32),
    ("lower case", b"proxy TCP4 10.1.1.1 10.0.0.1 5555 143\r\n"),
    ("missing port", b"PROXY TCP4 10.1.1.1 10.0.0.1 5555\r\n"),
    ("extra field", b"PROXY TCP4 10.1.1.1 10.0.0.1 5555 143 1\r\n"),
    ("double space", b"PROXY TCP4  10.1.1.1 10.0.0.1 5555 143\r\n"),
    ("bad address", b"PROXY TCP4 300.1.1.1 10.0.0.1 5555 143\r\n"),
    ("family mismatch", b"PROXY TCP4 2001:db8::1 10.0.0.1 5555 143\r\n"),
    ("v6 in brackets", b"PROXY TCP6 [2001:db8::1] [2001:db8::2] 5555 143\r\n"),
    ("port too big", b"PROXY TCP4 10.1.1.1 10.0.0.1 65536 143\r\n"),
    ("port sign", b"PROXY TCP4 10.1.1.1 10.0.0.1 +555 143\r\n"),
    ("unknown proto", b"PROXY UDP4 10.1.1.1 10.0.0.1 5555 143\r\n"),
    ("bare LF", b"PROXY TCP4 10.1.1.1 10.0.0.1 5555 143\n"),
    ("NUL in line", b"PROXY TCP4 10.1.1.1\x00 10.0.0.1 5555 143\r\n"),
    ("CR LF injection", b"PROXY TCP4 10.1.1.1 10.0.0.1 5555 143\rX\r\n"),
    ("v1 too long", b"PROXY UNKNOWN " + b"A" * 120 + b"\r\n"),
    ("v2 version 1", v2(addr4("10.1.1.1", "10.0.0.1", 5555, 143), ver=1)),
    ("v2 version 3", v2(addr4("10.1.1.1", "10.0.0.1", 5555, 143), ver=3)),
    ("v2 command 2", v2(addr4("10.1.1.1", "10.0.0.1", 5555, 143), cmd=2)),
    ("v2 family 0x41", v2(addr4("10.1.1.1", "10.0.0.1", 5555, 143), fam=0x41)),
    ("v2 tcp4 short", v2(addr4("10.1.1.1", "10.0.0.1", 5555, 143)[:8])),
    ("v2 tcp6 short", v2(addr4("10.1.1.1", "10.0.0.1", 5555, 143), fam=0x21)),
    ("v2 tlv past end", v2(addr4("10.1.1.1", "10.0.0.1", 5555, 143) + b"\x01\x00\x05ab")),
    ("v2 tlv half header", v2(addr4("10.1.1.1", "10.0.0.1", 5555, 143) + b"\x04\x00")),
    # the length field alone says too much: refused with the 16 fixed bytes
    ("v2 length 65535", v2(b"", length=0xFFFF)),
    ("v2 over our limit", v2(addr4("10.1.1.1", "10.0.0.1", 5555, 143)
                             + tlv(TLV_NOOP, b"\0" * (1025 - 12 - 3)))),
    ("bad signature", b"\r\n\r\n\x00\r\nQUIX\n\x21\x11\x00\x0c" + b"\0" * 12),
]


@timeout(60)
def test_garbage_headers_close_without_greeting():
    auth = AuthServer(auth_fail()).start()
    mp, port = imap_proxy(auth.conf_url, listen_extra="proxy_protocol",
                          server_extra="set_real_ip_from 127.0.0.0/8;")
    for n, (what, data) in enumerate(BAD_HEADERS, 1):
        ip = client_ip()
        c = LineClient(port, source=ip)
        c.send(data)
        try:
            assert_closed_without_greeting(c)
        except AssertionError as e:
            raise AssertionError(f"{what}: {e}") from None
        wait_session_line(mp, ip, ("in state: proxy protocol",))
        got = len(re.findall(r"broken header: invalid PROXY protocol header", mp.log()))
        assert got == n, f"{what}: {got} 'broken header' lines after {n} bad headers"
    assert auth.requests == []
    # and it still serves a good one
    c = LineClient(port, source=client_ip())
    c.send(v1("TCP4", "10.9.9.9", "10.0.0.1", 5555, 143))
    imap_greeted(c)
    mp.stop()


def _good_headers(peer):
    """(what, header, Client-IP wanted, Proxy-Protocol-* wanted) for a client
    connecting from `peer` (trusted)."""
    a4 = addr4("10.20.30.40", "10.0.0.1", 5555, 143)
    a6 = addr6("2001:db8::7", "2001:db8::1", 6666, 993)
    pp4 = {"Proxy-Protocol-Addr": "10.20.30.40", "Proxy-Protocol-Port": "5555",
           "Proxy-Protocol-Server-Addr": "10.0.0.1", "Proxy-Protocol-Server-Port": "143"}
    pp6 = {"Proxy-Protocol-Addr": "2001:db8::7", "Proxy-Protocol-Port": "6666",
           "Proxy-Protocol-Server-Addr": "2001:db8::1", "Proxy-Protocol-Server-Port": "993"}
    tlvs = (tlv(TLV_ALPN, b"imap") + tlv(TLV_AUTHORITY, b"mail.example.test")
            + tlv(TLV_UNIQUE_ID, os.urandom(32)) + tlv(TLV_NOOP, b"")
            + tlv(TLV_SSL, b"\x07\x00\x00\x00\x00" + tlv(0x21, b"TLSv1.3"))
            + tlv(TLV_CRC32C, b"\xde\xad\xbe\xef")  # not checked, as the spec allows
            + tlv(0xE0, b"custom"))
    # exactly our limit: 16 + 1024 bytes
    big = v2(a4 + tlv(TLV_NOOP, b"\xff" * (1024 - 12 - 3)))
    assert len(big) == 16 + 1024
    return [
        ("v1 TCP4", v1("TCP4", "10.20.30.40", "10.0.0.1", 5555, 143), "10.20.30.40", pp4),
        ("v1 TCP6", v1("TCP6", "2001:db8::7", "2001:db8::1", 6666, 993), "2001:db8::7", pp6),
        ("v1 UNKNOWN", b"PROXY UNKNOWN\r\n", peer, NO_PP),
        ("v1 UNKNOWN with addresses", v1("UNKNOWN", "ffff::1", "ffff::2", 1, 2), peer, NO_PP),
        ("v1 port 0 and 65535", v1("TCP4", "10.20.30.40", "10.0.0.1", 0, 65535), "10.20.30.40",
         dict(pp4, **{"Proxy-Protocol-Port": "0", "Proxy-Protocol-Server-Port": "65535"})),
        ("v2 TCP4", v2(a4), "10.20.30.40", pp4),
        ("v2 TCP4 with TLVs", v2(a4 + tlvs), "10.20.30.40", pp4),
        ("v2 TCP6 with TLVs", v2(a6 + tlvs, fam=0x21), "2001:db8::7", pp6),
        ("v2 at the size limit", big, "10.20.30.40", pp4),
        ("v2 LOCAL", v2(b"", cmd=0, fam=0), peer, NO_PP),
        ("v2 LOCAL with addresses", v2(a4, cmd=0), peer, NO_PP),
        ("v2 LOCAL odd family", v2(b"xyz", cmd=0, fam=0x99), peer, NO_PP),
        ("v2 PROXY UNSPEC", v2(b"whatever", fam=0), peer, NO_PP),
        ("v2 UDP4", v2(a4, fam=0x12), peer, NO_PP),
        ("v2 UNIX stream", v2(b"/a".ljust(108, b"\0") + b"/b".ljust(108, b"\0"), fam=0x31),
         peer, NO_PP),
    ]


@timeout(60)
def test_hand_written_headers():
    """v1 and v2 headers written by hand, each from a trusted peer: the
    address that counts for auth_http and the Proxy-Protocol-* headers."""
    auth = AuthServer(auth_fail()).start()
    mp, port = imap_proxy(auth.conf_url, listen_extra="proxy_protocol",
                          server_extra="set_real_ip_from 127.0.0.0/8;")
    for what, header, want_ip, want_pp in _good_headers(peer=None):
        ip = client_ip()
        want_ip = want_ip or ip
        auth.reset()
        c = LineClient(port, source=ip)
        c.send(header)
        try:
            imap_greeted(c)
        except AssertionError as e:
            raise AssertionError(f"{what}: {e}") from None
        c.sendline("L LOGIN alice alicepw")
        assert c.read_tagged("L")[-1].startswith("L NO"), what
        req = auth.last
        assert req["Client-IP"] == want_ip, (what, req.raw)
        assert pp_headers(req) == want_pp, (what, req.raw)
        c.close()
        # the session line names the client the header gave (or the peer)
        wait_session_line(mp, want_ip if ":" not in want_ip else f"[{want_ip}]")
    mp.stop()


@timeout(30)
def test_header_split_across_reads():
    """A header that arrives in pieces: no greeting until it is complete."""
    auth = AuthServer(auth_fail()).start()
    mp, port = imap_proxy(auth.conf_url, listen_extra="proxy_protocol",
                          server_extra="set_real_ip_from 127.0.0.0/8;")
    for header in (v1("TCP4", "10.20.30.41", "10.0.0.1", 5555, 143),
                   v2(addr4("10.20.30.41", "10.0.0.1", 5555, 143) + tlv(TLV_NOOP, b"x" * 40))):
        ip = client_ip()
        c = LineClient(port, source=ip)
        c.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        for piece in (header[:1], header[1:7], header[7:14], header[14:-1]):
            c.send(piece)
            # nothing may come back before the header is complete
            assert c.read_available(0.15) == b"", header
        c.send(header[-1:])
        imap_greeted(c)
        c.sendline("L LOGIN alice alicepw")
        c.read_tagged("L")
        assert auth.last["Client-IP"] == "10.20.30.41"
    mp.stop()


@timeout(30)
def test_bytes_after_header_in_same_segment():
    """A command that arrives in the same read as the PROXY header is acted
    upon right after the greeting (it was once left in the buffer until the
    client sent more: epoll has nothing new to report for it)."""
    auth = AuthServer(auth_fail()).start()
    p_imap, p_smtp = free_port(), free_port()
    mp = Mproxy(f"""
    server_name {SERVER_NAME};
    auth_http {auth.conf_url};
    set_real_ip_from 127.0.0.0/8;
    {imap_server(f"127.0.0.1:{p_imap} proxy_protocol")}
    server {{ listen 127.0.0.1:{p_smtp} proxy_protocol; protocol smtp; }}
""")
    for header in (v1("TCP4", "10.20.30.42", "10.0.0.1", 5555, 143),
                   v2(addr4("10.20.30.42", "10.0.0.1", 5555, 143))):
        c = LineClient(p_imap, source=client_ip())
        c.send(header + b"A1 CAPABILITY\r\n")
        imap_greeted(c)
        lines = c.read_tagged("A1", timeout=3)
        assert lines[-1] == "A1 OK completed", lines
        c.close()
        c = LineClient(p_smtp, source=client_ip())
        c.send(header + b"NOOP\r\n")
        c.expect(SMTP_GREETING)
        c.expect("250 2.0.0 OK", timeout=3)
        c.close()
    mp.stop()


class BioTls:
    """TLS client over a plain socket through memory BIOs, so that the test
    decides how the bytes are cut into segments."""

    def __init__(self, sock, cafile):
        ctx = ssl.create_default_context(cafile=cafile)
        self.sock = sock
        self.inc, self.out = ssl.MemoryBIO(), ssl.MemoryBIO()
        self.obj = ctx.wrap_bio(self.inc, self.out, server_hostname="localhost")
        self.buf = b""

    def client_hello(self):
        try:
            self.obj.do_handshake()
        except ssl.SSLWantReadError:
            pass
        return self.out.read()

    def _feed(self):
        data = self.sock.recv(65536)
        assert data, "connection closed during TLS"
        self.inc.write(data)

    def handshake(self):
        while True:
            try:
                self.obj.do_handshake()
                break
            except ssl.SSLWantReadError:
                pending = self.out.read()
                if pending:
                    self.sock.sendall(pending)
                self._feed()
        pending = self.out.read()
        if pending:
            self.sock.sendall(pending)

    def sendline(self, line):
        self.obj.write(line.encode() + b"\r\n")
        self.sock.sendall(self.out.read())

    def readline(self):
        while b"\r\n" not in self.buf:
            try:
                self.buf += self.obj.read(65536)
            except ssl.SSLWantReadError:
                self._feed()
        line, _, self.buf = self.buf.partition(b"\r\n")
        return line.decode("latin-1")


@timeout(40)
def test_proxy_header_then_implicit_tls():
    """listen ... ssl proxy_protocol: the header comes first in plaintext,
    then the TLS handshake; a ClientHello in the same segment as the header
    must not be lost (HAProxy sends them together when the client is
    quick). Also through a real HAProxy."""
    auth = AuthServer(auth_fail()).start()
    cert, key = make_cert(tmpdir("mpt-crt-"))
    mp, port = imap_proxy(auth.conf_url, listen_extra="ssl proxy_protocol",
                          server_extra=f"set_real_ip_from 127.0.0.0/8; ssl_certificate {cert}; "
                                       f"ssl_certificate_key {key};")
    for header in (v1("TCP4", "10.20.30.60", "10.0.0.1", 5555, 993),
                   v2(addr4("10.20.30.60", "10.0.0.1", 5555, 993))):
        sock = socket.create_connection(("127.0.0.1", port), timeout=5,
                                        source_address=(client_ip(), 0))
        t = BioTls(sock, cert)
        sock.sendall(header + t.client_hello())  # one segment
        t.handshake()
        assert re.match(r"^\* OK \[CAPABILITY .*\] IMAP4 ready$", t.readline())
        t.sendline("L LOGIN alice alicepw")
        while not t.readline().startswith("L "):
            pass
        assert auth.last["Client-IP"] == "10.20.30.60", auth.last.raw
        sock.close()
    ha = HAProxy({"tls": (f"127.0.0.1:{port}", "send-proxy-v2")}).start()
    ip = client_ip()
    c = LineClient(ha.port["tls"], source=ip)
    c.wrap_tls(ssl.create_default_context(cafile=cert), server_hostname="localhost")
    imap_greeted(c)
    c.sendline("L LOGIN alice alicepw")
    c.read_tagged("L")
    assert auth.last["Client-IP"] == ip, auth.last.raw
    c.close()
    mp.stop()


@timeout(30)
def test_proxy_header_on_unix_listener():
    """set_real_ip_from unix: trusts clients of a unix socket (a local load
    balancer); without it their header is read and ignored."""
    auth = AuthServer(auth_fail()).start()
    d = tmpdir("mpt-ux-")
    trusted, untrusted = os.path.join(d, "t.sock"), os.path.join(d, "u.sock")
    mp = Mproxy(f"""
    server_name {SERVER_NAME};
    auth_http {auth.conf_url};
    {imap_server(f"unix:{trusted} proxy_protocol", "set_real_ip_from unix:;")}
    {imap_server(f"unix:{untrusted} proxy_protocol", "set_real_ip_from 127.0.0.0/8;")}
""")
    for path, header, want in ((trusted, v1("TCP4", "10.20.30.50", "10.0.0.1", 5555, 143),
                                "10.20.30.50"),
                               (trusted, v2(addr6("2001:db8::50", "2001:db8::1", 1, 2), fam=0x21),
                                "2001:db8::50"),
                               (untrusted, v1("TCP4", "10.20.30.51", "10.0.0.1", 5555, 143),
                                None)):
        s = socket.socket(socket.AF_UNIX)
        s.settimeout(5)
        s.connect(path)
        c = LineClient(sock=s)
        c.send(header)
        imap_greeted(c)
        c.sendline("L LOGIN alice alicepw")
        c.read_tagged("L")
        c.close()
        got = auth.last["Client-IP"]
        if want is None:
            assert got.startswith("unix:"), auth.last.raw
        else:
            assert got == want, auth.last.raw
    mp.wait_log(r"PROXY protocol header from unix:\S+ ignored: peer not in set_real_ip_from")
    mp.stop()


# ==============================================================================
# 2. PROXY protocol and ID toward Dovecot
# ==============================================================================

def wait_dovecot_login(proto, ip):
    """Dovecot's login line for alice from ip (rip=, the remote address it
    believes in); lip= is mproxy's address."""
    dovecot.wait_log(rf"{proto}-login: Info: Login: user=<alice>, method=PLAIN, "
                     rf"rip={re.escape(ip)}, lip=127\.0\.0\.1\b", 10)


def _pop3_login(port, ip, user="alice", password="alicepw"):
    c = LineClient(port, source=ip)
    c.expect_prefix("+OK")
    c.sendline(f"USER {user}")
    c.expect_prefix("+OK")
    c.sendline(f"PASS {password}")
    c.expect_prefix("+OK")
    c.sendline("QUIT")
    c.expect_prefix("+OK")
    c.close()


@timeout(60)
def test_proxy_protocol_to_dovecot():
    """proxy_protocol on|v2 toward Dovecot's haproxy=yes listeners: Dovecot
    logs the client's address (rip=) for IMAP and POP3. Without the header
    that listener drops the connection, so a login proves the header went."""
    for version in ("on", "v2"):
        imap_auth = users_auth(dovecot.imap_pp_port)
        pop3_auth = AuthServer(auth_users(USERS, dovecot.pop3_pp_port)).start()
        p_imap, p_pop3 = free_port(), free_port()
        mp = Mproxy(f"""
    server_name {SERVER_NAME};
    proxy_protocol {version};
    server {{ listen 127.0.0.1:{p_imap}; protocol imap; auth_http {imap_auth.conf_url}; }}
    server {{ listen 127.0.0.1:{p_pop3}; protocol pop3; auth_http {pop3_auth.conf_url};
              pop3_auth plain; }}
""")
        ip = client_ip()
        c = imap_greeted(LineClient(p_imap, source=ip))
        imap_login(c)
        c.sendline("S SELECT INBOX")
        assert c.read_tagged("S")[-1].startswith("S OK")
        imap_logout(c)
        wait_dovecot_login("imap", ip)
        ip = client_ip()
        _pop3_login(p_pop3, ip)
        wait_dovecot_login("pop3", ip)
        mp.stop()
        imap_auth.stop()
        pop3_auth.stop()


@timeout(60)
def test_behind_haproxy_dovecot_sees_the_header_address():
    """client -> HAProxy (send-proxy-v2) -> mproxy -> Dovecot: Dovecot logs
    the address from HAProxy's header, once through our own PROXY header and
    once through IMAP ID (proxy_client_id); neither HAProxy's nor mproxy's
    127.0.0.1."""
    pp_auth = users_auth(dovecot.imap_pp_port)
    id_auth = users_auth(dovecot.imap_port)
    p_pp, p_id = free_port(), free_port()
    mp = Mproxy(f"""
    server_name {SERVER_NAME};
    set_real_ip_from 127.0.0.1;
    {imap_server(f"127.0.0.1:{p_pp} proxy_protocol", "proxy_protocol v2;",
                 f"auth_http {pp_auth.conf_url};")}
    {imap_server(f"127.0.0.1:{p_id} proxy_protocol", "proxy_client_id on;",
                 f"auth_http {id_auth.conf_url};")}
""")
    ha = HAProxy({"pp": (f"127.0.0.1:{p_pp}", "send-proxy-v2"),
                  "id": (f"127.0.0.1:{p_id}", "send-proxy")}).start()
    for name, auth in (("pp", pp_auth), ("id", id_auth)):
        ip = client_ip()
        c = imap_greeted(LineClient(ha.port[name], source=ip))
        imap_login(c)
        assert auth.last["Client-IP"] == ip
        imap_logout(c)
        wait_dovecot_login("imap", ip)
    mp.stop()


# ==============================================================================
# 3. The SMTP client-name resolver
# ==============================================================================

def smtp_proxy(auth_url, resolver, resolver_timeout="2s", extra="", port=None, listen=None):
    port = port or free_port()
    block = f"""
    server_name {SERVER_NAME};
    auth_http {auth_url};
    server {{
        listen {listen or f"127.0.0.1:{port}"};
        protocol smtp;
        smtp_auth none;
        xclient on;
        resolver {resolver};
        resolver_timeout {resolver_timeout};
        {extra}
    }}
"""
    return Mproxy(block), port


def subject_mail(marker):
    return (f"From: {FROM}\r\nTo: {TO}\r\nSubject: {marker}\r\n"
            f"Message-ID: <{marker}@example.test>\r\n\r\nhello\r\n").encode()


def wait_mail(marker, timeout=20):
    d = postfix.out_dir
    needle = f"Subject: {marker}\n".encode()

    def find():
        for n in os.listdir(d):
            if n.endswith(".eml"):
                with open(os.path.join(d, n), "rb") as f:
                    data = f.read()
                if needle in data:
                    return data
        return None
    return wait_for(find, timeout, f"message {marker!r} through the Postfix pipe")


def send_mail(port, ip, marker, host="127.0.0.1"):
    s = smtplib.SMTP(host, port, local_hostname="client.example.test", timeout=30,
                     source_address=(ip, 0))
    s.sendmail(FROM, [TO], subject_mail(marker))
    s.quit()
    return wait_mail(marker)


def assert_received(data, name, ip):
    """Postfix's Received: line shows the name and address XCLIENT gave it
    (HELO name first, then "(NAME [ADDR])")."""
    want = f"Received: from client.example.test ({name} [{ip}])".encode()
    assert data.startswith(want), f"want {want!r}, got {data[:200]!r}"


@timeout(60)
def test_resolver_confirmed_name_to_auth_and_postfix():
    """dnsmasq: 127.0.0.21 has a PTR whose A matches -> Client-Host and
    XCLIENT NAME carry it; Postfix logs and stamps it. The liar (PTR name
    whose A is another address) and an unknown address -> [UNAVAILABLE]."""
    auth = AuthServer(auth_ok(postfix.smtp_port)).start()
    mp, port = smtp_proxy(auth.conf_url, dnsmasq.addr)
    cases = [("127.0.0.21", "client21.example.test"),
             ("127.0.0.50", "[UNAVAILABLE]"),   # PTR liar.example.test, A 127.0.0.77
             ("127.0.0.99", "[UNAVAILABLE]")]   # NXDOMAIN
    for ip, want in cases:
        marker = f"resolver-{ip}"
        data = send_mail(port, ip, marker)
        req = request_for(auth, ip)
        assert req["Client-Host"] == want, (ip, req.raw)
        assert req.wire_ok(), req.raw
        mp.wait_log(rf"client name: {re.escape(want)}$")
        shown = want if not want.startswith("[") else "unknown"
        assert_received(data, shown, ip)
        postfix.wait_log(rf"client={re.escape(shown)}\[{re.escape(ip)}\]$")
    # the liar was forward-checked (and failed), not taken on its PTR's word
    assert "query[A] liar.example.test" in dnsmasq.log(), dnsmasq.log()
    mp.stop()


@timeout(30)
def test_resolver_ipv6_client():
    """An IPv6 client: PTR under ip6.arpa, confirmed by AAAA."""
    auth = AuthServer(auth_fail("denied")).start()
    port = free_port()
    mp, _ = smtp_proxy(auth.conf_url, dnsmasq.addr, listen=f"[::1]:{port}", port=port)
    c = LineClient(port, host="::1")
    c.expect(SMTP_GREETING)
    c.sendline("EHLO client.example.test")
    while not c.readline().startswith("250 "):
        pass
    c.sendline(f"MAIL FROM:<{FROM}>")
    c.expect_prefix("250")
    c.sendline(f"RCPT TO:<{TO}>")
    c.readline()
    assert auth.last["Client-IP"] == "::1"
    assert auth.last["Client-Host"] == "v6.example.test", auth.last.raw
    assert "query[AAAA] v6.example.test" in dnsmasq.log(), dnsmasq.log()
    mp.stop()


@timeout(40)
def test_resolver_silent_gives_tempunavail():
    """A resolver that never answers: the greeting waits resolver_timeout,
    then Client-Host and XCLIENT NAME say [TEMPUNAVAIL]."""
    dns = FakeDNS(mode="silent").start()
    auth = AuthServer(auth_ok(postfix.smtp_port)).start()
    mp, port = smtp_proxy(auth.conf_url, dns.addr, resolver_timeout="1s")
    ip = client_ip()
    start = time.monotonic()
    c = LineClient(port, source=ip, timeout=10)
    c.expect(SMTP_GREETING)
    waited = time.monotonic() - start
    assert 0.8 <= waited < 5, waited
    assert dns.queries and dns.queries[0].qtype == "PTR", dns.queries
    c.close()
    data = send_mail(port, ip, "resolver-silent")
    assert request_for(auth, ip)["Client-Host"] == "[TEMPUNAVAIL]"
    assert_received(data, "unknown", ip)
    mp.wait_log(r"client name: \[TEMPUNAVAIL\]$")
    mp.stop()


@timeout(30)
def test_timers_after_an_idle_loop():
    """Regression (fixed in 348d65b): the I/O handlers ran with the clock of
    the loop's previous wakeup, so timers armed in them ended early by as
    long as the loop had been idle. After a quiet spell longer than
    `timeout`, a new client was closed right after its greeting; after one
    longer than resolver_timeout, the name lookup ended before a query was
    even sent."""
    dns = FakeDNS(mode="silent").start()
    auth = AuthServer(auth_fail()).start()
    p_imap, p_smtp = free_port(), free_port()
    mp = Mproxy(f"""
    server_name {SERVER_NAME};
    auth_http {auth.conf_url};
    {imap_server(f"127.0.0.1:{p_imap}", "timeout 2s;")}
    server {{
        listen 127.0.0.1:{p_smtp};
        protocol smtp;
        resolver {dns.addr};
        resolver_timeout 1s;
    }}
""")
    # The bug needs a loop that has been idle: there is no event to wait for
    # here, only time to let pass.
    time.sleep(2.5)
    c = imap_greeted(LineClient(p_imap, timeout=5))
    c.sendline("A1 CAPABILITY")
    assert c.read_tagged("A1")[-1] == "A1 OK completed"
    c.close()
    time.sleep(1.5)
    start = time.monotonic()
    c = LineClient(p_smtp, timeout=10)
    c.expect(SMTP_GREETING)
    waited = time.monotonic() - start
    assert dns.queries and dns.queries[0].qtype == "PTR", dns.queries
    assert waited >= 0.9, waited
    mp.stop()


HOSTILE_MODES = ("wrong_id", "wrong_question", "wrong_qtype", "not_response", "loop",
                 "forward_ptr", "oversize", "bad_rdlength", "short", "other_port", "garbage")


def _smtp_auth_request(port, ip, auth):
    """Greeting, EHLO, MAIL, RCPT (smtp_auth none: this asks auth_http);
    returns that auth request."""
    c = LineClient(port, source=ip, timeout=10)
    c.expect(SMTP_GREETING)
    c.sendline("EHLO client.example.test")
    while not c.readline().startswith("250 "):
        pass
    c.sendline(f"MAIL FROM:<{FROM}>")
    c.expect_prefix("250")
    c.sendline(f"RCPT TO:<{TO}>")
    c.readline()
    c.close()
    return request_for(auth, ip)


@timeout(60)
def test_behind_haproxy_smtp_resolver_and_xclient():
    """client -> HAProxy -> mproxy (SMTP, resolver) -> Postfix: the name is
    looked up for the address in HAProxy's header, and XCLIENT gives Postfix
    both."""
    auth = AuthServer(auth_ok(postfix.smtp_port)).start()
    port = free_port()
    mp, _ = smtp_proxy(auth.conf_url, dnsmasq.addr, port=port,
                       listen=f"127.0.0.1:{port} proxy_protocol",
                       extra="set_real_ip_from 127.0.0.1;")
    ha = HAProxy({"smtp": (f"127.0.0.1:{port}", "send-proxy-v2")}).start()
    ip = "127.0.0.22"
    data = send_mail(ha.port["smtp"], ip, "haproxy-resolver")
    req = request_for(auth, ip)
    assert req["Client-Host"] == "client22.example.test", req.raw
    assert req["Proxy-Protocol-Addr"] == ip, req.raw
    assert_received(data, "client22.example.test", ip)
    postfix.wait_log(r"client=client22\.example\.test\[127\.0\.0\.22\]$")
    assert "query[PTR] 22.0.0.127.in-addr.arpa" in dnsmasq.log(), dnsmasq.log()
    # HAProxy's own address was never looked up
    assert "query[PTR] 1.0.0.127.in-addr.arpa" not in dnsmasq.log(), dnsmasq.log()
    mp.stop()


@timeout(90)
def test_hostile_dns_answers_are_dropped():
    """Each hostile datagram (wrong ID, question or type, compression loop,
    forward pointer, oversize, bad length, short, from another port,
    garbage) is dropped: followed by the honest answer, the name is the
    honest one; alone, the lookup times out ([TEMPUNAVAIL]). Nothing the
    hostile answers said reaches auth_http, nothing of it is looked up, and
    mproxy keeps serving."""
    zone = {}
    for n in range(100, 140):
        zone[f"{n}.0.0.127.in-addr.arpa"] = {"PTR": f"h{n}.example.test"}
        zone[f"h{n}.example.test"] = {"A": [f"127.0.0.{n}"]}
    dns = FakeDNS(zone).start()
    auth = AuthServer(auth_fail("denied")).start()
    mp, port = smtp_proxy(auth.conf_url, dns.addr, resolver_timeout="500ms")
    n = 100
    for mode in HOSTILE_MODES:
        for then_answer in (True, False):
            ip = f"127.0.0.{n}"
            dns.set_mode(mode, then_answer=then_answer)
            req = _smtp_auth_request(port, ip, auth)
            want = f"h{n}.example.test" if then_answer else "[TEMPUNAVAIL]"
            assert req["Client-Host"] == want, (mode, then_answer, req.raw)
            n += 1
    dns.set_mode("truncated")
    ip = f"127.0.0.{n}"
    assert _smtp_auth_request(port, ip, auth)["Client-Host"] == "[TEMPUNAVAIL]"
    # the honest server still works afterwards
    dns.set_mode("answer")
    n += 1
    assert _smtp_auth_request(port, f"127.0.0.{n}", auth)["Client-Host"] == f"h{n}.example.test"
    for r in auth.requests:
        assert EVIL_PTR.encode() not in r.raw and EVIL_V4.encode() not in r.raw, r.raw
        assert r.wire_ok(), r.raw
    assert not [q for q in dns.queries if "evil" in q.name], dns.queries
    assert mp.alive()
    mp.stop()


@timeout(60)
def test_ptr_injection_never_reaches_auth_or_postfix():
    """CVE-2026-28753: a PTR target with CR LF, space, '[', a '.' inside a
    label or a NUL must never become Client-Host or XCLIENT NAME, and is not
    even looked up. The mail still goes through, as from an unnamed host."""
    bad = {
        160: b"\x08evil\r\nxx\x07example\x04test",
        161: b"\x0fevil name.test1\x07example\x04test",
        162: b"\x06[evil]\x07example\x04test",
        163: b"\x0aevil.inner\x07example\x04test",  # reads as evil.inner.example.test
        164: b"\x08evil\x00abc\x07example\x04test",
        165: b"\x0eevil:\x20X-Evil:1\x07example\x04test",
    }
    zone = {f"{n}.0.0.127.in-addr.arpa": {"PTR": v} for n, v in bad.items()}
    # were the dotted label flattened, this A record would confirm it
    zone["evil.inner.example.test"] = {"A": ["127.0.0.163"]}
    dns = FakeDNS(zone).start()
    auth = AuthServer(auth_ok(postfix.smtp_port)).start()
    mp, port = smtp_proxy(auth.conf_url, dns.addr)
    for n in bad:
        ip = f"127.0.0.{n}"
        data = send_mail(port, ip, f"ptr-injection-{n}")
        req = request_for(auth, ip)
        assert req["Client-Host"] in ("[UNAVAILABLE]", "[TEMPUNAVAIL]"), req.raw
        assert b"evil" not in req.raw.lower() and req.wire_ok(), req.raw
        assert_received(data, "unknown", ip)
        assert b"evil" not in data.lower(), data[:300]
        postfix.wait_log(rf"client=unknown\[{re.escape(ip)}\]$")
    assert "evil" not in postfix.log().lower()
    # only the PTRs were asked (resent once when the bad answer was dropped)
    assert {q.qtype for q in dns.queries} == {"PTR"}, dns.queries
    # nothing the PTRs said broke a log line in two
    assert all(LOG_LINE_RE.match(ln) for ln in mp.log().splitlines()), mp.log()
    mp.stop()


# ==============================================================================
# 4. allow / deny
# ==============================================================================

def expect_greeting(port, source=None, host="127.0.0.1", sock=None):
    c = LineClient(port, host=host, source=source, sock=sock)
    imap_greeted(c)
    c.close()


def expect_denied(mp, port=None, source=None, host="127.0.0.1", sock=None, who=None):
    c = LineClient(port, host=host, source=source, sock=sock)
    assert_closed_without_greeting(c)
    if who is not None:
        mp.wait_log(rf"access forbidden by rule, client: {re.escape(who)}")


@timeout(40)
def test_allow_deny_ipv4_first_match_and_inheritance():
    auth = AuthServer(auth_fail()).start()
    p1, p2, p3, p4 = (free_port() for _ in range(4))
    mp = Mproxy(f"""
    server_name {SERVER_NAME};
    auth_http {auth.conf_url};
    deny 127.1.4.4;
    {imap_server(f"127.0.0.1:{p1}", "allow 127.1.1.1; deny 127.1.1.0/24; allow all;")}
    {imap_server(f"127.0.0.1:{p2}", "deny 127.1.2.2; allow 127.1.2.2; deny all;")}
    {imap_server(f"127.0.0.1:{p3}")}
    {imap_server(f"127.0.0.1:{p4}", "allow 127.1.0.0/16; deny all;")}
""")
    # p1: an address allowed before its /24 is denied; others of the /24 not
    expect_greeting(p1, "127.1.1.1")
    expect_denied(mp, p1, "127.1.1.2", who="127.1.1.2:")
    expect_denied(mp, p1, "127.1.1.254", who="127.1.1.254:")
    expect_greeting(p1, "127.1.2.1")
    # p2: first match wins (deny before allow), and deny all at the end
    expect_denied(mp, p2, "127.1.2.2", who="127.1.2.2:")
    expect_denied(mp, p2, "127.1.2.3", who="127.1.2.3:")
    # p3: no rules of its own: the mail-level deny applies
    expect_denied(mp, p3, "127.1.4.4", who="127.1.4.4:")
    expect_greeting(p3, "127.1.4.5")
    # p4: its own rules replace the mail-level ones
    expect_greeting(p4, "127.1.4.4")
    expect_denied(mp, p4, "127.2.0.1", who="127.2.0.1:")
    line = mp.log_lines(r"access forbidden by rule, client: 127\.1\.4\.4:")[0]
    assert f"server: 127.0.0.1:{p3}" in line, line
    assert auth.requests == []
    mp.stop()


@timeout(30)
def test_allow_deny_ipv6():
    auth = AuthServer(auth_fail()).start()
    p1, p2, p3, p4 = (free_port() for _ in range(4))
    mp = Mproxy(f"""
    server_name {SERVER_NAME};
    auth_http {auth.conf_url};
    {imap_server(f"[::1]:{p1}", "deny ::1; allow ::/0;")}
    {imap_server(f"[::1]:{p2}", "allow ::1; deny all;")}
    {imap_server(f"[::1]:{p3}", "deny 127.0.0.0/8; deny 2001:db8::/32; allow all;")}
    {imap_server(f"[::1]:{p4}", "allow 2001:db8::/32; deny ::/0; allow all;")}
""")
    expect_denied(mp, p1, host="::1", who="[::1]:")
    expect_greeting(p2, host="::1")
    # IPv4 and other IPv6 rules do not match ::1
    expect_greeting(p3, host="::1")
    expect_denied(mp, p4, host="::1")
    assert len(mp.log_lines(r"access forbidden by rule, client: \[::1\]:")) == 2
    mp.stop()


@timeout(30)
def test_allow_deny_ipv4_rules_match_mapped_clients():
    """On a dual-stack listener an IPv4 client shows up as ::ffff:a.b.c.d;
    IPv4 rules still apply to it (as nginx's access module)."""
    auth = AuthServer(auth_fail()).start()
    port = free_port()
    mp = Mproxy(f"""
    server_name {SERVER_NAME};
    auth_http {auth.conf_url};
    {imap_server(f"[::]:{port} ipv6only=off", "deny 127.1.5.0/24; allow all;")}
""")
    expect_denied(mp, port, "127.1.5.5", who="[::ffff:127.1.5.5]:")
    expect_greeting(port, "127.1.6.6")
    mp.stop()


@timeout(30)
def test_allow_deny_unix_socket():
    auth = AuthServer(auth_fail()).start()
    d = tmpdir("mpt-ux-")
    s1, s2, s3, s4 = (os.path.join(d, f"s{i}.sock") for i in range(1, 5))
    mp = Mproxy(f"""
    server_name {SERVER_NAME};
    auth_http {auth.conf_url};
    {imap_server(f"unix:{s1}", "deny unix:; allow all;")}
    {imap_server(f"unix:{s2}", "deny 127.0.0.0/8; deny ::/0; allow unix:; deny all;")}
    {imap_server(f"unix:{s3}", "deny all;")}
    {imap_server(f"unix:{s4}", "allow 127.0.0.1; deny 127.0.0.0/8;")}
""")

    def ux(path):
        s = socket.socket(socket.AF_UNIX)
        s.settimeout(5)
        s.connect(path)
        return s

    expect_denied(mp, sock=ux(s1), who=f"unix:{s1}")
    expect_greeting(None, sock=ux(s2))
    expect_denied(mp, sock=ux(s3), who=f"unix:{s3}")
    expect_greeting(None, sock=ux(s4))  # no rule matches: allowed
    mp.stop()


@timeout(40)
def test_allow_deny_on_the_proxy_header_address():
    """Behind HAProxy, the rules see the address from the trusted header,
    not HAProxy's; from an untrusted peer, the peer's own."""
    auth = AuthServer(auth_fail()).start()
    p_trust, p_untrusted, p_hand = free_port(), free_port(), free_port()
    rules = "deny 127.0.0.1; deny 127.1.7.7; allow all;"
    mp = Mproxy(f"""
    server_name {SERVER_NAME};
    auth_http {auth.conf_url};
    {imap_server(f"127.0.0.1:{p_trust} proxy_protocol", "set_real_ip_from 127.0.0.1; " + rules)}
    {imap_server(f"127.0.0.1:{p_untrusted} proxy_protocol", rules)}
    {imap_server(f"127.0.0.1:{p_hand} proxy_protocol",
                 "set_real_ip_from 127.1.8.0/24; deny 10.66.0.0/16; deny 127.1.8.8; allow all;")}
""")
    ha = HAProxy({"trust": (f"127.0.0.1:{p_trust}", "send-proxy-v2"),
                  "untrusted": (f"127.0.0.1:{p_untrusted}", "send-proxy")}).start()
    # trusted: HAProxy's own 127.0.0.1 is denied, yet its clients get in...
    expect_greeting(ha.port["trust"], "127.1.7.6")
    # ...except the one the rules name
    expect_denied(mp, ha.port["trust"], "127.1.7.7", who="127.1.7.7:")
    # untrusted: the rules see HAProxy's address, whoever the client is
    expect_denied(mp, ha.port["untrusted"], "127.1.7.6", who="127.0.0.1:")
    # by hand, from a trusted peer whose own address is denied: the header counts
    c = LineClient(p_hand, source="127.1.8.8")
    c.send(v1("TCP4", "10.65.1.1", "10.0.0.1", 5555, 143))
    imap_greeted(c)
    c.close()
    c = LineClient(p_hand, source="127.1.8.9")
    c.send(v2(addr4("10.66.1.1", "10.0.0.1", 5555, 143)))
    assert_closed_without_greeting(c)
    mp.wait_log(r"access forbidden by rule, client: 10\.66\.1\.1:5555")
    # a LOCAL header keeps the peer's address, and the peer is denied
    c = LineClient(p_hand, source="127.1.8.8")
    c.send(v2(b"", cmd=0, fam=0))
    assert_closed_without_greeting(c)
    mp.wait_log(r"access forbidden by rule, client: 127\.1\.8\.8:")
    assert auth.requests == []
    mp.stop()


@timeout(30)
def test_denied_client_is_not_looked_up():
    """allow/deny comes first: a denied client costs no DNS query."""
    dns = FakeDNS({"8.9.1.127.in-addr.arpa": {"PTR": "h8.example.test"},
                   "h8.example.test": {"A": ["127.1.9.8"]}}).start()
    auth = AuthServer(auth_fail()).start()
    mp, port = smtp_proxy(auth.conf_url, dns.addr, extra="deny 127.1.9.9; allow all;")
    expect_denied(mp, port, "127.1.9.9", who="127.1.9.9:")
    c = LineClient(port, source="127.1.9.8")
    c.expect(SMTP_GREETING)
    c.close()
    assert [q.name for q in dns.queries] == ["8.9.1.127.in-addr.arpa", "h8.example.test"], \
        dns.queries
    mp.stop()
