"""The POP3 proxy, end to end: real clients (poplib, curl, raw lines) ->
mproxy -> Dovecot, with the auth_http test server recording what mproxy asks.

Behaviour follows nginx's mail proxy (reference/nginx-behaviour.md 3.5,
auth_http.md): greeting "+OK POP3 ready" (+ an APOP timestamp when apop or
cram-md5 is enabled), CAPA and AUTH lists in nginx's order (PLAIN implies
LOGIN), "-ERR invalid command", USER/PASS to the backend whose +OK reaches
the client. mproxy's differences: pop3_client_buffer (512, nginx 128), no
bare "SASL" line when no SASL mechanism is enabled, credentials with CR, LF or
NUL refused ("-ERR invalid credentials").
"""

import concurrent.futures
import hashlib
import poplib
import re
import socket
import struct
import subprocess
import time

from harness import (STALL, AuthServer, Dovecot, LineClient, Mproxy, TcpServer, auth_close,
                     auth_garbage, auth_ok, auth_users, b64, big_message, client_ip,
                     closed_port, cram_md5_response, free_port, sha256, timeout, unb64,
                     wait_session_line)

USERS = {
    "alice": "alicepw",
    "bob": "bobpw",
}

SERVER_NAME = "mail.example.test"
GREETING_TS_RE = r"^\+OK POP3 ready (<(\d+)\.(\d+)@mail\.example\.test>)$"
NGINX_HEADER_ORDER = ["Host", "Auth-Method", "Auth-User", "Auth-Pass", "Auth-Protocol",
                      "Auth-Login-Attempt", "Client-IP"]

dovecot = None
BIG = big_message(3 * 1024 * 1024, "pop3-big")
SMALL = b"From: s@example.test\r\nSubject: pop3-small\r\n\r\nsmall body\r\n"
BOB_ONLY = b"From: s@example.test\r\nSubject: bob-only\r\n\r\nfor bob\r\n"
NUM = {}  # subject -> POP3 message number in alice's (or bob's) maildrop


def setup_module():
    global dovecot
    dovecot = Dovecot(USERS).start()
    dovecot.deliver("alice", BIG)
    dovecot.deliver("alice", SMALL)
    dovecot.deliver("bob", BOB_ONLY)
    # Learn the message numbers straight from Dovecot.
    for user in USERS:
        p = poplib.POP3("127.0.0.1", dovecot.pop3_port, timeout=10)
        p.user(user)
        p.pass_(USERS[user])
        count = p.stat()[0]
        for i in range(1, count + 1):
            _, lines, _ = p.top(i, 0)
            for ln in lines:
                if ln.lower().startswith(b"subject: "):
                    NUM[ln[9:].decode()] = i
        p.quit()
    assert {"pop3-big", "pop3-small", "bob-only"} <= set(NUM), NUM


def teardown_module():
    dovecot.stop()


# --- helpers ---------------------------------------------------------------

def users_auth(**kw):
    """An auth server that checks USERS (plain, apop, cram-md5) and sends
    Dovecot's POP3 port with Auth-Pass = the real password."""
    return AuthServer(auth_users(USERS, dovecot.pop3_port, **kw)).start()


def proxy(auth_url, mail_extra="", server_extra="", pop3_auth="plain apop cram-md5"):
    """mproxy with the configuration under test; returns (Mproxy, port).
    pop3_auth=None leaves the directive out (nginx's default: plain)."""
    port = free_port()
    auth_line = f"pop3_auth {pop3_auth};" if pop3_auth is not None else ""
    block = f"""
    server_name {SERVER_NAME};
    auth_http {auth_url};
    {mail_extra}
    server {{
        listen 127.0.0.1:{port};
        protocol pop3;
        {auth_line}
        {server_extra}
    }}
"""
    return Mproxy(block), port


def connect(port, source=None, timeout=10):
    """A raw client that has read the greeting; returns (client, timestamp or
    None)."""
    c = LineClient(port, source=source, timeout=timeout)
    line = c.expect_prefix("+OK POP3 ready")
    m = re.match(GREETING_TS_RE, line)
    return c, (m.group(1) if m else None)


def read_multiline(c, timeout=None):
    """The lines of a multi-line reply after its status line, up to '.'."""
    lines = []
    while True:
        line = c.readline(timeout)
        if line == ".":
            return lines
        lines.append(line)


def apop_digest(timestamp, password):
    return hashlib.md5((timestamp + password).encode()).hexdigest()


class POP3(poplib.POP3):
    """poplib.POP3 with a time limit and an optional source address."""

    def __init__(self, port, host="127.0.0.1", source=None, timeout=10.0):
        self._source = source
        super().__init__(host, port, timeout=timeout)

    def _create_socket(self, timeout):
        src = (self._source, 0) if self._source else None
        return socket.create_connection((self.host, self.port), timeout, source_address=src)


def pop3(port, source=None, timeout=10):
    return POP3(port, source=source, timeout=timeout)


def retr_bytes(p, n):
    """RETR through poplib, rebuilt as the CRLF bytes Dovecot stores."""
    resp, lines, _ = p.retr(n)
    assert resp.startswith(b"+OK"), resp
    return b"\r\n".join(lines) + b"\r\n"


def stat_ok(c):
    """STAT over a raw client that is logged in; returns the message count."""
    c.sendline("STAT")
    return int(c.expect_re(r"^\+OK (\d+) \d+$").group(1))


def assert_internal_error_and_close(c, mp, log_regex):
    """nginx's answer to any auth/backend failure: '-ERR internal server
    error', then close; and the reason in the log."""
    c.expect("-ERR internal server error", timeout=10)
    c.expect_closed(5)
    mp.wait_log(log_regex, timeout=5)


