"""Shared fixtures for mproxy's integration tests (standard library only).

Everything a test starts registers itself in the current *scope*; test/run.py
opens a scope per module (for setup_module) and one per test, and closes it
afterwards, so processes, servers and temp dirs go away even when a test fails
or times out. Recipes for the peers: /work/shared/reference/test-peers.md.

Quick reference (see each docstring):
    timeout(s)                    decorator: per-test time limit for run.py
    free_port(), tmpdir(), client_ip(), wait_for(cond, timeout, what)
    make_ca(dir), make_cert(dir, ...)      -> (cert_path, key_path)
    Dovecot(users).start()        .imap_port .pop3_port .imaps_port .imap_pp_port ...
                                  .deliver(user, data) .log() .stop()
    Postfix(dovecot=None).start() .smtp_port .wait_message(timeout) .log() .stop()
    AuthServer(policy).start()    .conf_url .requests .connections .set_policy()
        policies: auth_ok, auth_fail, auth_users, auth_garbage, STALL, CLOSE
    Mproxy(mail_block, top='')    .log() .stderr() .wait_log(re) .signal() .stop()
    run_mproxy(args)              one-shot CLI run (sanitizer output checked)
    LineClient(port)              raw protocol client: send/sendline/expect/...
    TcpServer(handler)            scripted peer (fake backend / auth server)
    IMAP4(port, source=...)       imaplib client bound to a chosen source IP
"""

import atexit
import base64
import email.utils
import hashlib
import hmac
import imaplib
import ipaddress
import itertools
import os
import re
import shutil
import signal
import socket
import socketserver
import subprocess
import tempfile
import threading
import time
import urllib.parse

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MAIL_UID = 65534  # nobody:nogroup; Dovecot refuses uid 0 for mail users
KEEP = os.environ.get("MPT_KEEP") == "1"  # keep temp dirs for post-mortem

# Text that means a sanitizer fired in a child process (ASan, LSan, UBSan).
SANITIZER_RE = re.compile(
    r"ERROR: (AddressSanitizer|LeakSanitizer|UndefinedBehaviorSanitizer)|runtime error:"
    r"|==\d+== (Invalid (read|write|free)|Conditional jump|Use of uninitialised"
    r"|Syscall param|Mismatched free|Source and destination overlap)"
    r"|==\d+== +(definitely|indirectly) lost: [1-9]")

# MPROXY_WRAP runs every mproxy under a tool, e.g. valgrind (make valgrind).
WRAP = os.environ.get("MPROXY_WRAP", "").split()
# Under such a tool everything mproxy does is many times slower: tests that
# bound a latency scale it by this.
SLOW = 20 if os.environ.get("MPT_SLOW") else 1

LOG_LINE_RE = re.compile(
    r"^\d{4}/\d\d/\d\d \d\d:\d\d:\d\d "
    r"\[(debug|info|notice|warn|error|crit|alert|emerg)\] \d+#0: ")


def mproxy_path():
    return os.environ.get("MPROXY") or os.path.join(REPO, "mproxy")


def sanitizer_build():
    """True when the binary under test is an ASan/UBSan build (make check)."""
    return bool(os.environ.get("ASAN_OPTIONS"))


class Unavailable(AssertionError):
    """A prerequisite is missing (run.py prints the message, no traceback)."""


def require_mproxy():
    path = mproxy_path()
    if not (os.path.isfile(path) and os.access(path, os.X_OK)):
        raise Unavailable(
            f"mproxy binary not found or not executable: {path} "
            "(set MPROXY=/abs/path/mproxy or run `make`)")
    return path


# ---------------------------------------------------------------------------
# Scopes: clean-up of everything a module or a test started.

_scopes = [[]]          # stack; [0] is the process-wide scope (atexit)
_sanitizer_hits = []    # (what, excerpt) found in child output since last take


def _register(obj):
    _scopes[-1].append(obj)
    return obj


def register(obj):
    """Have obj._cleanup() called at the end of the current scope (test or
    module); obj.diagnostics() -> str, if defined, is shown on failure."""
    return _register(obj)


def push_scope():
    _scopes.append([])


def pop_scope():
    """Clean up everything registered since the matching push_scope(), newest
    first. Returns a list of error strings (clean-up must not raise)."""
    items = _scopes.pop() if len(_scopes) > 1 else _scopes[0]
    errors = []
    while items:
        obj = items.pop()
        try:
            obj._cleanup()
        except BaseException as e:  # noqa: B902 - clean-up goes on regardless
            errors.append(f"clean-up of {obj!r} failed: {e!r}")
    return errors


def scope_diagnostics():
    """Tails of the logs of everything in the current scope (for failures)."""
    out = []
    for obj in _scopes[-1]:
        diag = getattr(obj, "diagnostics", None)
        if diag is None:
            continue
        try:
            text = diag()
        except Exception as e:  # noqa: BLE001
            text = f"(diagnostics failed: {e!r})"
        if text:
            out.append(text)
    return "\n".join(out)


def note_sanitizer_output(what, text):
    """Record sanitizer reports found in a child's output."""
    if not text:
        return
    m = SANITIZER_RE.search(text)
    if m:
        start = text.rfind("\n", 0, max(0, m.start() - 200)) + 1
        _sanitizer_hits.append((what, text[start:start + 1500]))


def take_sanitizer_hits():
    hits = list(_sanitizer_hits)
    _sanitizer_hits.clear()
    return hits


@atexit.register
def _cleanup_everything():
    while len(_scopes) > 1:
        pop_scope()
    pop_scope()


