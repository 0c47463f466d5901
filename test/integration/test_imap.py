"""The IMAP proxy, end to end: real clients -> mproxy -> Dovecot, with the
auth_http test server recording what mproxy asks.

Behaviour follows nginx's mail proxy (reference/nginx-behaviour.md,
auth_http.md); mproxy's additions: the greeting carries [CAPABILITY ...], ID
is answered pre-auth, SASL-IR and LITERAL- are advertised, an over-size
literal is refused without a continuation, one summary line per session.
"""

import concurrent.futures
import re
import socket
import struct
import subprocess
import threading
import time

from harness import (AuthServer, Dovecot, IMAP4, LineClient, Mproxy, STALL, TcpServer,
                     auth_close, auth_garbage, auth_ok, auth_users, b64, big_message,
                     client_ip, closed_port, cram_md5_response, free_port, sha256,
                     timeout, unb64, wait_session_line)

USERS = {
    "alice": "alicepw",
    "bob": "bobpw",
    "carol": "carolpw",           # IDLE test only
    "dave": 's3cr3t "quoted" pw',  # password with spaces and quotes
}

CAPS = "IMAP4 IMAP4rev1 UIDPLUS ID SASL-IR LITERAL- AUTH=PLAIN AUTH=LOGIN AUTH=CRAM-MD5"
GREETING = f"* OK [CAPABILITY {CAPS}] IMAP4 ready"
# nginx's order; mproxy adds one header at the end to keep the connection
# open between logins (a server that ignores it behaves as with nginx).
NGINX_HEADER_ORDER = ["Host", "Auth-Method", "Auth-User", "Auth-Pass", "Auth-Protocol",
                      "Auth-Login-Attempt", "Client-IP", "Connection"]

dovecot = None
BIG = big_message(3 * 1024 * 1024, "imap-big")
SMALL = b"From: s@example.test\r\nSubject: imap-small\r\n\r\nsmall body\r\n"
BOB_ONLY = b"From: s@example.test\r\nSubject: bob-only\r\n\r\nfor bob\r\n"
UID = {}


def setup_module():
    global dovecot
    dovecot = Dovecot(USERS).start()
    dovecot.deliver("alice", BIG)
    dovecot.deliver("alice", SMALL)
    dovecot.deliver("bob", BOB_ONLY)
    # Learn the UIDs straight from Dovecot, so tests can FETCH by UID.
    m = IMAP4(dovecot.imap_port)
    m.login("alice", "alicepw")
    m.select("INBOX", readonly=True)
    for name, subject in (("big", "imap-big"), ("small", "imap-small")):
        typ, data = m.uid("SEARCH", None, "HEADER", "Subject", subject)
        assert typ == "OK" and data[0], f"message {subject} not found in Dovecot"
        UID[name] = data[0].split()[-1].decode()
    m.logout()


def teardown_module():
    dovecot.stop()


# --- helpers ---------------------------------------------------------------

def users_auth(**kw):
    """An auth server that checks USERS and sends Dovecot's IMAP port."""
    return AuthServer(auth_users(USERS, dovecot.imap_port, **kw)).start()


def proxy(auth_url, mail_extra="", server_extra="", port=None):
    """mproxy with the configuration under test; returns (Mproxy, port)."""
    port = port or free_port()
    block = f"""
    server_name mail.example.test;
    auth_http {auth_url};
    {mail_extra}
    server {{
        listen 127.0.0.1:{port};
        protocol imap;
        imap_auth plain login cram-md5;
        {server_extra}
    }}
"""
    return Mproxy(block), port


def connect(port, source=None, timeout=10):
    """A raw client that has read the greeting."""
    c = LineClient(port, source=source, timeout=timeout)
    c.expect_prefix("* OK")
    return c


def tagged_ok(lines, tag):
    assert lines[-1].startswith(f"{tag} OK"), f"expected {tag} OK, got {lines}"


def login_raw(c, user="alice", password="alicepw", tag="L"):
    c.sendline(f"{tag} LOGIN {user} {password}")
    tagged_ok(c.read_tagged(tag), tag)