def fake_backend(pass_reply="+OK Logged in.", greeting="+OK fake ready", record=None,
                 after_login=None, xclient_reply="+OK"):
    """A scripted POP3 server: greets, expects USER then PASS (recording every
    line it receives in `record`), answers PASS with pass_reply, then runs
    after_login(conn) or answers each line with '+OK relayed <line>'.
    XCLIENT lines before USER get xclient_reply."""
    record = record if record is not None else []

    def handler(conn):
        conn.sendline(greeting)
        if not greeting.startswith("+OK"):
            return
        line = conn.readline(10)
        record.append(line)
        while line.startswith("XCLIENT "):
            conn.sendline(xclient_reply)
            line = conn.readline(10)
            record.append(line)
        if not line.startswith("USER "):
            conn.sendline("-ERR expected USER")
            return
        conn.sendline("+OK")
        line = conn.readline(10)
        record.append(line)
        conn.sendline(pass_reply)
        if not pass_reply.startswith("+OK"):
            return
        if after_login is not None:
            after_login(conn)
            return
        while True:
            line = conn.readline(10)
            record.append(line)
            conn.sendline(f"+OK relayed {line}")
            if line == "QUIT":
                return

    return TcpServer(handler), record


# --- greeting, CAPA, AUTH list, simple commands ------------------------------

@timeout(20)
def test_default_greeting_capa_auth_list_noop_quit():
    auth = users_auth()
    mp, port = proxy(auth.conf_url, pop3_auth=None)
    c = LineClient(port)
    # nginx's default pop3_auth plain: no timestamp
    c.expect("+OK POP3 ready")
    c.sendline("CAPA")
    c.expect("+OK Capability list follows")
    # pop3_capabilities' default, then SASL (plain turns LOGIN on, as in nginx)
    assert read_multiline(c) == ["TOP", "USER", "UIDL", "SASL PLAIN LOGIN"]
    c.sendline("AUTH")
    c.expect("+OK methods supported:")
    assert read_multiline(c) == ["PLAIN", "LOGIN"]
    c.sendline("NOOP")
    c.expect("+OK")
    c.sendline("capa")  # RFC 1939 3: keywords are case-insensitive
    c.expect("+OK Capability list follows")
    read_multiline(c)
    c.sendline("QUIT")
    c.expect("+OK")
    assert c.expect_closed(5) == b""
    assert auth.requests == []
    mp.stop()


@timeout(20)
def test_apop_timestamp_and_full_sasl_list():
    auth = users_auth()
    mp, port = proxy(auth.conf_url, pop3_auth="external cram-md5 apop plain",
                     server_extra="pop3_capabilities UIDL TOP \"RESP-CODES\";")
    c = LineClient(port)
    line = c.readline()
    m = re.match(GREETING_TS_RE, line)
    assert m, f"greeting without an APOP timestamp: {line!r}"
    assert abs(int(m.group(3)) - time.time()) < 30, f"timestamp time is off: {line!r}"
    c.sendline("CAPA")
    c.expect("+OK Capability list follows")
    # the configured order, then nginx's fixed mechanism order
    assert read_multiline(c) == ["UIDL", "TOP", "RESP-CODES", "SASL PLAIN LOGIN CRAM-MD5 EXTERNAL"]
    c.sendline("AUTH")
    c.expect("+OK methods supported:")
    assert read_multiline(c) == ["PLAIN", "LOGIN", "CRAM-MD5", "EXTERNAL"]
    # EXTERNAL needs a client certificate: refused until TLS exists
    c.sendline("AUTH EXTERNAL")
    c.expect("-ERR invalid command")
    c.sendline("AUTH EXTERNAL =")
    c.expect("-ERR invalid command")
    # Every session gets its own timestamp.
    seen = {m.group(1)}
    for _ in range(5):
        _, ts = connect(port)
        assert ts is not None and ts not in seen, (ts, seen)
        seen.add(ts)
    assert auth.requests == []
    mp.stop()


@timeout(20)
def test_cram_md5_alone_gives_timestamp_and_apop_disabled():
    auth = users_auth()
    mp, port = proxy(auth.conf_url, pop3_auth="cram-md5")
    c, ts = connect(port)
    assert ts is not None, "nginx greets with a timestamp when cram-md5 is enabled"
    c.sendline("CAPA")
    c.expect("+OK Capability list follows")
    assert read_multiline(c) == ["TOP", "USER", "UIDL", "SASL CRAM-MD5"]
    # apop is not enabled: refused, nothing asked
    c.sendline(f"APOP alice {apop_digest(ts, 'alicepw')}")
    c.expect("-ERR invalid command")
    # USER/PASS and AUTH PLAIN are always accepted (nginx: plain only controls advertising)
    c.sendline("AUTH PLAIN " + b64("\0alice\0alicepw"))
    c.expect_prefix("+OK")
    assert auth.last["Auth-Method"] == "plain"
    assert stat_ok(c) >= 2
    mp.stop()


@timeout(20)
def test_apop_only_no_sasl_line_cram_refused():
    auth = users_auth()
    mp, port = proxy(auth.conf_url, pop3_auth="apop")
    c, ts = connect(port)
    assert ts is not None
    c.sendline("CAPA")
    c.expect("+OK Capability list follows")
    assert read_multiline(c) == ["TOP", "USER", "UIDL"]
    c.sendline("AUTH")
    c.expect("+OK methods supported:")
    assert read_multiline(c) == []
    c.sendline("AUTH CRAM-MD5")  # not enabled
    c.expect("-ERR invalid command")
    c.sendline("AUTH LOGIN")  # always accepted
    assert unb64(c.expect_prefix("+ ")[2:]) == b"Username:"
    c.sendline("*")
    c.expect_prefix("-ERR")
    c.sendline("USER alice")
    c.expect("+OK")
    c.sendline("PASS alicepw")
    c.expect_prefix("+OK")
    mp.stop()


