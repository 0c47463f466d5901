"""Scripted DNS servers for tests (standard library only).

FakeDNS is a UDP name server on loopback that answers from a small zone
and, on request, misbehaves the ways dnsmasq will not: wrong IDs, wrong
questions, compression loops, truncated and oversize answers, answers
from another port, garbage, error codes, silence. Every query is recorded.

    zone = {"host.example.test": {"A": ["192.0.2.1"], "AAAA": ["2001:db8::1"]},
            "1.2.0.192.in-addr.arpa": {"PTR": "host.example.test"},
            "alias.example.test": {"CNAME": "host.example.test"}}
    dns = FakeDNS(zone).start()          # .addr "127.0.0.1:PORT", .port
    dns.set_mode("wrong_id", then_answer=True)
    ... dns.queries -> [Query(name, qtype, id, src_port)], dns.stop()

Modes (dns.mode):
    answer        the zone (NXDOMAIN for names not in it)
    silent        never answer
    servfail / refused / formerr / nxdomain   header-only answer with that RCODE
    truncated     TC set, no records
    wrong_id, wrong_question, wrong_qtype, not_response, loop, forward_ptr,
    oversize, bad_rdlength, short, other_port, garbage
                  one hostile datagram naming EVIL_V4 / EVIL_V6 / EVIL_PTR;
                  with then_answer=True the honest answer follows it
    hold_prev     keep each query; answer the previous one when the next comes
                  (a late answer to an earlier try)
A name's "PTR" may be str or bytes; bytes are raw wire labels (root
appended), to put '.' or CR LF inside a label.

DnsMasq runs the real thing per reference/test-peers.md section 4.

Both register with harness scopes when harness is importable, so they are
stopped at the end of the test or module that started them.
"""

import collections
import ipaddress
import os
import socket
import struct
import subprocess
import threading
import time

try:
    import harness
except ImportError:  # usable on its own, too
    harness = None

QTYPES = {"A": 1, "CNAME": 5, "PTR": 12, "AAAA": 28}
QTYPE_NAMES = {v: k for k, v in QTYPES.items()}
RCODES = {"formerr": 1, "servfail": 2, "nxdomain": 3, "refused": 5}
HOSTILE = ("wrong_id", "wrong_question", "wrong_qtype", "not_response", "loop",
           "forward_ptr", "oversize", "bad_rdlength", "short", "other_port", "garbage")
EVIL_V4 = "6.6.6.6"
EVIL_V6 = "2001:db8::666"
EVIL_PTR = "evil.example.test"
DNS_MSG_MAX = 512

Query = collections.namedtuple("Query", "name qtype id src_port")


def encode_name(name):
    """Presentation form (or raw bytes) to uncompressed wire form."""
    if isinstance(name, bytes):
        return name + b"\0"
    out = b""
    for label in name.rstrip(".").split("."):
        if label:
            raw = label.encode("latin-1")
            out += bytes([len(raw)]) + raw
    return out + b"\0"


def _rr(owner, qtype, ttl, value):
    if qtype == QTYPES["A"]:
        rdata = socket.inet_pton(socket.AF_INET, value)
    elif qtype == QTYPES["AAAA"]:
        rdata = socket.inet_pton(socket.AF_INET6, value)
    else:
        rdata = encode_name(value)
    return owner + struct.pack("!HHIH", qtype, 1, ttl, len(rdata)) + rdata


def parse_query(data):
    """(id, name, qtype, question_end) of a plain query, or None."""
    if len(data) < 17 or struct.unpack("!H", data[4:6])[0] != 1:
        return None
    off, labels = 12, []
    while off < len(data) and data[off] != 0:
        ln = data[off]
        if ln > 63 or off + 1 + ln > len(data):
            return None
        labels.append(data[off + 1:off + 1 + ln].decode("latin-1"))
        off += 1 + ln
    if off + 5 > len(data):
        return None
    qtype = struct.unpack("!H", data[off + 1:off + 3])[0]
    return struct.unpack("!H", data[:2])[0], ".".join(labels), qtype, off + 5