def select_exists(c, tag="S"):
    c.sendline(f"{tag} SELECT INBOX")
    lines = c.read_tagged(tag)
    tagged_ok(lines, tag)
    return int(next(ln.split()[1] for ln in lines if re.match(r"^\* \d+ EXISTS$", ln)))


def fetch_literal(c, uid, tag="F"):
    """UID FETCH BODY.PEEK[] over a raw client; returns the message bytes."""
    c.sendline(f"{tag} UID FETCH {uid} (BODY.PEEK[])")
    line = c.readline(20)
    m = re.search(r"\{(\d+)\}$", line)
    assert line.startswith("* ") and m, f"unexpected FETCH response {line!r}"
    data = c.read_exact(int(m.group(1)), 30)
    tagged_ok(c.read_tagged(tag, 20), tag)
    return data


def assert_internal_error_and_close(c, mp, log_regex):
    """nginx's answer to any auth/backend failure: '* BAD internal server
    error', then close; and the reason in the log."""
    c.expect("* BAD internal server error", timeout=10)
    c.expect_closed(5)
    mp.wait_log(log_regex, timeout=5)


# --- pre-authentication commands --------------------------------------------

@timeout(20)
def test_greeting_capability_noop():
    auth = users_auth()
    mp, port = proxy(auth.conf_url)
    c = LineClient(port)
    c.expect(GREETING)
    c.sendline("a CAPABILITY")
    c.expect(f"* CAPABILITY {CAPS}")
    c.expect("a OK completed")
    c.sendline("b NOOP")
    c.expect("b OK completed")
    c.sendline("c capability")  # commands are case-insensitive (RFC 3501 9)
    c.expect(f"* CAPABILITY {CAPS}")
    c.expect("c OK completed")
    c.close()
    assert auth.requests == []
    mp.stop()


@timeout(20)
def test_capabilities_not_listed_twice():
    auth = users_auth()
    mp, port = proxy(auth.conf_url, server_extra="imap_capabilities IMAP4rev1 LITERAL+ ID IDLE;")
    c = LineClient(port)
    caps = "IMAP4rev1 LITERAL+ ID IDLE SASL-IR AUTH=PLAIN AUTH=LOGIN AUTH=CRAM-MD5"
    c.expect(f"* OK [CAPABILITY {caps}] IMAP4 ready")
    c.sendline("a CAPABILITY")
    c.expect(f"* CAPABILITY {caps}")
    c.expect("a OK completed")
    mp.stop()


@timeout(20)
def test_id_logout():
    auth = users_auth()
    mp, port = proxy(auth.conf_url)
    c = connect(port)
    c.sendline('a ID ("name" "x")')
    c.expect("* ID NIL")
    c.expect("a OK completed")
    c.sendline("b ID NIL")
    c.expect("* ID NIL")
    c.expect("b OK completed")
    c.sendline("z LOGOUT")
    c.expect_prefix("* BYE")
    c.expect("z OK completed")
    c.expect_closed(5)
    mp.stop()


@timeout(20)
def test_invalid_commands_and_starttls_without_tls():
    auth = users_auth()
    mp, port = proxy(auth.conf_url)
    c = connect(port)
    c.sendline("a FOO")
    c.expect("a BAD invalid command")
    c.sendline("b STARTTLS")
    c.expect("b BAD invalid command")
    c.sendline("c SELECT INBOX")  # not valid before authentication
    c.expect("c BAD invalid command")
    c.sendline("d NOOP")
    c.expect("d OK completed")
    c.close()
    mp.stop()


@timeout(20)
def test_max_errors_closes_connection():
    auth = users_auth()
    mp, port = proxy(auth.conf_url)
    c = connect(port)
    for i in range(4):
        c.sendline(f"e{i} FOO")
        c.expect(f"e{i} BAD invalid command")
    c.sendline("n NOOP")
    c.expect("n OK completed")
    c.sendline("e5 FOO")  # the fifth invalid command (max_errors 5)
    c.expect_closed(5)
    mp.stop()


# --- logins -----------------------------------------------------------------