@timeout(20)
def test_invalid_commands_state_rules_and_stls():
    auth = users_auth()
    mp, port = proxy(auth.conf_url, server_extra="max_errors 20;")
    c, _ = connect(port)
    c.sendline("STLS")  # no TLS configured
    c.expect("-ERR invalid command")
    c.sendline("PASS alicepw")  # PASS before USER
    c.expect("-ERR invalid command")
    c.sendline("STAT")  # transaction-state command before login
    c.expect("-ERR invalid command")
    c.sendline("NOOP extra")  # NOOP takes no argument
    c.expect("-ERR invalid command")
    c.send("NOOP\r\n")
    c.expect("+OK")
    # After USER: PASS, CAPA, NOOP and QUIT only; anything else drops the USER.
    c.sendline("USER alice")
    c.expect("+OK")
    c.sendline("NOOP")
    c.expect("+OK")
    c.sendline("CAPA")
    c.expect("+OK Capability list follows")
    read_multiline(c)
    c.sendline("AUTH PLAIN")
    c.expect("-ERR invalid command")
    c.sendline("PASS alicepw")  # the USER is gone
    c.expect("-ERR invalid command")
    assert auth.requests == []
    c.close()
    c, _ = connect(port)  # USER then PASS with CAPA and NOOP in between works
    c.sendline("USER alice")
    c.expect("+OK")
    c.sendline("NOOP")
    c.expect("+OK")
    c.sendline("PASS alicepw")
    c.expect_prefix("+OK")
    assert auth.last["Auth-User"] == "alice"
    mp.stop()


@timeout(20)
def test_max_errors_closes_connection():
    auth = users_auth()
    mp, port = proxy(auth.conf_url)
    c, _ = connect(port)
    for _ in range(4):
        c.sendline("FOO")
        c.expect("-ERR invalid command")
    c.sendline("NOOP")
    c.expect("+OK")
    c.sendline("BAR")  # the fifth invalid command (max_errors 5)
    assert c.expect_closed(5) == b"-ERR invalid command\r\n"
    mp.wait_log(r"too many invalid commands")
    # max_errors 2
    mp.stop()
    mp, port = proxy(auth.conf_url, server_extra="max_errors 2;")
    c, _ = connect(port)
    c.sendline("FOO")
    c.expect("-ERR invalid command")
    c.sendline("FOO")
    assert c.expect_closed(5) == b"-ERR invalid command\r\n"
    mp.stop()


def _line_limit(port, limit):
    """A line of limit-2 characters + CRLF fits; limit-1 + CRLF does not.
    The too-long line is sent without its line end so mproxy reads all of
    it (no unread bytes: a clean close, not a reset)."""
    c, _ = connect(port)
    fits = "USER " + "a" * (limit - 2 - 5)
    c.send(fits + "\r\n")
    c.expect("+OK")
    c.sendline("QUIT")
    c.expect("+OK")
    c.expect_closed(5)
    c, _ = connect(port)
    c.send("USER " + "a" * (limit - 5))  # `limit` bytes, no line end in sight
    assert c.expect_closed(5) == b"-ERR invalid command\r\n"
    c, _ = connect(port)
    c.send("USER " + "b" * (limit - 5 - 1) + "\r\n")  # limit + 1 bytes with CRLF
    # the LF stays unread when mproxy closes, so the close may be a reset
    # that overtakes the reply
    data = c.expect_closed(5)
    assert data in (b"", b"-ERR invalid command\r\n"), data


@timeout(30)
def test_overlong_lines_close_default_512():
    auth = users_auth()
    mp, port = proxy(auth.conf_url)
    _line_limit(port, 512)
    mp.wait_log(r"client sent too long command")
    c, _ = connect(port)  # still serving
    c.sendline("NOOP")
    c.expect("+OK")
    assert auth.requests == []
    mp.stop()


@timeout(30)
def test_overlong_lines_close_nginx_128():
    auth = users_auth()
    mp, port = proxy(auth.conf_url, server_extra="pop3_client_buffer 128;")
    _line_limit(port, 128)
    # A SASL response line is bounded the same way.
    c, _ = connect(port)
    c.sendline("AUTH PLAIN")
    c.expect("+ ")
    c.send("A" * 128)
    assert c.expect_closed(5) == b"-ERR invalid command\r\n"
    assert auth.requests == []
    mp.stop()


@timeout(20)
def test_client_idle_timeout():
    auth = users_auth()
    mp, port = proxy(auth.conf_url, server_extra="timeout 1s;")
    # timed from before connect: the timer starts at accept, and a
    # loaded machine may be slow to hand us the greeting
    start = time.monotonic()
    c, _ = connect(port)
    c.expect_closed(5)
    elapsed = time.monotonic() - start
    assert 0.95 <= elapsed < 3, f"timeout 1s closed after {elapsed:.2f}s"
    mp.stop()


# --- logins ----------------------------------------------------------------