class _Pid:
    """A process we did not spawn ourselves (e.g. a daemonised mproxy)."""

    def __init__(self, pid):
        self.pid = pid

    def _cleanup(self):
        if pid_alive(self.pid):
            try:
                os.kill(self.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass

    def __repr__(self):
        return f"<pid {self.pid}>"


def track_pid(pid):
    """Kill this pid at the end of the current scope if it still runs."""
    _register(_Pid(pid))


def pid_alive(pid):
    """True if pid runs and is not a zombie (PID 1 here reaps late)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
        return state not in ("Z", "X")
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return False


# ---------------------------------------------------------------------------
# Small utilities.

def timeout(seconds):
    """Decorator: run.py fails the test with "timeout" after `seconds`."""
    def deco(fn):
        fn.timeout = seconds
        return fn
    return deco


def free_port():
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def closed_port():
    """A port with nothing listening (connect gets ECONNREFUSED)."""
    return free_port()


class _TmpDir:
    def __init__(self, path):
        self.path = path

    def _cleanup(self):
        if not KEEP:
            shutil.rmtree(self.path, ignore_errors=True)

    def __repr__(self):
        return f"<tmpdir {self.path}>"


def tmpdir(prefix="mpt-"):
    """A fresh 0755 directory under /tmp (short path: unix sockets live there),
    removed at the end of the current scope (MPT_KEEP=1 keeps it)."""
    path = tempfile.mkdtemp(prefix=prefix, dir="/tmp")
    os.chmod(path, 0o755)
    _register(_TmpDir(path))
    return path


_client_ips = itertools.count(1)


def client_ip():
    """A loopback source address not used before in this run (127.0.x.y), so
    each test can find its own session in the logs and peers see distinct
    clients (Dovecot's per-IP penalties)."""
    n = next(_client_ips)
    return f"127.0.{1 + (n // 250) % 250}.{1 + n % 250}"


def wait_for(cond, timeout=5.0, what="condition", interval=0.02):
    """Poll cond() until it returns something truthy; return that value.
    Raises AssertionError naming `what` at the deadline."""
    deadline = time.monotonic() + timeout
    while True:
        v = cond()
        if v:
            return v
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


def write_file(path, data, mode=None):
    if isinstance(data, str):
        data = data.encode()
    with open(path, "wb") as f:
        f.write(data)
    if mode is not None:
        os.chmod(path, mode)
    return path


def read_text(path):
    try:
        with open(path, "rb") as f:
            return f.read().decode("utf-8", "replace")
    except FileNotFoundError:
        return ""


def tail(text, n=15):
    lines = text.rstrip("\n").split("\n")
    return "\n".join(lines[-n:]) if text else ""


def run(cmd, timeout=30, check=False, **kw):
    """subprocess.run with captured text output and a time limit."""
    kw.setdefault("capture_output", True)
    kw.setdefault("text", True)
    kw.setdefault("stdin", subprocess.DEVNULL)
    r = subprocess.run(cmd, timeout=timeout, **kw)
    if check and r.returncode != 0:
        raise AssertionError(f"{cmd!r} exited {r.returncode}\n{r.stdout}\n{r.stderr}")
    return r


def tcp_listening(port, host="127.0.0.1"):
    """True if some socket listens on host:port (from /proc, so no connection
    is made: a probe connection would show up as a session in mproxy's log)."""
    v6 = ":" in host
    try:
        addr = ipaddress.ip_address(host)
    except ValueError:
        addr = None
    files = ["/proc/net/tcp6"] if v6 else ["/proc/net/tcp", "/proc/net/tcp6"]
    for fn in files:
        try:
            with open(fn) as f:
                next(f)
                for line in f:
                    parts = line.split()
                    local, state = parts[1], parts[3]
                    if state != "0A":
                        continue
                    a, p = local.split(":")
                    if int(p, 16) != port:
                        continue
                    if addr is None or _proc_addr_matches(a, addr):
                        return True
        except FileNotFoundError:
            return _connect_probe(host, port)
    return False


def _proc_addr_matches(hexaddr, addr):
    raw = bytes.fromhex(hexaddr)
    if len(raw) == 4:
        got = ipaddress.IPv4Address(raw[::-1])
    else:
        words = [raw[i:i + 4][::-1] for i in range(0, 16, 4)]
        got = ipaddress.IPv6Address(b"".join(words))
        if got.ipv4_mapped:
            got = got.ipv4_mapped
    if got.is_unspecified:
        return got.version == addr.version or got.version == 6
    return got == addr


def unix_listening(path):
    try:
        with open("/proc/net/unix") as f:
            next(f)
            for line in f:
                parts = line.split()
                # Flags 00010000 = __SO_ACCEPTCON (a listening socket)
                if len(parts) >= 8 and parts[-1] == path and int(parts[3], 16) & 0x10000:
                    return True
    except FileNotFoundError:
        with socket.socket(socket.AF_UNIX) as s:
            try:
                s.connect(path)
                return True
            except OSError:
                return False
    return False


def _connect_probe(host, port):
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def wait_port(port, host="127.0.0.1", timeout=10.0, proc=None):
    """Wait until host:port listens; fail early if `proc` exits meanwhile."""
    def ready():
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"process exited with {proc.returncode} "
                                 f"before {host}:{port} was listening")
        return tcp_listening(port, host)
    wait_for(ready, timeout, f"{host}:{port} to listen")


def wait_port_closed(port, host="127.0.0.1", timeout=10.0):
    wait_for(lambda: not tcp_listening(port, host), timeout,
             f"{host}:{port} to stop listening")


# ---------------------------------------------------------------------------
# Certificates.

def make_ca(directory, cn="mproxy test CA"):
    """A self-signed CA: returns (cert_path, key_path)."""
    cert = os.path.join(directory, "ca.pem")
    key = os.path.join(directory, "ca.key")
    run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key,
         "-out", cert, "-days", "2", "-subj", f"/CN={cn}",
         "-addext", "basicConstraints=critical,CA:TRUE",
         "-addext", "keyUsage=critical,keyCertSign,cRLSign"], check=True)
    return cert, key


def make_cert(directory, name="server", cn="localhost",
              san="DNS:localhost,IP:127.0.0.1", ca=None, key_type="rsa:2048",
              client=False):
    """A certificate + key (key is 0600). Self-signed unless ca=(cert, key).
    key_type: "rsa:2048" or "ec" (P-256). Returns (cert_path, key_path)."""
    cert = os.path.join(directory, f"{name}.pem")
    key = os.path.join(directory, f"{name}.key")
    newkey = ["-newkey", key_type]
    if key_type == "ec":
        newkey = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"]
    eku = "clientAuth" if client else "serverAuth"
    if ca is None:
        run(["openssl", "req", "-x509", *newkey, "-nodes", "-keyout", key, "-out", cert,
             "-days", "2", "-subj", f"/CN={cn}", "-addext", f"subjectAltName={san}"],
            check=True)
    else:
        csr = os.path.join(directory, f"{name}.csr")
        ext = os.path.join(directory, f"{name}.ext")
        write_file(ext, f"subjectAltName={san}\nextendedKeyUsage={eku}\n")
        run(["openssl", "req", "-new", *newkey, "-nodes", "-keyout", key, "-out", csr,
             "-subj", f"/CN={cn}"], check=True)
        run(["openssl", "x509", "-req", "-in", csr, "-CA", ca[0], "-CAkey", ca[1],
             "-CAcreateserial", "-out", cert, "-days", "2", "-extfile", ext], check=True)
    os.chmod(key, 0o600)
    return cert, key


# ---------------------------------------------------------------------------
# Processes.