@timeout(60)
def test_login_plain_and_fetch_big_message():
    auth = users_auth()
    mp, port = proxy(auth.conf_url)
    m = IMAP4(port, timeout=30)
    m.login("alice", "alicepw")
    req = auth.last
    assert req.line == "GET /auth HTTP/1.0", req.line
    assert req.names() == NGINX_HEADER_ORDER, req.names()
    assert req["Auth-Method"] == "plain"
    assert req["Auth-User"] == "alice"
    assert req["Auth-Pass"] == "alicepw"
    assert req["Auth-Protocol"] == "imap"
    assert req["Auth-Login-Attempt"] == "1"
    assert req["Client-IP"] == "127.0.0.1"
    assert req["Connection"] == "keep-alive"
    assert req["Host"] == "127.0.0.1", req["Host"]  # the host alone, as nginx sends it
    assert req.wire_ok(), req.raw
    typ, _ = m.select("INBOX")
    assert typ == "OK"
    typ, data = m.uid("FETCH", UID["big"], "(BODY.PEEK[])")
    assert typ == "OK"
    assert sha256(data[0][1]) == sha256(BIG), "3 MiB message changed on the way"
    m.logout()
    wait_session_line(mp, "127.0.0.1", ('protocol: imap', 'login: "alice"'))
    mp.stop()


@timeout(20)
def test_login_quoted_strings():
    auth = users_auth()
    mp, port = proxy(auth.conf_url)
    c = connect(port)
    # RFC 3501 4.3: quoted strings; \" and \\ are the only escapes.
    c.sendline('a LOGIN "dave" "s3cr3t \\"quoted\\" pw"')
    tagged_ok(c.read_tagged("a"), "a")
    req = auth.last
    assert req["Auth-User"] == "dave"
    assert req["Auth-Pass"] == 's3cr3t%20"quoted"%20pw', req["Auth-Pass"]
    select_exists(c)
    c.close()
    # A login with a space: escaped as %20 towards the auth server.
    c = connect(port)
    c.sendline('b LOGIN "al ice" "x y"')
    c.expect_prefix("b NO")
    assert auth.last["Auth-User"] == "al%20ice" and auth.last["Auth-Pass"] == "x%20y"
    mp.stop()


@timeout(20)
def test_login_synchronising_literals():
    auth = users_auth()
    mp, port = proxy(auth.conf_url)
    c = connect(port)
    c.sendline("a LOGIN {5}")
    c.expect_prefix("+")
    c.sendline("alice {7}")
    c.expect_prefix("+")
    c.sendline("alicepw")
    tagged_ok(c.read_tagged("a"), "a")
    assert auth.last["Auth-User"] == "alice" and auth.last["Auth-Pass"] == "alicepw"
    assert select_exists(c) >= 2
    mp.stop()


@timeout(20)
def test_login_non_synchronising_literals():
    auth = users_auth()
    mp, port = proxy(auth.conf_url)
    c = connect(port)
    # RFC 7888: {n+} needs no continuation; everything in one write.
    c.send("a LOGIN {5+}\r\nalice {7+}\r\nalicepw\r\n")
    lines = c.read_tagged("a")
    assert not any(ln.startswith("+") for ln in lines), lines
    tagged_ok(lines, "a")
    assert auth.last["Auth-User"] == "alice" and auth.last["Auth-Pass"] == "alicepw"
    mp.stop()


@timeout(20)
def test_authenticate_plain_with_and_without_initial_response():
    auth = users_auth()
    mp, port = proxy(auth.conf_url)
    c = connect(port)
    c.sendline("a AUTHENTICATE PLAIN")
    c.expect_prefix("+")
    c.sendline(b64("\0alice\0alicepw"))
    tagged_ok(c.read_tagged("a"), "a")
    assert auth.last["Auth-Method"] == "plain" and auth.last["Auth-User"] == "alice"
    c.close()
    # RFC 4959 SASL-IR; the authorization identity is dropped (as nginx does).
    c = connect(port)
    c.sendline("b AUTHENTICATE PLAIN " + b64("admin\0alice\0alicepw"))
    lines = c.read_tagged("b")
    assert not any(ln.startswith("+") for ln in lines), lines
    tagged_ok(lines, "b")
    assert auth.last["Auth-User"] == "alice" and auth.last["Auth-Pass"] == "alicepw"
    assert select_exists(c) >= 2
    mp.stop()