@timeout(60)
def test_user_pass_poplib_and_retr_big_message():
    auth = users_auth()
    mp, port = proxy(auth.conf_url)
    p = pop3(port, timeout=30)
    assert re.match(GREETING_TS_RE, p.getwelcome().decode())
    assert p.user("alice").startswith(b"+OK")
    # the backend's +OK for PASS is what the client gets (nginx forwards it)
    assert p.pass_("alicepw") == b"+OK Logged in."
    req = auth.last
    assert req.line == "GET /auth HTTP/1.0", req.line
    names = [n for n in req.names() if n != "Connection"]
    assert names == NGINX_HEADER_ORDER, req.names()
    assert req["Auth-Method"] == "plain"
    assert req["Auth-User"] == "alice" and req["Auth-Pass"] == "alicepw"
    assert req["Auth-Protocol"] == "pop3"
    assert req["Auth-Login-Attempt"] == "1"
    assert req["Client-IP"] == "127.0.0.1"
    assert "Auth-Salt" not in req
    assert req.wire_ok(), req.raw
    count, _ = p.stat()
    assert count == 2
    data = retr_bytes(p, NUM["pop3-big"])
    assert sha256(data) == sha256(BIG), "3 MiB message changed on the way"
    assert retr_bytes(p, NUM["pop3-small"]) == SMALL
    p.quit()
    wait_session_line(mp, "127.0.0.1", ('protocol: pop3', 'login: "alice"'))
    mp.stop()


@timeout(30)
def test_apop_checked_by_auth_server():
    auth = users_auth()
    mp, port = proxy(auth.conf_url)
    p = pop3(port)
    ts = re.match(GREETING_TS_RE, p.getwelcome().decode()).group(1)
    assert p.apop("alice", "alicepw") == b"+OK Logged in."
    req = auth.last
    assert req["Auth-Method"] == "apop"
    assert req["Auth-User"] == "alice"
    assert req["Auth-Salt"] == ts, (req["Auth-Salt"], ts)
    assert req["Auth-Pass"] == apop_digest(ts, "alicepw")
    assert req.names().index("Auth-Salt") == req.names().index("Auth-Pass") + 1
    assert retr_bytes(p, NUM["pop3-small"]) == SMALL
    p.quit()
    mp.stop()


@timeout(30)
def test_apop_retry_after_auth_wait_keeps_timestamp():
    auth = users_auth(fail_wait=1)
    mp, port = proxy(auth.conf_url)
    c, ts = connect(port)
    start = time.monotonic()
    c.sendline(f"APOP alice {apop_digest(ts, 'wrong')}")
    c.expect("-ERR Invalid login or password", timeout=5)
    elapsed = time.monotonic() - start
    assert 0.9 <= elapsed < 3, f"Auth-Wait: 1 answered after {elapsed:.2f}s"
    # RFC 1939 7: the greeting's timestamp is the one to digest, again
    c.sendline(f"APOP alice {apop_digest(ts, 'alicepw')}")
    c.expect("+OK Logged in.")
    assert [r["Auth-Salt"] for r in auth.requests] == [ts, ts]
    assert [r["Auth-Login-Attempt"] for r in auth.requests] == ["1", "2"]
    assert stat_ok(c) == 2
    mp.stop()


@timeout(20)
def test_auth_plain_with_and_without_initial_response():
    auth = users_auth()
    mp, port = proxy(auth.conf_url)
    c, _ = connect(port)
    c.sendline("AUTH PLAIN")
    c.expect("+ ")  # nginx's empty continuation
    c.sendline(b64("\0alice\0alicepw"))
    c.expect("+OK Logged in.")
    assert auth.last["Auth-Method"] == "plain" and auth.last["Auth-User"] == "alice"
    assert stat_ok(c) == 2
    c.close()
    # RFC 5034 4 initial response; the authorization identity is dropped
    c, _ = connect(port)
    c.sendline("auth plain " + b64("admin\0alice\0alicepw"))
    c.expect("+OK Logged in.")
    assert auth.last["Auth-User"] == "alice" and auth.last["Auth-Pass"] == "alicepw"
    assert "Auth-Salt" not in auth.last
    c.close()
    # broken base64 or a PLAIN message without password: protocol errors
    c, _ = connect(port)
    c.sendline("AUTH PLAIN not-base64!")
    c.expect("-ERR invalid command")
    c.sendline("AUTH PLAIN " + b64("\0alice"))
    c.expect("-ERR invalid command")
    c.sendline("NOOP")
    c.expect("+OK")
    assert len(auth.requests) == 2
    mp.stop()


@timeout(20)
def test_auth_login_with_and_without_initial_response():
    auth = users_auth()
    mp, port = proxy(auth.conf_url)
    c, _ = connect(port)
    c.sendline("AUTH LOGIN")
    c.expect("+ VXNlcm5hbWU6")
    c.sendline(b64("alice"))
    c.expect("+ UGFzc3dvcmQ6")
    c.sendline(b64("alicepw"))
    c.expect("+OK Logged in.")
    # AUTH LOGIN is reported as "plain" (auth_http.md 2.2)
    assert auth.last["Auth-Method"] == "plain" and auth.last["Auth-Pass"] == "alicepw"
    c.close()
    c, _ = connect(port)
    c.sendline("AUTH LOGIN " + b64("alice"))
    c.expect("+ UGFzc3dvcmQ6")
    c.sendline(b64("alicepw"))
    c.expect("+OK Logged in.")
    assert stat_ok(c) == 2
    mp.stop()