class _Proc:
    """A child started in its own session, killed with its group on clean-up."""

    def __init__(self, argv, out_path, err_path, cwd=None, env=None):
        self.argv = argv
        self.out_path = out_path
        self.err_path = err_path
        out = open(out_path, "wb")
        err = open(err_path, "wb")
        try:
            self.popen = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out,
                                          stderr=err, cwd=cwd, env=env,
                                          start_new_session=True)
        finally:
            out.close()
            err.close()
        self.pid = self.popen.pid

    def poll(self):
        return self.popen.poll()

    def signal(self, sig):
        if self.popen.poll() is None:
            self.popen.send_signal(sig)

    def wait(self, timeout):
        return self.popen.wait(timeout)

    def terminate(self, timeout=10.0):
        """SIGTERM, wait; SIGKILL the group if it does not go. Returns rc."""
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill()
        self.kill_group()
        return self.popen.returncode

    def kill(self):
        if self.popen.poll() is None:
            try:
                self.popen.kill()
            except ProcessLookupError:
                pass
            try:
                self.popen.wait(5)
            except subprocess.TimeoutExpired:
                pass

    def kill_group(self):
        try:
            os.killpg(self.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass


# ---------------------------------------------------------------------------
# Dovecot (test-peers.md section 1).

DEFAULT_USERS = {"alice": "alicepw", "bob": "bobpw"}


class Dovecot:
    """A private Dovecot: IMAP/POP3 plain, PROXY-protocol and implicit-TLS
    listeners on free loopback ports, PLAIN passwords (CRAM-MD5/APOP work),
    Maildir per user. All built-in listener names are redefined so nothing
    binds 143/110/993/995.

        d = Dovecot({'alice': 'alicepw'}).start()
        d.imap_port, d.imap_pp_port, d.imaps_port, d.pop3_port, d.pop3_pp_port,
        d.pop3s_port, d.cert, d.key, d.auth_socket (for Postfix SASL)
        d.deliver('alice', b'Subject: x\\r\\n\\r\\nbody\\r\\n')
    """

    def __init__(self, users=None, extra_conf="", cert=None):
        self.users = dict(DEFAULT_USERS if users is None else users)
        self.extra_conf = extra_conf
        self.dir = tmpdir("mpt-dc-")
        self.cert, self.key = cert if cert else make_cert(self.dir)
        self.conf = os.path.join(self.dir, "dovecot.conf")
        self.log_path = os.path.join(self.dir, "dovecot.log")
        self.auth_socket = os.path.join(self.dir, "run", "auth-postfix")
        self.proc = None
        self._seq = itertools.count(1)
        _register(self)

    def maildir(self, user):
        return os.path.join(self.dir, "mail", user, "Maildir")

    def _write_config(self):
        for sub in ("run", "state"):
            os.makedirs(os.path.join(self.dir, sub), exist_ok=True)
        lines = []
        for user, pw in self.users.items():
            if ":" in user or ":" in pw or "\n" in pw:
                raise ValueError(f"user/password unusable in passwd-file: {user!r}")
            home = os.path.join(self.dir, "mail", user)
            lines.append(f"{user}:{{PLAIN}}{pw}:{MAIL_UID}:{MAIL_UID}::{home}\n")
            for sub in ("cur", "new", "tmp"):
                os.makedirs(os.path.join(home, "Maildir", sub), exist_ok=True)
        write_file(os.path.join(self.dir, "passwd"), "".join(lines), 0o644)
        for root, dirs, files in os.walk(os.path.join(self.dir, "mail")):
            os.chown(root, MAIL_UID, MAIL_UID)
            for f in files:
                os.chown(os.path.join(root, f), MAIL_UID, MAIL_UID)
        os.chown(os.path.join(self.dir, "mail"), MAIL_UID, MAIL_UID)
        d = self.dir
        conf = f"""\
protocols = imap pop3
listen = 127.0.0.1
base_dir = {d}/run
state_dir = {d}/state
log_path = {self.log_path}
default_login_user = dovenull
default_internal_user = dovecot
disable_plaintext_auth = no
auth_mechanisms = plain login cram-md5 apop
auth_failure_delay = 0
auth_verbose = yes
mail_max_userip_connections = 1000
login_trusted_networks = 127.0.0.0/8
haproxy_trusted_networks = 127.0.0.0/8
ssl = yes
ssl_cert = <{self.cert}
ssl_key = <{self.key}
mail_location = maildir:~/Maildir
passdb {{
  driver = passwd-file
  args = scheme=PLAIN {d}/passwd
}}
userdb {{
  driver = passwd-file
  args = {d}/passwd
}}
service imap-login {{
  inet_listener imap {{
    port = {self.imap_port}
  }}
  inet_listener imap_pp {{
    port = {self.imap_pp_port}
    haproxy = yes
  }}
  inet_listener imaps {{
    port = {self.imaps_port}
    ssl = yes
  }}
}}
service pop3-login {{
  inet_listener pop3 {{
    port = {self.pop3_port}
  }}
  inet_listener pop3_pp {{
    port = {self.pop3_pp_port}
    haproxy = yes
  }}
  inet_listener pop3s {{
    port = {self.pop3s_port}
    ssl = yes
  }}
}}
service auth {{
  unix_listener auth-postfix {{
    mode = 0666
  }}
}}
{self.extra_conf}
"""
        write_file(self.conf, conf)

    def start(self, timeout=15.0):
        """Start in the foreground; ready when both greetings arrive. A taken
        port makes Dovecot exit 89: then retry on other ports."""
        for attempt in range(4):
            (self.imap_port, self.imap_pp_port, self.imaps_port, self.pop3_port,
             self.pop3_pp_port, self.pop3s_port) = (free_port() for _ in range(6))
            self._write_config()
            self.proc = _Proc(["dovecot", "-F", "-c", self.conf],
                              os.path.join(self.dir, "stdout"),
                              os.path.join(self.dir, "stderr"))
            try:
                self._wait_ready(timeout)
                return self
            except AssertionError:
                rc = self.proc.poll()
                self.proc.terminate(5)
                if rc == 89 and attempt < 3:
                    continue
                raise AssertionError(
                    f"Dovecot did not start (rc={rc}):\n"
                    f"{tail(read_text(self.proc.err_path))}\n{tail(self.log())}")
        raise AssertionError("Dovecot: no free ports")

    def _wait_ready(self, timeout):
        deadline = time.monotonic() + timeout
        for port, want in ((self.imap_port, b"ready"), (self.pop3_port, b"+OK")):
            while True:
                if self.proc.poll() is not None:
                    raise AssertionError("dovecot exited")
                if time.monotonic() > deadline:
                    raise AssertionError("dovecot greeting timeout")
                try:
                    with socket.create_connection(("127.0.0.1", port), timeout=2) as s:
                        greeting = s.recv(1024)
                    if want in greeting:
                        break
                except OSError:
                    pass
                time.sleep(0.02)

    def stop(self):
        if self.proc is not None:
            self.proc.terminate(10)
            self.proc = None

    def _cleanup(self):
        self.stop()

    def log(self):
        return read_text(self.log_path)

    def wait_log(self, regex, timeout=5.0):
        r = re.compile(regex, re.M)
        return wait_for(lambda: r.search(self.log()), timeout,
                        f"dovecot log line /{regex}/")

    def deliver(self, user, data, flags="", new=False):
        """Drop a message into user's Maildir (cur/ by default, with the
        ':2,FLAGS' suffix; new/ if new=True). Returns the file path."""
        if isinstance(data, str):
            data = data.encode()
        md = self.maildir(user)
        base = f"{int(time.time())}.M{next(self._seq)}P{os.getpid()}.mproxytest"
        tmp = os.path.join(md, "tmp", base)
        write_file(tmp, data, 0o600)
        os.chown(tmp, MAIL_UID, MAIL_UID)
        final = os.path.join(md, "new", base) if new else \
            os.path.join(md, "cur", f"{base}:2,{flags}")
        os.rename(tmp, final)
        return final

    def diagnostics(self):
        return f"--- dovecot.log (tail)\n{tail(self.log(), 10)}"

    def __repr__(self):
        return f"<Dovecot {self.dir}>"


# ---------------------------------------------------------------------------
# Postfix (test-peers.md section 2).

POSTFIX_MASTER = "/usr/lib/postfix/sbin/master"


class Postfix:
    """A private Postfix. XCLIENT authorised for 127.0.0.0/8; mail for
    *@pipe.example.test goes to a raw pipe that writes each message to a file
    (wait_message() returns its bytes); vmail users (e.g. 'alice@example.test')
    get a virtual Maildir. With dovecot=Dovecot(...), SMTP AUTH is checked by
    that Dovecot. Ports: smtp_port, smtp_pp_port (PROXY v1/v2), smtps_port."""

    def __init__(self, dovecot=None, vmail=("alice@example.test",), cert=None,
                 extra_main="", myhostname="backend.example.test"):
        self.dovecot = dovecot
        self.vmail = list(vmail)
        self.extra_main = extra_main
        self.myhostname = myhostname
        self.dir = tmpdir("mpt-pf-")
        self.cert, self.key = cert if cert else make_cert(self.dir)
        self.etc = os.path.join(self.dir, "etc")
        self.out_dir = os.path.join(self.dir, "pipe-out")
        self.log_path = os.path.join(self.dir, "maillog")
        self.proc = None
        self._seen = set()
        _register(self)

    def _write_config(self):
        d = self.dir
        for sub in ("etc", "spool", "data", "vmail", "pipe-out"):
            os.makedirs(os.path.join(d, sub), exist_ok=True)
        shutil.chown(os.path.join(d, "data"), "postfix")
        for sub in ("vmail", "pipe-out"):
            os.chown(os.path.join(d, sub), MAIL_UID, MAIL_UID)
        # Write to a dot-file first so a reader never sees a partial message.
        write_file(os.path.join(d, "rawpipe.sh"),
                   f"#!/bin/sh\ncat > {self.out_dir}/.$1.tmp && "
                   f"mv {self.out_dir}/.$1.tmp {self.out_dir}/$1.eml\n", 0o755)
        write_file(os.path.join(self.etc, "vmailbox"),
                   "".join(f"{a} {a.split('@')[0]}/\n" for a in self.vmail))
        write_file(os.path.join(self.etc, "transport"), "pipe.example.test rawpipe:\n")
        sasl = ""
        if self.dovecot is not None:
            sasl = ("smtpd_sasl_auth_enable = yes\nsmtpd_sasl_type = dovecot\n"
                    f"smtpd_sasl_path = {self.dovecot.auth_socket}\n")
        main = f"""\
compatibility_level = 3.6
queue_directory = {d}/spool
data_directory = {d}/data
maillog_file = {self.log_path}
maillog_file_prefixes = {d}
myhostname = {self.myhostname}
mydestination =
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.1/32
relay_domains = pipe.example.test
smtpd_authorized_xclient_hosts = 127.0.0.0/8
smtpd_peername_lookup = no
local_header_rewrite_clients =
alias_maps =
alias_database =
smtputf8_enable = no
smtp_dns_support_level = disabled
message_size_limit = 52428800
virtual_mailbox_limit = 0
virtual_mailbox_domains = example.test
virtual_mailbox_base = {d}/vmail
virtual_mailbox_maps = texthash:{self.etc}/vmailbox
virtual_uid_maps = static:{MAIL_UID}
virtual_gid_maps = static:{MAIL_UID}
transport_maps = texthash:{self.etc}/transport
smtpd_tls_security_level = may
smtpd_tls_cert_file = {self.cert}
smtpd_tls_key_file = {self.key}
{sasl}{self.extra_main}
"""
        write_file(os.path.join(self.etc, "main.cf"), main)
        master = f"""\
127.0.0.1:{self.smtp_port} inet n - n - - smtpd
127.0.0.1:{self.smtp_pp_port} inet n - n - - smtpd
  -o syslog_name=postfix/smtpd-pp -o smtpd_upstream_proxy_protocol=haproxy
127.0.0.1:{self.smtps_port} inet n - n - - smtpd
  -o syslog_name=postfix/smtps -o smtpd_tls_wrappermode=yes
pickup unix n - n 60 1 pickup
cleanup unix n - n - 0 cleanup
qmgr unix n - n 300 1 qmgr
tlsmgr unix - - n 1000? 1 tlsmgr
rewrite unix - - n - - trivial-rewrite
bounce unix - - n - 0 bounce
defer unix - - n - 0 bounce
trace unix - - n - 0 bounce
flush unix n - n 1000? 0 flush
proxymap unix - - n - - proxymap
error unix - - n - - error
virtual unix - n n - - virtual
anvil unix - - n - 1 anvil
postlog unix-dgram n - n - 1 postlogd
showq unix n - n - - showq
rawpipe unix - n n - - pipe
  flags= user=nobody argv={d}/rawpipe.sh ${{queue_id}}
"""
        write_file(os.path.join(self.etc, "master.cf"), master)
        # Postfix re-reads files younger than ~1 s every 300 ms: back-date them.
        old = time.time() - 60
        for f in os.listdir(self.etc):
            os.utime(os.path.join(self.etc, f), (old, old))

    def start(self, timeout=15.0):
        for attempt in range(3):
            self.smtp_port, self.smtp_pp_port, self.smtps_port = \
                (free_port() for _ in range(3))
            self._write_config()
            r = run(["/usr/sbin/postfix", "-c", self.etc, "check"], timeout=60)
            if r.returncode != 0:
                raise AssertionError(f"postfix check failed ({r.returncode}): "
                                     f"{r.stdout}{r.stderr}\n{tail(self.log())}")
            self.proc = _Proc([POSTFIX_MASTER, "-c", self.etc, "-d"],
                              os.path.join(self.dir, "stdout"),
                              os.path.join(self.dir, "stderr"))
            try:
                self._wait_ready(timeout)
                return self
            except AssertionError:
                rc = self.proc.poll()
                self.proc.terminate(5)
                if rc is not None and attempt < 2:
                    continue  # port taken: master exits 1 after ~1 s
                raise AssertionError(f"Postfix did not start (rc={rc}):\n"
                                     f"{tail(read_text(self.proc.err_path))}\n"
                                     f"{tail(self.log())}")
        raise AssertionError("Postfix: no free ports")

    def _wait_ready(self, timeout):
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                raise AssertionError("postfix master exited")
            if time.monotonic() > deadline:
                raise AssertionError("postfix greeting timeout")
            try:
                with socket.create_connection(("127.0.0.1", self.smtp_port), timeout=2) as s:
                    s.settimeout(2)
                    greeting = s.recv(1024)
                    if greeting.startswith(b"220 "):
                        s.sendall(b"QUIT\r\n")
                        return
            except OSError:
                pass
            time.sleep(0.03)

    def stop(self):
        if self.proc is not None:
            self.proc.terminate(10)
            self.proc = None

    def _cleanup(self):
        self.stop()

    def log(self):
        return read_text(self.log_path)

    def wait_log(self, regex, timeout=10.0):
        r = re.compile(regex, re.M)
        return wait_for(lambda: r.search(self.log()), timeout,
                        f"postfix log line /{regex}/")

    def messages(self):
        """Names of the pipe files delivered so far (oldest first)."""
        names = [n for n in os.listdir(self.out_dir) if n.endswith(".eml")]
        return sorted(names, key=lambda n: os.stat(os.path.join(self.out_dir, n)).st_mtime)

    def wait_message(self, timeout=20.0):
        """The bytes of the next message delivered to *@pipe.example.test
        (a 3-line Received: header, then the message with LF line ends)."""
        def fresh():
            for n in self.messages():
                if n not in self._seen:
                    return n
            return None
        name = wait_for(fresh, timeout, "a message through the Postfix pipe")
        self._seen.add(name)
        with open(os.path.join(self.out_dir, name), "rb") as f:
            return f.read()

    def vmail_messages(self, user):
        """Message files in user's virtual Maildir (new/)."""
        d = os.path.join(self.dir, "vmail", user, "new")
        return sorted(os.path.join(d, n) for n in os.listdir(d)) if os.path.isdir(d) else []

    def diagnostics(self):
        return f"--- postfix maillog (tail)\n{tail(self.log(), 10)}"

    def __repr__(self):
        return f"<Postfix {self.dir}>"


# ---------------------------------------------------------------------------
# auth_http server.

class _Sentinel:
    def __init__(self, name):
        self.name = name

    def __repr__(self):
        return self.name


STALL = _Sentinel("STALL")   # policy result: never answer (until stop)
CLOSE = _Sentinel("CLOSE")   # policy result: close without answering


class AuthRequest:
    """One request as received. .raw (bytes, request line + headers + blank
    line), .line ("GET /auth HTTP/1.0"), .headers: [(name, value)] in wire
    order (latin-1, value without the leading blank), .conn (TCP connection
    number, 1-based). Mapping-style access is case-insensitive:
    req['Auth-User'], req.get('Auth-Salt'), 'Auth-Salt' in req."""

    def __init__(self, raw, conn):
        self.raw = raw
        self.conn = conn
        head = raw.split(b"\r\n\r\n", 1)[0]
        lines = head.split(b"\r\n")
        self.line = lines[0].decode("latin-1")
        self.headers = []
        for ln in lines[1:]:
            name, _, value = ln.partition(b":")
            self.headers.append((name.decode("latin-1"),
                                 value.lstrip(b" \t").decode("latin-1")))

    @property
    def method(self):
        return self.line.split(" ")[0]

    @property
    def uri(self):
        parts = self.line.split(" ")
        return parts[1] if len(parts) > 1 else ""

    def names(self):
        return [n for n, _ in self.headers]

    def get(self, name, default=None):
        for n, v in self.headers:
            if n.lower() == name.lower():
                return v
        return default

    def __getitem__(self, name):
        v = self.get(name)
        if v is None:
            raise KeyError(name)
        return v

    def __contains__(self, name):
        return self.get(name) is not None

    def unescaped(self, name):
        """Header value with nginx's %XX escaping undone, as bytes."""
        v = self.get(name)
        return None if v is None else urllib.parse.unquote_to_bytes(v)

    def wire_ok(self):
        """True if every line ends in CRLF and no bare CR or LF appears."""
        body = self.raw
        return body.count(b"\n") == body.count(b"\r\n") and \
            body.count(b"\r") == body.count(b"\r\n")

    def __repr__(self):
        return f"<AuthRequest conn={self.conn} {self.raw!r}>"


def auth_ok(port, host="127.0.0.1", user=None, password=None, extra=()):
    """Policy: always OK, to host:port; optional Auth-User/Auth-Pass."""
    def policy(req):
        h = [("Auth-Status", "OK"), ("Auth-Server", host), ("Auth-Port", str(port))]
        if user is not None:
            h.append(("Auth-User", user))
        if password is not None:
            h.append(("Auth-Pass", password))
        return h + list(extra)
    return policy


def auth_fail(text="Invalid login or password", wait=None, error_code=None, extra=()):
    """Policy: always fail with `text` (+ Auth-Wait, Auth-Error-Code)."""
    def policy(req):
        h = [("Auth-Status", text)]
        if wait is not None:
            h.append(("Auth-Wait", str(wait)))
        if error_code is not None:
            h.append(("Auth-Error-Code", error_code))
        return h + list(extra)
    return policy


def auth_garbage(data=b"\x00\x01\x02 this is not HTTP \xff\r\n\r\n"):
    """Policy: answer these raw bytes, then close."""
    return lambda req: data


def auth_stall(req):
    return STALL


def auth_close(req):
    return CLOSE


def check_credentials(req, users):
    """The usual auth server logic: returns the user name if Auth-User /
    Auth-Pass are right for Auth-Method plain (also LOGIN), cram-md5 (HMAC-MD5
    of Auth-Salt) or apop (MD5(salt + password)); else None."""
    method = (req.get("Auth-Method") or "").lower()
    user_b = req.unescaped("Auth-User")
    pass_b = req.unescaped("Auth-Pass")
    if user_b is None or pass_b is None:
        return None
    user = user_b.decode("utf-8", "replace")
    if user not in users:
        return None
    pw = users[user].encode()
    salt = (req.get("Auth-Salt") or "").encode("latin-1")
    if method == "plain":
        ok = hmac.compare_digest(pass_b, pw)
    elif method == "cram-md5":
        want = hmac.new(pw, salt, hashlib.md5).hexdigest().encode()
        ok = bool(salt) and hmac.compare_digest(pass_b.lower(), want)
    elif method == "apop":
        want = hashlib.md5(salt + pw).hexdigest().encode()
        ok = bool(salt) and hmac.compare_digest(pass_b.lower(), want)
    else:
        ok = False
    return user if ok else None


def auth_users(users, port, host="127.0.0.1", fail_wait=None,
               fail_text="Invalid login or password", map_user=None):
    """Policy: check credentials against `users` (check_credentials) and on
    success send the backend host:port with Auth-Pass = the real password
    (needed for CRAM-MD5/APOP). map_user: {front login: backend login}, sent
    as Auth-User (its password from `users`)."""
    def policy(req):
        user = check_credentials(req, users)
        if user is None:
            h = [("Auth-Status", fail_text)]
            if fail_wait is not None:
                h.append(("Auth-Wait", str(fail_wait)))
            return h
        h = [("Auth-Status", "OK"), ("Auth-Server", host), ("Auth-Port", str(port))]
        backend_user = (map_user or {}).get(user)
        if backend_user is not None:
            h.append(("Auth-User", backend_user))
            h.append(("Auth-Pass", users[backend_user]))
        else:
            h.append(("Auth-Pass", users[user]))
        return h
    return policy


class _ThreadingTCPServer(socketserver.ThreadingTCPServer):
    # Like http.server.ThreadingHTTPServer, minus its server_bind(), which
    # calls getfqdn() (a DNS query through the off-machine resolver here).
    allow_reuse_address = True
    daemon_threads = True
    request_queue_size = 256  # 50 sessions may authenticate at once


class _ThreadingUnixServer(socketserver.ThreadingUnixStreamServer):
    daemon_threads = True
    request_queue_size = 256


class AuthServer:
    """auth_http server on a free loopback port (and/or a unix socket).

    Every request is recorded (AuthRequest) in .requests, in arrival order;
    .connections counts TCP/unix connections (keep-alive reuse shows as
    fewer connections than requests). The policy decides each answer:
    policy(req) -> [(name, value)] (headers; Server, Date, Content-Length: 0
    are added), or raw bytes (sent as-is, then close), or STALL, or CLOSE.
    A request with "Connection: keep-alive" gets an HTTP/1.1 reply with
    "Connection: keep-alive" and the connection stays open.

        auth = AuthServer(auth_users({'alice': 'alicepw'}, dovecot.imap_port)).start()
        f"auth_http {auth.conf_url};"
    """

    def __init__(self, policy=None, unix=False, tcp=True, uri="/auth", delay=0.0):
        self.policy = policy or auth_fail("no policy set")
        self.uri = uri
        self.delay = delay
        self.requests = []
        self.connections = 0
        self.errors = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._socks = set()
        self._servers = []
        self.port = None
        self.unix_path = None
        self._want_tcp = tcp
        self._want_unix = unix
        _register(self)

    # -- policy and results
    def set_policy(self, policy):
        self.policy = policy

    def reset(self):
        with self._lock:
            self.requests.clear()
            self.connections = 0

    @property
    def conf_url(self):
        """The auth_http argument for the TCP listener."""
        return f"127.0.0.1:{self.port}{self.uri}"

    @property
    def conf_unix_url(self):
        return f"unix:{self.unix_path}:{self.uri}"

    def wait_requests(self, n, timeout=10.0):
        wait_for(lambda: len(self.requests) >= n, timeout, f"{n} auth request(s)")
        return self.requests[:n]

    @property
    def last(self):
        assert self.requests, "the auth server got no request"
        return self.requests[-1]

    # -- server
    def start(self):
        outer = self

        class Handler(socketserver.BaseRequestHandler):
            def handle(self):
                outer._serve(self.request)

        if self._want_tcp:
            srv = _ThreadingTCPServer(("127.0.0.1", 0), Handler)
            self.port = srv.server_address[1]
            self._servers.append(srv)
        if self._want_unix:
            d = tmpdir("mpt-au-")
            self.unix_path = os.path.join(d, "auth.sock")
            srv = _ThreadingUnixServer(self.unix_path, Handler)
            os.chmod(self.unix_path, 0o666)
            self._servers.append(srv)
        for srv in self._servers:
            t = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05},
                                 daemon=True)
            t.start()
        return self

    def _serve(self, sock):
        with self._lock:
            self.connections += 1
            conn_no = self.connections
            self._socks.add(sock)
        sock.settimeout(30)
        buf = b""
        try:
            while not self._stop.is_set():
                while b"\r\n\r\n" not in buf and b"\n\n" not in buf:
                    if len(buf) > 65536:
                        self.errors.append("request headers over 64 KiB")
                        return
                    chunk = sock.recv(65536)
                    if not chunk:
                        return
                    buf += chunk
                end = buf.find(b"\r\n\r\n")
                end = end + 4 if end >= 0 else buf.find(b"\n\n") + 2
                raw, buf = buf[:end], buf[end:]
                req = AuthRequest(raw, conn_no)
                with self._lock:
                    self.requests.append(req)
                if self.delay:
                    self._stop.wait(self.delay)
                try:
                    result = self.policy(req)
                except Exception as e:  # noqa: BLE001 - a test bug: record it
                    self.errors.append(f"policy raised {e!r}")
                    return
                if result is STALL:
                    self._stop.wait()
                    return
                if result is CLOSE:
                    return
                if isinstance(result, (bytes, bytearray)):
                    sock.sendall(result)
                    return
                conn_hdr = (req.get("Connection") or "").lower()
                keep = conn_hdr == "keep-alive" or \
                    (req.line.endswith("HTTP/1.1") and conn_hdr != "close")
                out = ["HTTP/1.1 200 OK" if keep else "HTTP/1.0 200 OK",
                       "Server: mproxy-test-auth",
                       "Date: " + email.utils.formatdate(usegmt=True)]
                out += [f"{n}: {v}" for n, v in result]
                out.append("Connection: keep-alive" if keep else "Connection: close")
                out.append("Content-Length: 0")
                sock.sendall(("\r\n".join(out) + "\r\n\r\n").encode("latin-1"))
                if not keep:
                    return
        except OSError:
            return
        finally:
            with self._lock:
                self._socks.discard(sock)
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def stop(self):
        self._stop.set()
        for srv in self._servers:
            srv.shutdown()
            srv.server_close()
        with self._lock:
            socks = list(self._socks)
        for s in socks:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        self._servers = []

    def _cleanup(self):
        self.stop()

    def diagnostics(self):
        lines = [f"--- auth server: {len(self.requests)} request(s) on "
                 f"{self.connections} connection(s)"]
        for r in self.requests[-3:]:
            lines.append("    " + repr(r.raw)[:400])
        lines += [f"    error: {e}" for e in self.errors]
        return "\n".join(lines)

    def __repr__(self):
        return f"<AuthServer port={self.port} unix={self.unix_path}>"