@timeout(20)
def test_authenticate_login():
    auth = users_auth()
    mp, port = proxy(auth.conf_url)
    c = connect(port)
    c.sendline("a AUTHENTICATE LOGIN")
    assert unb64(c.expect_prefix("+ ")[2:]) == b"Username:"
    c.sendline(b64("alice"))
    assert unb64(c.expect_prefix("+ ")[2:]) == b"Password:"
    c.sendline(b64("alicepw"))
    tagged_ok(c.read_tagged("a"), "a")
    # AUTH LOGIN is reported as "plain" (auth_http.md 2.2)
    assert auth.last["Auth-Method"] == "plain" and auth.last["Auth-User"] == "alice"
    c.close()
    # With the user name as initial response.
    c = connect(port)
    c.sendline("b AUTHENTICATE LOGIN " + b64("alice"))
    assert unb64(c.expect_prefix("+ ")[2:]) == b"Password:"
    c.sendline(b64("alicepw"))
    tagged_ok(c.read_tagged("b"), "b")
    mp.stop()


@timeout(20)
def test_authenticate_cram_md5():
    auth = users_auth()
    mp, port = proxy(auth.conf_url)
    c = connect(port)
    c.sendline("a AUTHENTICATE CRAM-MD5")
    challenge = unb64(c.expect_prefix("+ ")[2:])
    assert re.fullmatch(rb"<\d+\.\d+@mail\.example\.test>", challenge), challenge
    c.sendline(b64(cram_md5_response("alice", "alicepw", challenge)))
    tagged_ok(c.read_tagged("a"), "a")
    req = auth.last
    assert req["Auth-Method"] == "cram-md5"
    assert req["Auth-Salt"].encode() == challenge
    assert re.fullmatch(r"[0-9a-f]{32}", req["Auth-Pass"]), req["Auth-Pass"]
    assert req.names().index("Auth-Salt") == req.names().index("Auth-Pass") + 1
    # the auth server sent Auth-Pass; mproxy logs in to Dovecot with it
    assert select_exists(c) >= 2
    c.close()
    # A second session gets a different challenge.
    c = connect(port)
    c.sendline("b AUTHENTICATE CRAM-MD5")
    assert unb64(c.expect_prefix("+ ")[2:]) != challenge
    mp.stop()


@timeout(20)
def test_authenticate_cancel():
    auth = users_auth()
    mp, port = proxy(auth.conf_url)
    c = connect(port)
    c.sendline("a AUTHENTICATE PLAIN")
    c.expect_prefix("+")
    c.sendline("*")  # RFC 3501 6.2.2: the client cancels
    c.expect_prefix("a BAD")
    c.sendline("b NOOP")
    c.expect("b OK completed")
    c.sendline("c AUTHENTICATE LOGIN")
    c.expect_prefix("+ ")
    c.sendline("*")
    c.expect_prefix("c BAD")
    assert auth.requests == [], "a cancelled AUTHENTICATE reached the auth server"
    mp.stop()


@timeout(20)
def test_sasl_crlf_in_password_never_reaches_auth_request_raw():
    auth = users_auth()
    mp, port = proxy(auth.conf_url)
    c = connect(port)
    c.sendline("a AUTHENTICATE PLAIN " + b64("\0alice\0alicepw\r\nX-Injected: 1"))
    line = c.readline()
    assert re.match(r"^(a (NO|BAD)|\* BAD)", line), f"CR/LF password not refused: {line!r}"
    for req in auth.requests:
        assert req.wire_ok(), req.raw
        assert "X-Injected" not in req.names(), req.raw
        assert "\r" not in req.get("Auth-Pass", "") and "\n" not in req.get("Auth-Pass", "")
    c.close()
    c = connect(port)
    c.sendline("b AUTHENTICATE LOGIN")
    c.expect_prefix("+ ")
    c.sendline(b64("alice\r\nX-Injected: 2"))
    while True:  # a second challenge or a refusal; never a raw header
        line = c.readline()
        if line.startswith("+ "):
            c.sendline(b64("alicepw"))
            continue
        break
    assert re.match(r"^(b (NO|BAD)|\* BAD)", line), line
    for req in auth.requests:
        assert req.wire_ok() and "X-Injected" not in req.names(), req.raw
    mp.stop()