@timeout(20)
def test_auth_cram_md5():
    auth = users_auth()
    mp, port = proxy(auth.conf_url)
    c, _ = connect(port)
    c.sendline("AUTH CRAM-MD5")
    challenge = unb64(c.expect_prefix("+ ")[2:])
    assert re.fullmatch(rb"<\d+\.\d+@mail\.example\.test>", challenge), challenge
    c.sendline(b64(cram_md5_response("alice", "alicepw", challenge)))
    c.expect("+OK Logged in.")
    req = auth.last
    assert req["Auth-Method"] == "cram-md5"
    assert req["Auth-Salt"].encode() == challenge
    assert re.fullmatch(r"[0-9a-f]{32}", req["Auth-Pass"]), req["Auth-Pass"]
    # the auth server sent Auth-Pass; mproxy logged in to Dovecot with it
    assert stat_ok(c) == 2
    c.close()
    c, _ = connect(port)
    c.sendline("AUTH CRAM-MD5 " + b64("x"))  # no initial response for CRAM-MD5
    c.expect("-ERR invalid command")
    mp.stop()


@timeout(20)
def test_auth_cancel():
    auth = users_auth()
    mp, port = proxy(auth.conf_url)
    c, _ = connect(port)
    for mech in ("PLAIN", "LOGIN", "CRAM-MD5"):
        c.sendline(f"AUTH {mech}")
        c.expect_prefix("+ ")
        c.sendline("*")  # RFC 5034 4: the client cancels; the server says -ERR
        c.expect_prefix("-ERR")
    c.sendline("AUTH LOGIN")
    c.expect_prefix("+ ")
    c.sendline(b64("alice"))
    c.expect_prefix("+ ")
    c.sendline("*")
    c.expect_prefix("-ERR")
    c.sendline("PASS alicepw")  # the cancelled LOGIN left no user behind
    c.expect("-ERR invalid command")
    c.sendline("NOOP")
    c.expect("+OK")
    assert auth.requests == [], "a cancelled AUTH reached the auth server"
    # cancelling is not a protocol error: more than max_errors cancels are fine
    for _ in range(6):
        c.sendline("AUTH PLAIN")
        c.expect("+ ")
        c.sendline("*")
        c.expect_prefix("-ERR")
    c.sendline("NOOP")
    c.expect("+OK")
    mp.stop()


@timeout(60)
def test_curl_each_mechanism():
    auth = users_auth()
    mp, port = proxy(auth.conf_url)
    for opts, method in (([], "cram-md5"),  # curl prefers CRAM-MD5 when offered
                         (["--login-options", "AUTH=+APOP"], "apop"),
                         (["--login-options", "AUTH=PLAIN"], "plain"),
                         (["--login-options", "AUTH=LOGIN"], "plain"),
                         (["--login-options", "AUTH=CRAM-MD5"], "cram-md5")):
        r = subprocess.run(["curl", "-sS", f"pop3://127.0.0.1:{port}/{NUM['pop3-small']}",
                            "-u", "alice:alicepw"] + opts, capture_output=True, timeout=20)
        assert r.returncode == 0, (opts, r.stderr)
        assert r.stdout == SMALL, (opts, r.stdout[:200])
        assert auth.last["Auth-Method"] == method, (opts, auth.last)
    # a LIST through curl ('/' = LIST)
    r = subprocess.run(["curl", "-sS", f"pop3://127.0.0.1:{port}/", "-u", "alice:alicepw",
                        "--login-options", "AUTH=PLAIN"], capture_output=True, timeout=20)
    assert r.returncode == 0, r.stderr
    assert len(r.stdout.splitlines()) == 2, r.stdout
    mp.stop()


@timeout(20)
def test_auth_server_user_and_pass_replace_client_credentials():
    auth = AuthServer(auth_ok(dovecot.pop3_port, user="bob", password="bobpw")).start()
    mp, port = proxy(auth.conf_url)
    p = pop3(port)
    p.user("frontuser")
    assert p.pass_("anything").startswith(b"+OK")
    assert auth.last["Auth-User"] == "frontuser"
    count, _ = p.stat()
    assert count == 1
    assert retr_bytes(p, 1) == BOB_ONLY
    p.quit()
    dovecot.wait_log(r"pop3\(bob\)")
    mp.stop()


@timeout(30)
def test_twenty_concurrent_sessions():
    auth = users_auth()
    mp, port = proxy(auth.conf_url)

    def one(i):
        p = pop3(port, timeout=20)
        if i % 2:
            p.apop("alice", "alicepw")
        else:
            p.user("alice")
            p.pass_("alicepw")
        data = retr_bytes(p, NUM["pop3-small"])
        p.quit()
        return data

    with concurrent.futures.ThreadPoolExecutor(20) as pool:
        results = list(pool.map(one, range(20)))
    assert all(r == SMALL for r in results)
    assert len(auth.requests) == 20
    mp.stop()


# --- pipelining ----------------------------------------------------------------

@timeout(20)
def test_pipelined_commands_answered_in_order():
    auth = users_auth()
    mp, port = proxy(auth.conf_url)
    c, _ = connect(port)
    # RFC 2449 6.6: several commands in one send, login included; the ones
    # after PASS go to the backend once the login is done
    c.send("CAPA\r\nNOOP\r\nUSER alice\r\nPASS alicepw\r\nSTAT\r\nNOOP\r\nQUIT\r\n")
    c.expect("+OK Capability list follows")
    assert read_multiline(c)[-1] == "SASL PLAIN LOGIN CRAM-MD5"
    c.expect("+OK")
    c.expect("+OK")
    c.expect("+OK Logged in.")
    c.expect_re(r"^\+OK 2 \d+$")
    c.expect("+OK")
    c.expect_prefix("+OK Logging out")
    c.expect_closed(5)
    assert len(auth.requests) == 1
    mp.stop()