class FakeDNS:
    def __init__(self, zone=None, mode="answer", ttl=300, host="127.0.0.1", then_answer=False):
        self.zone = {k.lower().rstrip("."): v for k, v in (zone or {}).items()}
        self.mode = mode
        self.then_answer = then_answer
        self.ttl = ttl
        self.host = host
        self.queries = []
        self._held = None
        self._sock = None
        self._thread = None
        self._stop = threading.Event()
        self._lock = threading.Lock()
        if harness is not None:
            harness.register(self)

    # -- control --------------------------------------------------------------

    def start(self):
        fam = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        self._sock = socket.socket(fam, socket.SOCK_DGRAM)
        self._sock.bind((self.host, 0))
        self._sock.settimeout(0.05)
        self.port = self._sock.getsockname()[1]
        self.addr = f"[{self.host}]:{self.port}" if fam == socket.AF_INET6 else f"{self.host}:{self.port}"
        self._thread = threading.Thread(target=self._serve, name=f"FakeDNS:{self.port}", daemon=True)
        self._thread.start()
        return self

    def set_mode(self, mode, then_answer=False):
        with self._lock:
            self.mode = mode
            self.then_answer = then_answer

    def stop(self):
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)
            self._thread = None
        if self._sock is not None:
            self._sock.close()
            self._sock = None

    def _cleanup(self):
        self.stop()

    def diagnostics(self):
        return f"FakeDNS {getattr(self, 'addr', '?')} mode={self.mode} queries={self.queries!r}"

    def __repr__(self):
        return f"<FakeDNS {getattr(self, 'addr', '?')} {self.mode}>"

    # -- serving --------------------------------------------------------------

    def _serve(self):
        while not self._stop.is_set():
            try:
                data, src = self._sock.recvfrom(4096)
            except socket.timeout:
                continue
            except OSError:
                return
            q = parse_query(data)
            if q is None:
                continue
            qid, name, qtype, qend = q
            with self._lock:
                self.queries.append(Query(name, QTYPE_NAMES.get(qtype, qtype), qid, src[1]))
                mode, then = self.mode, self.then_answer
            try:
                self._respond(mode, then, data, q, src)
            except OSError:
                pass

    def _send(self, pkt, src):
        self._sock.sendto(pkt, src)

    def _respond(self, mode, then, data, q, src):
        qid, name, qtype, qend = q
        if mode == "silent":
            return
        if mode in RCODES:
            self._send(self._header(data, qend, RCODES[mode]), src)
            return
        if mode == "truncated":
            self._send(self._header(data, qend, 0, tc=True), src)
            return
        if mode == "hold_prev":
            if self._held is not None:
                hdata, hq, hsrc = self._held
                self._send(self.answer(hdata, hq), hsrc)
            self._held = (data, q, src)
            return
        if mode in HOSTILE:
            self._hostile(mode, data, q, src)
            if not then:
                return
        self._send(self.answer(data, q), src)

    @staticmethod
    def _header(data, qend, rcode, tc=False, ancount=0):
        flags = 0x8180 | rcode | (0x0200 if tc else 0)
        return data[:2] + struct.pack("!HHHHH", flags, 1, ancount, 0, 0) + data[12:qend]

    def answer(self, data, q):
        """The honest answer from the zone (one CNAME level)."""
        qid, name, qtype, qend = q
        key = name.lower().rstrip(".")
        rrs = []
        node = self.zone.get(key)
        owner = b"\xc0\x0c"
        if node is not None and "CNAME" in node and qtype != QTYPES["CNAME"]:
            rrs.append(_rr(owner, QTYPES["CNAME"], self.ttl, node["CNAME"]))
            owner = encode_name(node["CNAME"])
            node = self.zone.get(node["CNAME"].lower().rstrip("."))
        if node is None and not rrs:
            return self._header(data, qend, RCODES["nxdomain"])
        want = QTYPE_NAMES.get(qtype)
        values = (node or {}).get(want, [])
        if isinstance(values, (str, bytes)):
            values = [values]
        for v in values:
            rrs.append(_rr(owner, qtype, self.ttl, v))
        return self._header(data, qend, 0, ancount=len(rrs)) + b"".join(rrs)

    def _evil(self, data, q):
        qid, name, qtype, qend = q
        value = {QTYPES["PTR"]: EVIL_PTR, QTYPES["AAAA"]: EVIL_V6}.get(qtype, EVIL_V4)
        rtype = qtype if qtype in (QTYPES["PTR"], QTYPES["AAAA"]) else QTYPES["A"]
        return bytearray(self._header(data, qend, 0, ancount=1) + _rr(b"\xc0\x0c", rtype, 300, value))

    def _hostile(self, mode, data, q, src):
        qid, name, qtype, qend = q
        pkt = self._evil(data, q)
        if mode == "wrong_id":
            pkt[0:2] = struct.pack("!H", qid ^ 0x0100)
        elif mode == "wrong_question":
            pkt[13] = ord("q") if pkt[13] != ord("q") else ord("z")
        elif mode == "wrong_qtype":
            other = QTYPES["AAAA"] if qtype == QTYPES["A"] else QTYPES["A"]
            pkt[qend - 4:qend - 2] = struct.pack("!H", other)
        elif mode == "not_response":
            pkt[2:4] = struct.pack("!H", 0x0180)
        elif mode == "loop":
            pkt = bytearray(self._header(data, qend, 0, ancount=1))
            at = len(pkt)
            pkt += struct.pack("!HHHIH", 0xC000 | at, qtype, 1, 300, 4) + socket.inet_aton(EVIL_V4)
        elif mode == "forward_ptr":
            pkt = bytearray(self._header(data, qend, 0, ancount=1))
            at = len(pkt)
            pkt += struct.pack("!H", 0xC000 | (at + 2)) + encode_name(name)
            pkt += struct.pack("!HHIH", qtype, 1, 300, 4) + socket.inet_aton(EVIL_V4)
        elif mode == "oversize":
            rr = _rr(b"\xc0\x0c", QTYPES["A"], 300, EVIL_V4)
            n = 1
            while len(pkt) <= DNS_MSG_MAX:
                pkt += rr
                n += 1
            pkt[6:8] = struct.pack("!H", n)
        elif mode == "bad_rdlength":
            pkt[qend + 10:qend + 12] = struct.pack("!H", 200)
        elif mode == "short":
            pkt = pkt[:5]
        elif mode == "other_port":
            with socket.socket(self._sock.family, socket.SOCK_DGRAM) as s:
                s.bind((self.host, 0))
                s.sendto(bytes(pkt), src)
            return
        elif mode == "garbage":
            for i in range(50):
                self._send(os.urandom(12 + i), src)
            return
        self._send(bytes(pkt), src)