@timeout(30)
def test_curl_fetches_message():
    auth = users_auth()
    mp, port = proxy(auth.conf_url)
    r = subprocess.run(["curl", "-sS", f"imap://127.0.0.1:{port}/INBOX;UID={UID['small']}",
                        "-u", "alice:alicepw", "--login-options", "AUTH=PLAIN"],
                       capture_output=True, timeout=20)
    assert r.returncode == 0, r.stderr
    assert r.stdout == SMALL, r.stdout[:200]
    assert auth.last["Auth-Method"] == "plain"
    mp.stop()


# --- failures ---------------------------------------------------------------

@timeout(20)
def test_wrong_password_with_auth_wait_allows_retry():
    auth = users_auth(fail_wait=1)
    mp, port = proxy(auth.conf_url)
    c = connect(port)
    start = time.monotonic()
    c.sendline("a LOGIN alice wrong")
    c.expect("a NO Invalid login or password", timeout=5)
    elapsed = time.monotonic() - start
    assert 0.9 <= elapsed < 3, f"Auth-Wait: 1 answered after {elapsed:.2f}s"
    c.sendline("b LOGIN alice alicepw")
    tagged_ok(c.read_tagged("b"), "b")
    assert [r["Auth-Login-Attempt"] for r in auth.requests] == ["1", "2"]
    assert auth.requests[1]["Auth-Pass"] == "alicepw"
    assert select_exists(c) >= 2
    mp.stop()


@timeout(20)
def test_wrong_password_without_auth_wait_closes():
    auth = users_auth()
    mp, port = proxy(auth.conf_url)
    c = connect(port)
    c.sendline("a LOGIN alice wrong")
    c.expect("a NO Invalid login or password")
    c.expect_closed(5)
    mp.stop()


@timeout(20)
def test_auth_server_down():
    mp, port = proxy(f"127.0.0.1:{closed_port()}/auth")
    c = connect(port)
    c.sendline("a LOGIN alice alicepw")
    assert_internal_error_and_close(c, mp, r"\[(error|crit|warn)\].*(refused|auth)")
    assert mp.alive()
    mp.stop()


@timeout(20)
def test_auth_server_stalls():
    auth = AuthServer(lambda req: STALL).start()
    mp, port = proxy(auth.conf_url, mail_extra="auth_http_timeout 1s;")
    c = connect(port)
    start = time.monotonic()
    c.sendline("a LOGIN alice alicepw")
    assert_internal_error_and_close(c, mp, r"(?i)timed? ?out")
    elapsed = time.monotonic() - start
    assert 0.8 <= elapsed < 4, f"auth_http_timeout 1s fired after {elapsed:.2f}s"
    mp.stop()


@timeout(20)
def test_auth_server_garbage_or_close():
    auth = AuthServer(auth_garbage()).start()
    mp, port = proxy(auth.conf_url)
    c = connect(port)
    c.sendline("a LOGIN alice alicepw")
    assert_internal_error_and_close(c, mp, r"\[(error|crit|warn)\].*auth")
    auth.set_policy(auth_close)
    c = connect(port)
    c.sendline("b LOGIN alice alicepw")
    c.expect("* BAD internal server error", timeout=10)
    c.expect_closed(5)
    # OK without a usable backend address is an error too (auth_http.md 2.3)
    auth.set_policy(lambda req: [("Auth-Status", "OK"), ("Auth-Server", "backend.example"),
                                 ("Auth-Port", "143")])
    c = connect(port)
    c.sendline("c LOGIN alice alicepw")
    c.expect("* BAD internal server error", timeout=10)
    c.expect_closed(5)
    assert mp.alive()
    mp.stop()


@timeout(20)
def test_backend_down():
    auth = AuthServer(auth_ok(closed_port(), password="alicepw")).start()
    mp, port = proxy(auth.conf_url)
    src = client_ip()
    c = connect(port, source=src)
    c.sendline("a LOGIN alice alicepw")
    assert_internal_error_and_close(c, mp, r"\[(error|crit|warn)\].*(refused|connect)")
    assert mp.alive()
    mp.stop()