@timeout(20)
def test_pipelined_sasl_and_retry_after_auth_wait():
    auth = users_auth(fail_wait=1)
    mp, port = proxy(auth.conf_url)
    c, _ = connect(port)
    # a failed login, then a good one, all in one send: the commands after
    # the failure wait in the buffer until Auth-Wait has passed
    c.send("USER alice\r\nPASS wrong\r\nAUTH PLAIN\r\n" + b64("\0alice\0alicepw")
           + "\r\nSTAT\r\n")
    c.expect("+OK")
    c.expect("-ERR Invalid login or password", timeout=5)
    c.expect("+ ")
    c.expect("+OK Logged in.")
    c.expect_re(r"^\+OK 2 \d+$")
    assert [r["Auth-Pass"] for r in auth.requests] == ["wrong", "alicepw"]
    assert [r["Auth-Login-Attempt"] for r in auth.requests] == ["1", "2"]
    mp.stop()


# --- failures ----------------------------------------------------------------

@timeout(20)
def test_wrong_password_without_auth_wait_closes():
    auth = users_auth()
    mp, port = proxy(auth.conf_url)
    c, _ = connect(port)
    c.sendline("USER alice")
    c.expect("+OK")
    c.sendline("PASS wrong")
    c.expect("-ERR Invalid login or password")
    c.expect_closed(5)
    mp.wait_log(r'client login failed: "Invalid login or password", login: "alice"')
    mp.stop()


@timeout(20)
def test_wrong_password_with_auth_wait_allows_retry():
    auth = users_auth(fail_wait=1, fail_text="Try again later")
    mp, port = proxy(auth.conf_url)
    c, _ = connect(port)
    c.sendline("USER alice")
    c.expect("+OK")
    start = time.monotonic()
    c.sendline("PASS wrong")
    c.expect("-ERR Try again later", timeout=5)
    elapsed = time.monotonic() - start
    assert 0.9 <= elapsed < 3, f"Auth-Wait: 1 answered after {elapsed:.2f}s"
    c.sendline("PASS alicepw")  # back in the start state: USER first
    c.expect("-ERR invalid command")
    c.sendline("USER alice")
    c.expect("+OK")
    c.sendline("PASS alicepw")
    c.expect("+OK Logged in.")
    assert [r["Auth-Login-Attempt"] for r in auth.requests] == ["1", "2"]
    assert stat_ok(c) == 2
    mp.stop()


@timeout(20)
def test_auth_server_down():
    mp, port = proxy(f"127.0.0.1:{closed_port()}/auth")
    c, _ = connect(port)
    c.sendline("USER alice")
    c.expect("+OK")
    c.sendline("PASS alicepw")
    assert_internal_error_and_close(c, mp, r"\[(error|crit|warn)\].*(refused|auth)")
    assert mp.alive()
    mp.stop()


@timeout(20)
def test_auth_server_stalls():
    auth = AuthServer(lambda req: STALL).start()
    mp, port = proxy(auth.conf_url, mail_extra="auth_http_timeout 1s;")
    c, _ = connect(port)
    start = time.monotonic()
    c.sendline("AUTH PLAIN " + b64("\0alice\0alicepw"))
    assert_internal_error_and_close(c, mp, r"(?i)timed? ?out")
    elapsed = time.monotonic() - start
    assert 0.8 <= elapsed < 4, f"auth_http_timeout 1s fired after {elapsed:.2f}s"
    mp.stop()


@timeout(20)
def test_auth_server_garbage_or_close():
    auth = AuthServer(auth_garbage()).start()
    mp, port = proxy(auth.conf_url)
    c, _ = connect(port)
    c.sendline("AUTH PLAIN " + b64("\0alice\0alicepw"))
    assert_internal_error_and_close(c, mp, r"\[(error|crit|warn)\].*auth")
    auth.set_policy(auth_close)
    c, ts = connect(port)
    c.sendline(f"APOP alice {apop_digest(ts, 'alicepw')}")
    c.expect("-ERR internal server error", timeout=10)
    c.expect_closed(5)
    # OK without a usable backend address is an error too (auth_http.md 2.3)
    auth.set_policy(lambda req: [("Auth-Status", "OK"), ("Auth-Server", "backend.example"),
                                 ("Auth-Port", "110")])
    c, _ = connect(port)
    c.sendline("USER alice")
    c.expect("+OK")
    c.sendline("PASS alicepw")
    c.expect("-ERR internal server error", timeout=10)
    c.expect_closed(5)
    assert mp.alive()
    mp.stop()


@timeout(20)
def test_apop_and_cram_md5_without_auth_pass_refused():
    backend, record = fake_backend()
    auth = AuthServer(auth_ok(backend.port)).start()  # no Auth-Pass
    mp, port = proxy(auth.conf_url)
    c, ts = connect(port)
    c.sendline(f"APOP alice {apop_digest(ts, 'alicepw')}")
    assert_internal_error_and_close(c, mp, r"\[error\].*did not send password")
    c, _ = connect(port)
    c.sendline("AUTH CRAM-MD5")
    challenge = unb64(c.expect_prefix("+ ")[2:])
    c.sendline(b64(cram_md5_response("alice", "alicepw", challenge)))
    c.expect("-ERR internal server error", timeout=10)
    c.expect_closed(5)
    assert len(mp.log_lines(r"\[error\].*did not send password")) == 2, mp.log()
    # the digest is no password: nothing went to the backend
    assert backend.accepted == 0 and record == []
    # a plain login may go on with the client's own password
    c, _ = connect(port)
    c.sendline("USER alice")
    c.expect("+OK")
    c.sendline("PASS alicepw")
    c.expect("+OK Logged in.")
    assert record[:2] == ["USER alice", "PASS alicepw"]
    mp.stop()