# ---------------------------------------------------------------------------
# mproxy itself.

_LISTEN_RE = re.compile(r"^\s*listen\s+([^\s;]+)", re.M)


def listen_targets(conf_text):
    """[(kind, host, port_or_path)] for the listen directives in conf_text
    (comments ignored; http {} blocks are not skipped, so keep them out)."""
    text = re.sub(r"#[^\n]*", "", conf_text)
    text = text.replace("{", "{\n").replace(";", ";\n")
    out = []
    for m in _LISTEN_RE.finditer(text):
        a = m.group(1)
        if a.startswith("unix:"):
            out.append(("unix", None, a[5:]))
        elif a.startswith("["):
            host, _, port = a[1:].partition("]:")
            out.append(("tcp", host, int(port)))
        elif a.isdigit():
            out.append(("tcp", "127.0.0.1", int(a)))
        else:
            host, _, port = a.rpartition(":")
            host = "127.0.0.1" if host in ("*", "0.0.0.0", "localhost") else host
            out.append(("tcp", host, int(port)))
    return out


class Mproxy:
    """One mproxy process on a generated configuration:

        daemon off;
        error_log <dir>/error.log debug;
        pid <dir>/mproxy.pid;
        <top>
        mail { <mail_block> }

    (conf= gives the whole text instead). Starts `$MPROXY -c FILE [args]` with
    stdout/stderr in files and waits until every `listen` address listens.
    .dir .conf_path .error_log_path .pid_path .pid .proc
    .log() .stderr() .wait_log(regex) .signal(sig) .reload(...) .stop()
    """

    def __init__(self, mail_block="", top="", conf=None, args=(), start=True,
                 wait_ports=None, timeout=10.0):
        self.binary = require_mproxy()
        self.dir = tmpdir("mpt-mp-")
        self.conf_path = os.path.join(self.dir, "mproxy.conf")
        self.error_log_path = os.path.join(self.dir, "error.log")
        self.pid_path = os.path.join(self.dir, "mproxy.pid")
        self.stdout_path = os.path.join(self.dir, "stdout.txt")
        self.stderr_path = os.path.join(self.dir, "stderr.txt")
        self.args = list(args)
        self.proc = None
        self._wait_ports = wait_ports
        self._scanned = False
        self._checked = False  # the test looked at the exit status
        self.write_conf(mail_block, top, conf)
        _register(self)
        if start:
            self.start(timeout)

    def make_conf(self, mail_block="", top=""):
        return (f"daemon off;\n"
                f"error_log {self.error_log_path} debug;\n"
                f"pid {self.pid_path};\n"
                f"{top}\n"
                f"mail {{\n{mail_block}\n}}\n")

    def write_conf(self, mail_block="", top="", conf=None):
        self.conf_text = conf if conf is not None else self.make_conf(mail_block, top)
        write_file(self.conf_path, self.conf_text)

    def start(self, timeout=10.0):
        self.proc = _Proc(WRAP + [self.binary, "-c", self.conf_path] + self.args,
                          self.stdout_path, self.stderr_path, cwd=self.dir)
        self._scanned = False
        self._checked = False
        targets = self._wait_ports if self._wait_ports is not None \
            else listen_targets(self.conf_text)
        deadline = time.monotonic() + timeout

        def ready(kind, host, where):
            if self.proc.poll() is not None:
                self._checked = True  # reported right here
                raise AssertionError(
                    f"mproxy exited with {self.proc.poll()} during start-up\n"
                    f"--- stderr\n{tail(self.stderr(), 20)}\n"
                    f"--- error.log\n{tail(self.log(), 20)}")
            return unix_listening(where) if kind == "unix" else tcp_listening(where, host)

        for t in targets:
            if isinstance(t, int):
                t = ("tcp", "127.0.0.1", t)
            wait_for(lambda: ready(*t), max(0.1, deadline - time.monotonic()),
                     f"mproxy to listen on {t[1] or ''}:{t[2]}")
        return self

    @property
    def pid(self):
        return self.proc.pid if self.proc else None

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def log(self):
        return read_text(self.error_log_path)

    def stderr(self):
        return read_text(self.stderr_path)

    def stdout(self):
        return read_text(self.stdout_path)

    def log_lines(self, regex=None):
        lines = self.log().splitlines()
        if regex is None:
            return lines
        r = re.compile(regex)
        return [ln for ln in lines if r.search(ln)]

    def wait_log(self, regex, timeout=5.0):
        """Poll error.log until a line matches; returns the re.Match."""
        r = re.compile(regex, re.M)
        return wait_for(lambda: r.search(self.log()), timeout, f"mproxy log line /{regex}/")

    def signal(self, sig):
        self.proc.signal(sig)

    def reload(self, mail_block="", top="", conf=None):
        """Rewrite the configuration and send SIGHUP."""
        self.write_conf(mail_block, top, conf)
        self.signal(signal.SIGHUP)

    def wait_exit(self, timeout=10.0):
        """Wait for an exit the test caused; returns the status (the test
        checks it)."""
        try:
            self._checked = True
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"mproxy did not exit within {timeout}s") from None

    def sanitizer_report(self):
        text = self.stderr() + "\n" + self.log()
        m = SANITIZER_RE.search(text)
        return text[max(0, m.start() - 200):m.start() + 1500] if m else None

    def _scan(self):
        if not self._scanned:
            self._scanned = True
            note_sanitizer_output(f"mproxy {self.conf_path}", self.stderr() + "\n" + self.log())

    def stop(self, expect_rc=0, timeout=10.0):
        """SIGTERM; assert it exits with expect_rc and without sanitizer
        reports. Returns the exit code."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            raise AssertionError(f"mproxy ignored SIGTERM for {timeout}s") from None
        finally:
            self.proc.kill_group()
        self._checked = True
        report = self.sanitizer_report()
        self._scanned = True  # reported here; don't count it twice
        assert report is None, f"sanitizer report from mproxy:\n{report}"
        if expect_rc is not None:
            assert rc == expect_rc, (f"mproxy exited with {rc}, want {expect_rc}\n"
                                     f"--- stderr\n{tail(self.stderr())}")
        return rc

    def _cleanup(self):
        """Stop it if still running. A bad exit nobody looked at (a crash
        during the test, or a non-zero status on SIGTERM) is reported to
        run.py like a sanitizer finding."""
        if self.proc is None:
            return
        was_running = self.proc.poll() is None
        rc = self.proc.terminate(5)
        if rc != 0 and not self._checked:
            why = "on SIGTERM at clean-up" if was_running else "during the test"
            _sanitizer_hits.append((f"mproxy {self.conf_path}",
                                    f"exited with {rc} {why}\n{tail(self.stderr(), 10)}"))
        self._scan()

    def diagnostics(self):
        out = [f"--- mproxy {self.conf_path}"]
        if self.proc is not None and self.proc.poll() is not None:
            out.append(f"    exited with {self.proc.poll()}")
        err = self.stderr()
        if err.strip():
            out.append(f"--- mproxy stderr (tail)\n{tail(err, 15)}")
        lines = self.log().splitlines()
        quiet = [ln for ln in lines if "] " in ln and "[debug]" not in ln]
        out.append(f"--- mproxy error.log, last non-debug lines (of {len(lines)})\n"
                   + "\n".join(quiet[-20:]))
        return "\n".join(out)

    def __repr__(self):
        return f"<Mproxy {self.conf_path}>"


def run_mproxy(args, timeout=15, cwd=None, env=None):
    """Run `$MPROXY args...` to completion (CLI tests). Returns a
    CompletedProcess with text stdout/stderr; sanitizer text in its output
    fails the current test."""
    binary = require_mproxy()
    r = subprocess.run(WRAP + [binary] + list(args), capture_output=True, text=True,
                       errors="replace", timeout=timeout, cwd=cwd,
                       env=env,
                       stdin=subprocess.DEVNULL)
    note_sanitizer_output(f"mproxy {' '.join(args)}", r.stdout + r.stderr)
    return r


# ---------------------------------------------------------------------------
# Clients and scripted peers.

class LineClient:
    """A raw line-oriented client with timeouts, for exact protocol checks.
    Lines are returned as str (latin-1) without the CRLF.

        c = LineClient(port, source=client_ip())
        c.expect_re(r'^\\* OK ')
        c.sendline('a NOOP'); c.expect('a OK completed')
    """

    def __init__(self, port=None, host="127.0.0.1", timeout=5.0, source=None, sock=None):
        self.timeout = timeout
        if sock is None:
            src = (source, 0) if source else None
            sock = socket.create_connection((host, port), timeout=timeout,
                                            source_address=src)
        self.sock = sock
        self.sock.settimeout(timeout)
        self.buf = bytearray()
        self.transcript = []   # ('>'|'<', bytes) for debugging

    # sending
    def send(self, data):
        if isinstance(data, str):
            data = data.encode("latin-1")
        self.transcript.append((">", data))
        self.sock.sendall(data)

    def sendline(self, line):
        self.send((line.encode("latin-1") if isinstance(line, str) else line) + b"\r\n")

    # receiving
    def _fill(self, deadline):
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise socket.timeout()
        self.sock.settimeout(remaining)
        chunk = self.sock.recv(65536)
        if chunk:
            self.transcript.append(("<", chunk))
        return chunk

    def readline_raw(self, timeout=None):
        """One line including its terminator (bytes). AssertionError on
        timeout or EOF."""
        deadline = time.monotonic() + (timeout or self.timeout)
        while True:
            i = self.buf.find(b"\n")
            if i >= 0:
                line = bytes(self.buf[:i + 1])
                del self.buf[:i + 1]
                return line
            try:
                chunk = self._fill(deadline)
            except socket.timeout:
                raise AssertionError(f"no line within {timeout or self.timeout}s; "
                                     f"buffered {bytes(self.buf)[:200]!r}") from None
            except ConnectionResetError:
                chunk = b""
            if not chunk:
                raise AssertionError(f"connection closed while waiting for a line; "
                                     f"buffered {bytes(self.buf)[:200]!r}")
            self.buf += chunk

    def readline(self, timeout=None):
        line = self.readline_raw(timeout)
        assert line.endswith(b"\r\n"), f"line not terminated by CRLF: {line!r}"
        return line[:-2].decode("latin-1")

    def read_exact(self, n, timeout=None):
        deadline = time.monotonic() + (timeout or self.timeout)
        while len(self.buf) < n:
            try:
                chunk = self._fill(deadline)
            except socket.timeout:
                raise AssertionError(f"got {len(self.buf)} of {n} bytes") from None
            if not chunk:
                raise AssertionError(f"EOF after {len(self.buf)} of {n} bytes")
            self.buf += chunk
        data = bytes(self.buf[:n])
        del self.buf[:n]
        return data

    def expect(self, want, timeout=None):
        got = self.readline(timeout)
        assert got == want, f"expected {want!r}, got {got!r}"
        return got

    def expect_re(self, regex, timeout=None):
        got = self.readline(timeout)
        m = re.search(regex, got)
        assert m, f"expected /{regex}/, got {got!r}"
        return m

    def expect_prefix(self, prefix, timeout=None):
        got = self.readline(timeout)
        assert got.startswith(prefix), f"expected {prefix!r}..., got {got!r}"
        return got

    def read_tagged(self, tag, timeout=None):
        """IMAP: lines up to and including the one tagged `tag`."""
        lines = []
        while True:
            line = self.readline(timeout)
            lines.append(line)
            if line.startswith(tag + " "):
                return lines

    def read_available(self, wait=0.2):
        """Whatever arrives within `wait` seconds (b'' if nothing)."""
        deadline = time.monotonic() + wait
        while True:
            try:
                chunk = self._fill(deadline)
            except (socket.timeout, ConnectionResetError):
                break
            if not chunk:
                break
            self.buf += chunk
        data = bytes(self.buf)
        self.buf.clear()
        return data

    def expect_closed(self, timeout=None):
        """Assert the peer closes within timeout (EOF or reset). Returns any
        bytes that arrived before the close."""
        deadline = time.monotonic() + (timeout or self.timeout)
        while True:
            try:
                chunk = self._fill(deadline)
            except socket.timeout:
                raise AssertionError(f"connection still open after {timeout or self.timeout}s; "
                                     f"got {bytes(self.buf)[-200:]!r}") from None
            except (ConnectionResetError, BrokenPipeError):
                chunk = b""
            if not chunk:
                data = bytes(self.buf)
                self.buf.clear()
                return data
            self.buf += chunk

    def is_open(self, wait=0.1):
        """True if the peer has not closed (nothing to read counts as open)."""
        try:
            self.sock.settimeout(wait)
            chunk = self.sock.recv(65536, socket.MSG_PEEK)
            return bool(chunk)
        except socket.timeout:
            return True
        except OSError:
            return False

    def wrap_tls(self, context, server_hostname=None):
        """Start TLS on the socket (after STARTTLS); buffered bytes must be empty."""
        assert not self.buf, f"plaintext left in buffer before TLS: {bytes(self.buf)!r}"
        self.sock = context.wrap_socket(self.sock, server_hostname=server_hostname)
        self.sock.settimeout(self.timeout)

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class TcpServer:
    """A scripted TCP peer: handler(conn: LineClient) runs in a thread per
    accepted connection. .port, .accepted (count), .errors (handler
    exceptions, as strings). For fake backends and odd auth servers."""

    def __init__(self, handler, host="127.0.0.1", port=0):
        self.handler = handler
        self.accepted = 0
        self.errors = []
        self.conns = []
        self._stop = threading.Event()
        self.lsock = socket.socket()
        self.lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.lsock.bind((host, port))
        self.lsock.listen(128)
        self.lsock.settimeout(0.1)
        self.port = self.lsock.getsockname()[1]
        self._thread = threading.Thread(target=self._accept_loop, daemon=True)
        self._thread.start()
        _register(self)

    def _accept_loop(self):
        while not self._stop.is_set():
            try:
                s, _ = self.lsock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            self.accepted += 1
            conn = LineClient(sock=s, timeout=10)
            self.conns.append(conn)
            threading.Thread(target=self._run, args=(conn,), daemon=True).start()

    def _run(self, conn):
        try:
            self.handler(conn)
        except Exception as e:  # noqa: BLE001
            if not self._stop.is_set():
                self.errors.append(repr(e))
        finally:
            conn.close()

    def stop(self):
        self._stop.set()
        try:
            self.lsock.close()
        except OSError:
            pass
        for c in self.conns:
            c.close()
        self._thread.join(2)

    def _cleanup(self):
        self.stop()

    def diagnostics(self):
        if self.errors:
            return f"--- TcpServer {self.port} errors: {self.errors}"
        return ""

    def __repr__(self):
        return f"<TcpServer {self.port}>"


class IMAP4(imaplib.IMAP4):
    """imaplib.IMAP4 with a time limit and an optional source address."""

    def __init__(self, port, host="127.0.0.1", source=None, timeout=10.0):
        self._source = source
        super().__init__(host, port, timeout=timeout)

    def _create_socket(self, timeout):
        src = (self._source, 0) if self._source else None
        return socket.create_connection((self.host, self.port), timeout, source_address=src)


def b64(data):
    if isinstance(data, str):
        data = data.encode()
    return base64.b64encode(data).decode()


def unb64(text):
    return base64.b64decode(text)


def cram_md5_response(user, password, challenge):
    """Client answer to a CRAM-MD5 challenge (challenge: decoded bytes)."""
    digest = hmac.new(password.encode(), challenge, hashlib.md5).hexdigest()
    return f"{user} {digest}"


def session_line(log_text, client, extra=()):
    """The first 'session closed' line for `client` ('127.0.1.2' or with
    ':port') that also contains every string in `extra`; None if none."""
    if ":" not in client:
        client += ":"  # 127.0.1.2 must not match 127.0.1.25
    for line in log_text.splitlines():
        if "session closed" in line and f"client: {client}" in line \
                and all(e in line for e in extra):
            return line
    return None


def wait_session_line(mp, client, extra=(), timeout=5.0):
    return wait_for(lambda: session_line(mp.log(), client, extra), timeout,
                    f"'session closed' line for {client} with {list(extra)}")


def big_message(size, subject="big"):
    """A CRLF RFC 5322 message of about `size` bytes with varied content."""
    head = (f"From: sender@example.test\r\nTo: alice@example.test\r\n"
            f"Subject: {subject}\r\nMessage-ID: <{subject}.{time.time()}@example.test>\r\n\r\n")
    body = []
    n = len(head)
    i = 0
    while n < size:
        line = f"{i:08d} " + hashlib.sha256(str(i).encode()).hexdigest() * 2 + "\r\n"
        body.append(line)
        n += len(line)
        i += 1
    return (head + "".join(body)).encode()


def sha256(data):
    return hashlib.sha256(data).hexdigest()