@timeout(20)
def test_auth_server_user_and_pass_replace_client_credentials():
    auth = AuthServer(auth_ok(dovecot.imap_port, user="bob", password="bobpw")).start()
    mp, port = proxy(auth.conf_url)
    m = IMAP4(port)
    m.login("frontuser", "anything")
    assert auth.last["Auth-User"] == "frontuser"
    m.select("INBOX", readonly=True)
    typ, data = m.uid("SEARCH", None, "HEADER", "Subject", "bob-only")
    assert typ == "OK" and data[0], "not logged in to bob's mailbox"
    m.logout()
    dovecot.wait_log(r"imap\(bob\)")
    mp.stop()


# --- the relay --------------------------------------------------------------

@timeout(30)
def test_idle_across_proxy():
    auth = users_auth()
    mp, port = proxy(auth.conf_url)
    c = connect(port)
    login_raw(c, "carol", "carolpw")
    n = select_exists(c)
    c.sendline("i IDLE")  # RFC 2177
    c.expect_prefix("+")
    dovecot.deliver("carol", b"Subject: idle\r\n\r\nnew mail\r\n")
    c.expect(f"* {n + 1} EXISTS", timeout=10)
    c.sendline("DONE")
    tagged_ok(c.read_tagged("i"), "i")
    mp.stop()


@timeout(20)
def test_pipelined_commands_answered_in_order():
    auth = users_auth()
    mp, port = proxy(auth.conf_url)
    c = connect(port)
    c.send("a CAPABILITY\r\nb NOOP\r\nc LOGIN alice alicepw\r\n")
    c.expect_prefix("* CAPABILITY ")
    c.expect("a OK completed")
    c.expect("b OK completed")
    tagged_ok(c.read_tagged("c"), "c")
    assert select_exists(c, "d") >= 2
    mp.stop()


@timeout(20)
def test_command_longer_than_buffer_closes():
    auth = users_auth()
    mp, port = proxy(auth.conf_url, server_extra="imap_client_buffer 1k;")
    c = connect(port)
    try:
        c.send("a LOGIN alice " + "x" * 3000 + "\r\n")
    except (BrokenPipeError, ConnectionResetError):
        pass
    data = c.expect_closed(5)
    assert data == b"" or re.match(rb"^(\* |a )BAD", data), data
    c = connect(port)  # still serving
    c.sendline("b NOOP")
    c.expect("b OK completed")
    assert auth.requests == []
    mp.stop()


@timeout(20)
def test_preauth_literal_larger_than_buffer_refused():
    auth = users_auth()
    mp, port = proxy(auth.conf_url)
    c = connect(port)
    c.sendline("a LOGIN {100000}")
    try:
        line = c.readline()
    except AssertionError:
        line = ""  # closed without a reply is acceptable too
    assert not line.startswith("+"), "continuation sent for a literal that cannot fit"
    assert line == "" or re.match(r"^(a|\*) (BAD|NO)\b", line), line
    c = connect(port)
    c.send("b LOGIN {100000+}\r\n")
    data = c.read_available(1.0)
    assert not data.startswith(b"+") and b"OK" not in data, data
    assert auth.requests == []
    mp.stop()


@timeout(20)
def test_client_idle_timeout():
    auth = users_auth()
    mp, port = proxy(auth.conf_url, server_extra="timeout 1s;")
    # timed from before connect: the timer starts at accept, and a
    # loaded machine may be slow to hand us the greeting
    start = time.monotonic()
    c = connect(port)
    c.expect_closed(5)
    elapsed = time.monotonic() - start
    assert 0.95 <= elapsed < 3, f"timeout 1s closed after {elapsed:.2f}s"
    mp.stop()


@timeout(20)
def test_proxy_idle_timeout():
    auth = users_auth()
    mp, port = proxy(auth.conf_url, server_extra="proxy_timeout 1s;")
    c = connect(port)
    login_raw(c)
    start = time.monotonic()
    c.expect_closed(5)
    elapsed = time.monotonic() - start
    assert 0.8 <= elapsed < 3, f"proxy_timeout 1s closed after {elapsed:.2f}s"
    mp.stop()