@timeout(20)
def test_backend_down():
    auth = AuthServer(auth_ok(closed_port(), password="alicepw")).start()
    mp, port = proxy(auth.conf_url)
    c, _ = connect(port)
    c.sendline("USER alice")
    c.expect("+OK")
    c.sendline("PASS alicepw")
    assert_internal_error_and_close(c, mp, r"\[(error|crit|warn)\].*(refused|connect)")
    assert mp.alive()
    mp.stop()


@timeout(30)
def test_backend_refuses_with_and_without_proxy_pass_error_message():
    for pass_error in (False, True):
        backend, record = fake_backend(pass_reply="-ERR [AUTH] Authentication failed.")
        auth = AuthServer(auth_ok(backend.port, password="backendpw")).start()
        mp, port = proxy(auth.conf_url, server_extra=(
            "proxy_pass_error_message on;" if pass_error else ""))
        c, _ = connect(port)
        c.sendline("USER alice")
        c.expect("+OK")
        c.sendline("PASS alicepw")
        want = "-ERR [AUTH] Authentication failed." if pass_error else "-ERR internal server error"
        c.expect(want, timeout=10)
        c.expect_closed(5)
        # the password towards the backend is the one from Auth-Pass
        assert record == ["USER alice", "PASS backendpw"], record
        mp.wait_log(r'\[error\].*upstream sent invalid response: "-ERR \[AUTH\] Authentication failed\."')
        assert "backendpw" not in mp.log() and "alicepw" not in mp.log()
        mp.stop()


@timeout(20)
def test_backend_bad_greeting():
    for pass_error in (False, True):
        backend, record = fake_backend(greeting="-ERR [SYS/TEMP] busy")
        auth = AuthServer(auth_ok(backend.port, password="x")).start()
        mp, port = proxy(auth.conf_url, server_extra=(
            "proxy_pass_error_message on;" if pass_error else ""))
        c, _ = connect(port)
        c.sendline("AUTH PLAIN " + b64("\0alice\0alicepw"))
        c.expect("-ERR [SYS/TEMP] busy" if pass_error else "-ERR internal server error", timeout=10)
        c.expect_closed(5)
        assert record == [], "USER sent after a refusing greeting"
        mp.stop()
    # not POP3 at all: always the generic error
    backend, record = fake_backend(greeting="* OK IMAP4rev1 ready")
    auth = AuthServer(auth_ok(backend.port, password="x")).start()
    mp, port = proxy(auth.conf_url, server_extra="proxy_pass_error_message on;")
    c, _ = connect(port)
    c.sendline("AUTH PLAIN " + b64("\0alice\0alicepw"))
    c.expect("-ERR internal server error", timeout=10)
    c.expect_closed(5)
    mp.stop()


# --- credentials that must not cross into another protocol -----------------

@timeout(30)
def test_crlf_nul_in_sasl_credentials_never_reach_auth_or_backend():
    backend, record = fake_backend()
    auth = AuthServer(auth_ok(backend.port)).start()
    mp, port = proxy(auth.conf_url, server_extra="max_errors 20;")
    c, _ = connect(port)
    # PLAIN, initial response: CR LF inside the password
    c.sendline("AUTH PLAIN " + b64("\0alice\0alicepw\r\nX-Injected: 1"))
    c.expect("-ERR invalid credentials")
    # PLAIN after the continuation: LF inside the user
    c.sendline("AUTH PLAIN")
    c.expect("+ ")
    c.sendline(b64("\0ali\nce\0alicepw"))
    c.expect("-ERR invalid credentials")
    # LOGIN: CR LF in the user name (as initial response and as a step)
    c.sendline("AUTH LOGIN " + b64("alice\r\nX-Injected: 2"))
    c.expect("-ERR invalid credentials")
    c.sendline("AUTH LOGIN")
    c.expect("+ VXNlcm5hbWU6")
    c.sendline(b64("alice\r\nPASS x"))
    c.expect("-ERR invalid credentials")
    # LOGIN: NUL and CR in the password
    for pw in ("alice\0pw", "alicepw\rQUIT"):
        c.sendline("AUTH LOGIN " + b64("alice"))
        c.expect("+ UGFzc3dvcmQ6")
        c.sendline(b64(pw))
        c.expect("-ERR invalid credentials")
    # CRAM-MD5: a user name with CR LF
    c.sendline("AUTH CRAM-MD5")
    challenge = unb64(c.expect_prefix("+ ")[2:])
    c.sendline(b64(cram_md5_response("alice\r\nX-Injected: 3", "alicepw", challenge)))
    c.expect("-ERR invalid credentials")
    # A bare CR inside USER/PASS lines (not a line end) is a syntax error
    c.send("USER alice\rX\r\n")
    c.expect("-ERR invalid command")
    assert auth.requests == [], f"refused credentials reached the auth server: {auth.requests}"
    # the same session still logs in; the backend sees exactly USER and PASS
    c.sendline("USER alice")
    c.expect("+OK")
    c.sendline("PASS alicepw")
    c.expect("+OK Logged in.")
    c.sendline("QUIT")
    c.expect("+OK relayed QUIT")
    assert len(auth.requests) == 1 and auth.last.wire_ok(), auth.requests
    assert record == ["USER alice", "PASS alicepw", "QUIT"], record
    mp.wait_log(r"client sent credentials with CR, LF or NUL")
    mp.stop()


@timeout(20)
def test_unsafe_credentials_from_auth_server_refused():
    backend, record = fake_backend()
    for user, pw in (("bo\tb", "bobpw"), ("bob", "bob\x01pw")):
        auth = AuthServer(auth_ok(backend.port, user=user, password=pw)).start()
        mp, port = proxy(auth.conf_url)
        c, _ = connect(port)
        c.sendline("AUTH PLAIN " + b64("\0alice\0alicepw"))
        assert_internal_error_and_close(c, mp, r"\[error\].*auth http server sent invalid")
        mp.stop()
        auth.stop()
    assert backend.accepted == 0 and record == []