class DnsMasq:
    """dnsmasq on 127.0.0.1 with a hosts file, PTR-only and A-only records
    (reference/test-peers.md section 4). hosts: [(ip, name), ...];
    ptr_records: [(ip, name)]; host_records: [(name, ip)]."""

    def __init__(self, hosts=(), ptr_records=(), host_records=(), ttl=0):
        self.hosts = list(hosts)
        self.ptr_records = list(ptr_records)
        self.host_records = list(host_records)
        self.ttl = ttl
        self.proc = None
        self.dir = None
        if harness is not None:
            harness.register(self)

    def start(self, timeout=5.0):
        import tempfile
        self.dir = tempfile.mkdtemp(prefix="mpt-dns-", dir="/tmp")
        os.chmod(self.dir, 0o755)
        with open(os.path.join(self.dir, "hosts"), "w") as f:
            for ip, name in self.hosts:
                f.write(f"{ip} {name}\n")
        last = ""
        for _ in range(10):
            self.port = _free_udp_port()
            argv = ["dnsmasq", "--conf-file=/dev/null", "--keep-in-foreground",
                    "--log-facility=-", "--log-queries", f"--port={self.port}",
                    "--listen-address=127.0.0.1", "--bind-interfaces", "--no-resolv",
                    "--no-hosts", f"--addn-hosts={self.dir}/hosts",
                    f"--pid-file={self.dir}/dnsmasq.pid", "--user=nobody", "--group=nogroup",
                    "--local=/example.test/", "--local=/in-addr.arpa/", "--local=/ip6.arpa/",
                    f"--local-ttl={self.ttl}"]
            for ip, name in self.ptr_records:
                argv.append(f"--ptr-record={ipaddress.ip_address(ip).reverse_pointer},{name}")
            for name, ip in self.host_records:
                argv.append(f"--host-record={name},{ip}")
            self.log_path = os.path.join(self.dir, "dnsmasq.log")
            out = open(self.log_path, "wb")
            self.proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL)
            out.close()
            if self._ready(timeout):
                self.addr = f"127.0.0.1:{self.port}"
                return self
            last = self.log()
            self.stop()
            if "Address already in use" not in last:
                break
        raise AssertionError(f"dnsmasq did not start:\n{last}")

    def _ready(self, timeout):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return False
            q = struct.pack("!HHHHHH", 0x4242, 0x0100, 1, 0, 0, 0) + encode_name("ready.example.test")
            q += struct.pack("!HH", 1, 1)
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
                s.settimeout(0.1)
                try:
                    s.sendto(q, ("127.0.0.1", self.port))
                    if s.recv(512)[:2] == b"\x42\x42":
                        return True
                except OSError:
                    time.sleep(0.02)
        return False

    def log(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except (OSError, AttributeError):
            return ""

    def stop(self):
        if self.proc is not None:
            if self.proc.poll() is None:
                self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
            self.proc = None

    def _cleanup(self):
        self.stop()
        if self.dir and not (harness is not None and harness.KEEP):
            import shutil
            shutil.rmtree(self.dir, ignore_errors=True)

    def diagnostics(self):
        return "dnsmasq log:\n" + "\n".join(self.log().splitlines()[-15:])

    def __repr__(self):
        return f"<DnsMasq {getattr(self, 'port', '?')}>"


def _free_udp_port():
    """A port free for both UDP and TCP on 127.0.0.1 a moment ago (dnsmasq binds both)."""
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
            u.bind(("127.0.0.1", 0))
            port = u.getsockname()[1]
            with socket.socket() as t:
                try:
                    t.bind(("127.0.0.1", port))
                except OSError:
                    continue
                return port
    raise AssertionError("no free port")