@timeout(90)
def test_fifty_concurrent_sessions():
    auth = users_auth()
    mp, port = proxy(auth.conf_url)
    n = 50
    barrier = threading.Barrier(n, timeout=30)

    def one(i):
        m = IMAP4(port, timeout=30)
        barrier.wait()  # all 50 connected before anyone logs in
        m.login("alice", "alicepw")
        m.select("INBOX", readonly=True)
        typ, data = m.uid("FETCH", UID["small"], "(BODY.PEEK[])")
        assert typ == "OK"
        m.logout()
        return data[0][1]

    with concurrent.futures.ThreadPoolExecutor(n) as pool:
        results = list(pool.map(one, range(n)))
    assert all(r == SMALL for r in results)
    assert len(auth.requests) == n
    mp.stop()


@timeout(30)
def test_client_closes_mid_relay():
    auth = users_auth()
    mp, port = proxy(auth.conf_url)
    src = client_ip()
    c = connect(port, source=src)
    login_raw(c)
    select_exists(c)
    c.sendline(f"f UID FETCH {UID['big']} (BODY.PEEK[])")
    c.read_exact(65536, 10)
    # Close with unread data: the kernel sends RST.
    c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    c.close()
    line = wait_session_line(mp, src, ('protocol: imap', 'login: "alice"'))
    assert "session closed" in line
    c = connect(port)  # mproxy is still up
    c.sendline("n NOOP")
    c.expect("n OK completed")
    mp.stop()


def _fake_imap_backend(after_login):
    """A scripted IMAP server: greets, accepts any LOGIN (quoted, atoms or
    literals, as nginx sends it) or AUTHENTICATE PLAIN, then runs
    after_login(conn)."""
    def handler(conn):
        conn.sendline("* OK [CAPABILITY IMAP4rev1 LITERAL+ SASL-IR ID AUTH=PLAIN] fake ready")
        while True:
            line = part = conn.readline(10)
            while True:  # gather literals: {n} needs a continuation, {n+} not
                m = re.search(r"\{(\d+)(\+?)\}$", part)
                if not m:
                    break
                if not m.group(2):
                    conn.sendline("+ OK")
                line += conn.read_exact(int(m.group(1)), 10).decode("latin-1")
                part = conn.readline(10)
                line += part
            tag, _, rest = line.partition(" ")
            cmd = rest.split(" ")[0].upper()
            if cmd == "AUTHENTICATE" and len(rest.split()) == 2:
                conn.sendline("+ ")
                conn.readline(10)
            if cmd in ("LOGIN", "AUTHENTICATE"):
                conn.sendline(f"{tag} OK Logged in")
                break
            if cmd == "ID":
                conn.sendline("* ID NIL")
            if cmd == "CAPABILITY":
                conn.sendline("* CAPABILITY IMAP4rev1 LITERAL+ SASL-IR ID AUTH=PLAIN")
            conn.sendline(f"{tag} OK done")
        after_login(conn)
    return handler


@timeout(30)
def test_backend_dies_mid_relay():
    def die_during_select(conn):
        line = conn.readline(10)
        tag = line.split(" ")[0]
        conn.send("* 100 EXISTS\r\n* 0 RECENT\r\n* OK [UIDVALIDITY 1")
        # Abort: RST instead of FIN, like a crashed process with unread data.
        conn.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        conn.close()
        assert tag  # the backend never answers the SELECT

    backend = TcpServer(_fake_imap_backend(die_during_select))
    auth = AuthServer(auth_ok(backend.port, password="x")).start()
    mp, port = proxy(auth.conf_url)
    src = client_ip()
    c = connect(port, source=src)
    c.sendline("a LOGIN alice alicepw")
    tagged_ok(c.read_tagged("a"), "a")
    c.sendline("b SELECT INBOX")
    data = c.expect_closed(5)
    assert data.startswith(b"* 100 EXISTS"), data
    wait_session_line(mp, src, ('protocol: imap', 'login: "alice"'))
    assert mp.alive()
    c = connect(port)
    c.sendline("n NOOP")
    c.expect("n OK completed")
    assert backend.errors == []
    mp.stop()


@timeout(20)
def test_session_summary_line():
    auth = users_auth()
    mp, port = proxy(auth.conf_url)
    src = client_ip()
    m = IMAP4(port, source=src)
    m.login("bob", "bobpw")
    m.logout()
    line = wait_session_line(mp, src, ('protocol: imap', 'login: "bob"'))
    assert re.search(r"\[info\] \d+#0: ", line), line
    assert "bobpw" not in mp.log(), "a password appeared in the log"
    # A session that never logs in gets its line too.
    src2 = client_ip()
    c = connect(port, source=src2)
    c.sendline("a LOGOUT")
    c.read_tagged("a")
    c.expect_closed()
    wait_session_line(mp, src2, ('protocol: imap',))
    mp.stop()