# --- the relay -------------------------------------------------------------

@timeout(20)
def test_proxy_idle_timeout():
    auth = users_auth()
    mp, port = proxy(auth.conf_url, server_extra="proxy_timeout 1s;")
    c, _ = connect(port)
    c.sendline("USER alice")
    c.expect("+OK")
    c.sendline("PASS alicepw")
    c.expect("+OK Logged in.")
    start = time.monotonic()
    c.expect_closed(5)
    elapsed = time.monotonic() - start
    assert 0.8 <= elapsed < 3, f"proxy_timeout 1s closed after {elapsed:.2f}s"
    mp.stop()


@timeout(30)
def test_client_closes_mid_retr():
    auth = users_auth()
    mp, port = proxy(auth.conf_url)
    src = client_ip()
    c, _ = connect(port, source=src)
    c.sendline("USER alice")
    c.expect("+OK")
    c.sendline("PASS alicepw")
    c.expect("+OK Logged in.")
    c.sendline(f"RETR {NUM['pop3-big']}")
    c.read_exact(65536, 10)
    # Close with unread data: the kernel sends RST.
    c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    c.close()
    wait_session_line(mp, src, ('protocol: pop3', 'login: "alice"'))
    c, _ = connect(port)  # mproxy is still up
    c.sendline("NOOP")
    c.expect("+OK")
    mp.stop()


@timeout(20)
def test_session_summary_line():
    auth = users_auth()
    mp, port = proxy(auth.conf_url)
    src = client_ip()
    p = pop3(port, source=src)
    p.user("bob")
    p.pass_("bobpw")
    p.quit()
    line = wait_session_line(mp, src, ('protocol: pop3', 'login: "bob"'))
    assert re.search(r"\[info\] \d+#0: ", line), line
    assert "bobpw" not in mp.log(), "a password appeared in the log"
    # A session that never logs in gets its line too.
    src2 = client_ip()
    c, _ = connect(port, source=src2)
    c.sendline("QUIT")
    c.expect("+OK")
    c.expect_closed()
    wait_session_line(mp, src2, ('protocol: pop3',))
    mp.stop()


# --- client identity toward the backend (proxy_client_id, beyond nginx) -----

def _login_quit(c):
    c.sendline("USER alice")
    c.expect("+OK")
    c.sendline("PASS alicepw")
    c.expect_prefix("+OK")
    c.sendline("QUIT")
    c.expect_prefix("+OK")


@timeout(30)
def test_proxy_client_id_xclient_tells_dovecot_the_real_client():
    """With proxy_client_id on, Dovecot (which announces [XCLIENT] to trusted
    networks) logs the client's own address; without it, mproxy's."""
    auth = users_auth()
    for on in (True, False):
        ip = client_ip()
        mp, port = proxy(auth.conf_url, server_extra="proxy_client_id on;" if on else "")
        try:
            c, _ = connect(port, source=ip)
            _login_quit(c)
            if on:
                dovecot.wait_log(rf"pop3-login: .*Login: user=<alice>.*rip={re.escape(ip)}\b", 10)
            else:
                dovecot.wait_log(r"pop3-login: .*Login: user=<alice>.*rip=127\.0\.0\.1\b", 10)
                assert not re.search(rf"rip={re.escape(ip)}\b", dovecot.log())
        finally:
            mp.stop()
    auth.stop()


@timeout(30)
def test_proxy_client_id_exact_line_refusal_and_client_xclient():
    ip = client_ip()
    # the exact command, ahead of USER
    backend, record = fake_backend(greeting="+OK [XCLIENT] fake ready")
    auth = AuthServer(auth_ok(backend.port, password="pw")).start()
    mp, port = proxy(auth.conf_url, server_extra="proxy_client_id on;")
    c, _ = connect(port, source=ip)
    cport = c.sock.getsockname()[1]
    # a client's own XCLIENT is just an unknown command before login
    c.sendline("XCLIENT ADDR=10.9.9.9 PORT=1")
    c.expect("-ERR invalid command")
    _login_quit(c)
    assert record == [f"XCLIENT ADDR={ip} PORT={cport}", "USER alice", "PASS pw", "QUIT"], record
    mp.stop()
    # a backend that refuses XCLIENT still gets the login (and mproxy warns)
    backend, record = fake_backend(greeting="+OK [XCLIENT] fake ready",
                                   xclient_reply="-ERR not from you")
    auth = AuthServer(auth_ok(backend.port, password="pw")).start()
    mp, port = proxy(auth.conf_url, server_extra="proxy_client_id on;")
    c, _ = connect(port, source=ip)
    _login_quit(c)
    assert record[0].startswith("XCLIENT ") and record[1:3] == ["USER alice", "PASS pw"], record
    mp.wait_log(r"\[warn\].*upstream refused XCLIENT")
    mp.stop()
    # no [XCLIENT] in the greeting, or proxy_client_id off: no XCLIENT
    for greeting, extra in (("+OK fake ready", "proxy_client_id on;"),
                            ("+OK [XCLIENT] fake ready", "")):
        backend, record = fake_backend(greeting=greeting)
        auth = AuthServer(auth_ok(backend.port, password="pw")).start()
        mp, port = proxy(auth.conf_url, server_extra=extra)
        c, _ = connect(port, source=ip)
        _login_quit(c)
        assert record[:2] == ["USER alice", "PASS pw"], record
        mp.stop()