# --- client identity toward the backend (proxy_client_id, beyond nginx) -----

@timeout(30)
def test_proxy_client_id_tells_dovecot_the_real_client():
    """With proxy_client_id on, Dovecot logs the client's own address (rip=),
    learnt from our ID command; without it, it sees mproxy's address."""
    auth = users_auth()
    for on in (True, False):
        ip = client_ip()
        mp, port = proxy(auth.conf_url, server_extra="proxy_client_id on;" if on else "")
        try:
            c = connect(port, source=ip)
            login_raw(c)
            c.sendline("Z LOGOUT")
            c.read_tagged("Z")
            if on:
                dovecot.wait_log(rf"Login: user=<alice>.*rip={re.escape(ip)}\b", 10)
            else:
                dovecot.wait_log(r"Login: user=<alice>.*rip=127\.0\.0\.1\b", 10)
                assert not re.search(rf"rip={re.escape(ip)}\b", dovecot.log())
        finally:
            mp.stop()
    auth.stop()


@timeout(30)
def test_client_id_keys_not_forwarded():
    """A client's own ID (even with x- keys that would spoof its address) is
    answered locally and never reaches the backend."""
    auth = users_auth()
    mp, port = proxy(auth.conf_url, server_extra="proxy_client_id on;")
    ip = client_ip()
    try:
        c = connect(port, source=ip)
        c.sendline('I ID ("x-originating-ip" "10.9.9.9" "name" "evil")')
        lines = c.read_tagged("I")
        assert lines == ["* ID NIL", "I OK completed"], lines
        login_raw(c)
        dovecot.wait_log(rf"Login: user=<alice>.*rip={re.escape(ip)}\b", 10)
        assert "10.9.9.9" not in dovecot.log()
    finally:
        mp.stop()
        auth.stop()


@timeout(60)
def test_nginx_documentation_example_in_front_of_dovecot():
    """The mail {} block of nginx's documentation, unchanged but for the
    ports (and the log going to our temp dir, with daemon off), in front of
    Dovecot: a real IMAP client logs in and reads its mail."""
    import os
    here = os.path.dirname(os.path.abspath(__file__))
    text = open(os.path.join(here, "..", "nginx-example.conf")).read()
    auth = users_auth()
    imap, pop3, smtp, sub = free_port(), free_port(), free_port(), free_port()
    text = (text.replace("localhost:9000/", "localhost:%d/" % auth.port)
                .replace("listen   143;", "listen   127.0.0.1:%d;" % imap)
                .replace("listen   110;", "listen   127.0.0.1:%d;" % pop3)
                .replace("listen   25;", "listen   127.0.0.1:%d;" % smtp)
                .replace("listen   587;", "listen   127.0.0.1:%d;" % sub))
    mp = Mproxy(conf=None, start=False)
    text = text.replace("error_log /var/log/nginx/error.log info;",
                        "error_log %s/error.log info;\ndaemon off;\npid %s/mproxy.pid;" % (mp.dir, mp.dir))
    assert text.count("127.0.0.1:") == 4, text
    mp.write_conf(conf=text)
    mp.start()
    try:
        m = IMAP4(imap)
        m.login("alice", "alicepw")
        typ, data = m.select("INBOX", readonly=True)
        assert typ == "OK" and int(data[0]) >= 1
        typ, data = m.uid("FETCH", UID["small"], "(BODY.PEEK[])")
        assert typ == "OK" and data[0][1] == SMALL
        m.logout()
        # the example's imap_capabilities, as written, lead the greeting's list
        c = connect(imap)
        c.sendline("a CAPABILITY")
        caps = c.readline(5)
        assert caps.startswith("* CAPABILITY IMAP4rev1 UIDPLUS IDLE LITERAL+ QUOTA "), caps
        assert "LITERAL-" not in caps
    finally:
        mp.stop()
        auth.stop()
