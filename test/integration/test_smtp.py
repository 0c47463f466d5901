"""The SMTP proxy, end to end: real clients (smtplib, swaks, raw sockets) ->
mproxy -> a private Postfix (XCLIENT authorised for loopback, mail for
*@pipe.example.test written to files), with the auth_http test server
recording what mproxy asks.

Behaviour follows nginx's mail proxy (reference/nginx-behaviour.md 3.3,
auth_http.md); mproxy's deliberate differences, each tested here: MAIL
before HELO/EHLO is "503 Bad sequence" (nginx accepts it and sends an empty
Auth-SMTP-Helo), AUTH during a transaction is 503 (RFC 4954 4), a "*"
cancels an AUTH exchange with 501 (RFC 4954 4), DATA/BDAT before the relay
are 503, CHUNKING/BINARYMIME are never advertised.
"""

import os
import re
import smtplib
import socket
import subprocess
import threading
import time

from harness import (AuthServer, Dovecot, LineClient, Mproxy, Postfix, TcpServer, auth_fail,
                     auth_ok, auth_users, b64, big_message, client_ip, closed_port,
                     cram_md5_response, free_port, sha256, timeout, unb64, wait_for,
                     wait_session_line)

USERS = {"alice": "alicepw", "bob": "bobpw"}
SERVER_NAME = "mail.example.test"
GREETING = f"220 {SERVER_NAME} ESMTP ready"
CAPS = 'PIPELINING 8BITMIME "SIZE 52428800" CHUNKING'
EHLO_LINES = [f"250-{SERVER_NAME}", "250-PIPELINING", "250-8BITMIME", "250-SIZE 52428800",
              "250 AUTH PLAIN LOGIN CRAM-MD5"]
# nginx's order (auth_http.md 2.2); Client-Host is not checked here (see report)
NGINX_HEADER_ORDER = ["Host", "Auth-Method", "Auth-User", "Auth-Pass", "Auth-Protocol",
                      "Auth-Login-Attempt", "Client-IP"]
FROM = "s@example.test"
TO = "x@pipe.example.test"

dovecot = None
postfix = None


def setup_module():
    global dovecot, postfix
    dovecot = Dovecot(USERS).start()
    # Postfix checks SMTP AUTH through this Dovecot (proxy_smtp_auth tests)
    postfix = Postfix(dovecot=dovecot).start()


def teardown_module():
    postfix.stop()
    dovecot.stop()


# --- helpers ---------------------------------------------------------------

def proxy(auth_url, server_extra="", mail_extra="", smtp_auth="plain login cram-md5",
          caps=CAPS, port=None):
    """mproxy with one SMTP server; returns (Mproxy, port)."""
    port = port or free_port()
    caps_line = f"smtp_capabilities {caps};" if caps else ""
    block = f"""
    server_name {SERVER_NAME};
    auth_http {auth_url};
    {mail_extra}
    server {{
        listen 127.0.0.1:{port};
        protocol smtp;
        smtp_auth {smtp_auth};
        {caps_line}
        {server_extra}
    }}
"""
    return Mproxy(block), port


def users_auth(port=None, **kw):
    """An auth server that checks USERS and sends Postfix's port."""
    return AuthServer(auth_users(USERS, port or postfix.smtp_port, **kw)).start()


def connect(port, source=None, timeout=10):
    c = LineClient(port, source=source, timeout=timeout)
    c.expect(GREETING)
    return c


def read_reply(c, timeout=None):
    """One SMTP reply (all its lines)."""
    lines = []
    while True:
        line = c.readline(timeout)
        lines.append(line)
        if not re.match(r"^\d{3}-", line):
            return lines


def ehlo(c, helo="client.example.test"):
    c.sendline(f"EHLO {helo}")
    return read_reply(c)


def smtp_client(port, source=None, timeout=30):
    src = (source, 0) if source else None
    return smtplib.SMTP("127.0.0.1", port, local_hostname="client.example.test",
                        timeout=timeout, source_address=src)


def message(marker, body="hello\r\n"):
    return (f"From: {FROM}\r\nTo: {TO}\r\nSubject: {marker}\r\n"
            f"Message-ID: <{marker}@example.test>\r\n\r\n{body}").encode()


def wait_mail(marker, timeout=20):
    """The pipe file of the message whose Subject is `marker` (bytes)."""
    d = postfix.out_dir
    needle = f"Subject: {marker}\n".encode()

    def find():
        for n in os.listdir(d):
            if not n.endswith(".eml"):
                continue
            with open(os.path.join(d, n), "rb") as f:
                data = f.read()
            if needle in data:
                return data
        return None
    return wait_for(find, timeout, f"message {marker!r} through the Postfix pipe")


def split_received(data):
    """(Received header, rest) of a pipe file: Postfix adds one header."""
    lines = data.split(b"\n")
    assert lines[0].startswith(b"Received: "), data[:200]
    i = 1
    while lines[i].startswith((b" ", b"\t")):
        i += 1
    return b"\n".join(lines[:i]), b"\n".join(lines[i:])


def postfix_line(regex, timeout=10):
    return postfix.wait_log(regex, timeout).group(0)


def swaks(port, *args, timeout=30):
    argv = ["swaks", "--server", f"127.0.0.1:{port}", "--helo", "client.example.test",
            "--from", FROM, "--to", TO, "--timeout", "10"] + list(args)
    return subprocess.run(argv, capture_output=True, text=True, timeout=timeout,
                          stdin=subprocess.DEVNULL)


def expect_internal_error_and_close(c, mp, log_regex):
    c.expect("451 4.3.2 Internal server error", timeout=10)
    c.expect_closed(5)
    mp.wait_log(log_regex, timeout=5)


# --- the dialogue before authentication -------------------------------------

@timeout(20)
def test_greeting_ehlo_helo_texts():
    auth = users_auth()
    mp, port = proxy(auth.conf_url)
    c = LineClient(port)
    c.expect(GREETING)
    # CHUNKING is configured but never advertised; AUTH comes last
    assert ehlo(c) == EHLO_LINES
    c.sendline("HELO client.example.test")
    c.expect(f"250 {SERVER_NAME}")
    c.sendline("ehlo other.example.test")  # verbs are case-insensitive
    assert read_reply(c) == EHLO_LINES
    c.sendline("NOOP")
    c.expect("250 2.0.0 OK")
    c.sendline("NOOP with some text")  # RFC 5321 4.1.1.9
    c.expect("250 2.0.0 OK")
    c.sendline("RSET")
    c.expect("250 2.0.0 OK")
    c.sendline("QUIT")
    c.expect("221 2.0.0 Bye")
    c.expect_closed(5)
    assert auth.requests == []
    mp.stop()


@timeout(20)
def test_ehlo_without_auth_line_or_capabilities():
    auth = users_auth()
    p1, p2, p3 = free_port(), free_port(), free_port()
    block = f"""
    server_name {SERVER_NAME};
    auth_http {auth.conf_url};
    server {{ listen 127.0.0.1:{p1}; protocol smtp; smtp_auth none; }}
    server {{ listen 127.0.0.1:{p2}; protocol smtp; smtp_auth none;
              smtp_capabilities PIPELINING "SIZE 100"; }}
    server {{ listen 127.0.0.1:{p3}; protocol smtp; smtp_auth cram-md5 none; }}
"""
    mp = Mproxy(block)
    # nothing to list: the server name line is the last one
    assert ehlo(connect(p1)) == [f"250 {SERVER_NAME}"]
    # no AUTH line: the last capability gets "250 "
    assert ehlo(connect(p2)) == [f"250-{SERVER_NAME}", "250-PIPELINING", "250 SIZE 100"]
    assert ehlo(connect(p3)) == [f"250-{SERVER_NAME}", "250 AUTH CRAM-MD5"]
    mp.stop()


@timeout(20)
def test_invalid_commands_and_bad_sequences():
    auth = users_auth()
    mp, port = proxy(auth.conf_url, server_extra="max_errors 100;",
                     smtp_auth="plain login")
    c = connect(port)
    cases = [
        ("FOO bar", "500 5.5.1 Invalid command"),
        ("STARTTLS", "500 5.5.1 Invalid command"),   # no TLS configured
        ("VRFY alice", "500 5.5.1 Invalid command"),
        ("EXPN staff", "500 5.5.1 Invalid command"),
        ("HELP", "500 5.5.1 Invalid command"),
        ("XCLIENT ADDR=1.2.3.4", "500 5.5.1 Invalid command"),  # never from a client
        ("DATA", "503 5.5.1 Bad sequence of commands"),
        ("BDAT 10 LAST", "503 5.5.1 Bad sequence of commands"),
        ("HELO", "501 5.5.4 Invalid argument"),
        ("EHLO two words", "501 5.5.4 Invalid argument"),
        ("AUTH", "501 5.5.4 Invalid argument"),
        ("MAIL TO:<a@b>", "501 5.5.4 Invalid argument"),
        ("AUTH FOO", "500 5.5.1 Invalid command"),
        ("AUTH CRAM-MD5", "500 5.5.1 Invalid command"),  # not in smtp_auth
        ("AUTH EXTERNAL", "500 5.5.1 Invalid command"),
        ("MAIL FROM:<s@example.test>", "530 5.7.1 Authentication required"),
        ("RCPT TO:<x@pipe.example.test>", "503 5.5.1 Bad sequence of commands"),
        ("NOOP\rRSET", "500 5.5.1 Invalid command"),  # a bare CR is never passed on
        (" NOOP", "500 5.5.1 Invalid command"),
    ]
    for line, want in cases:
        c.sendline(line)
        got = c.readline()
        assert got == want, f"{line!r}: expected {want!r}, got {got!r}"
    c.sendline("NOOP")
    c.expect("250 2.0.0 OK")
    assert auth.requests == []
    mp.wait_log(r'client was rejected: "MAIL FROM:<s@example.test>"')
    mp.stop()


@timeout(20)
def test_max_errors_closes_connection():
    auth = users_auth()
    mp, port = proxy(auth.conf_url)
    c = connect(port)
    for i in range(4):
        c.sendline(f"FOO{i}")
        c.expect("500 5.5.1 Invalid command")
    c.sendline("NOOP")
    c.expect("250 2.0.0 OK")
    c.sendline("FOO5")  # the fifth (max_errors 5): answered, then closed
    c.expect("500 5.5.1 Invalid command")
    c.expect_closed(5)
    mp.wait_log(r"client sent too many invalid commands")
    mp.stop()


@timeout(20)
def test_max_commands():
    auth = users_auth()
    mp, port = proxy(auth.conf_url, server_extra="max_commands 3;")
    c = connect(port)
    for _ in range(3):
        c.sendline("NOOP")
        c.expect("250 2.0.0 OK")
    c.sendline("NOOP")
    c.expect_prefix("421 ")
    c.expect_closed(5)
    mp.stop()


@timeout(20)
def test_line_length_limit():
    auth = users_auth()
    mp, port = proxy(auth.conf_url, server_extra="smtp_client_buffer 1k;")
    c = connect(port)
    # max-1 and max bytes, CRLF included, are commands; max+1 is not
    for total in (1023, 1024):
        c.send("NOOP " + "x" * (total - 7) + "\r\n")
        c.expect("250 2.0.0 OK")
    assert not mp.log_lines(r"too long command")
    c.send("NOOP " + "x" * (1025 - 7) + "\r\n")
    # "500 5.5.1 Invalid command", then close; the byte mproxy never read
    # may turn the close into a reset that discards the reply
    assert c.expect_closed(5) in (b"", b"500 5.5.1 Invalid command\r\n")
    mp.wait_log(r"client sent too long command")
    # a longer line without any line end at all
    c = connect(port)
    try:
        c.send("AUTH PLAIN " + "A" * 5000)
    except (BrokenPipeError, ConnectionResetError):
        pass
    assert c.expect_closed(5) in (b"", b"500 5.5.1 Invalid command\r\n")
    assert auth.requests == []
    mp.stop()


@timeout(20)
def test_pipelined_commands_across_buffer_boundaries():
    auth = users_auth()
    mp, port = proxy(auth.conf_url, server_extra="smtp_client_buffer 1k;")
    c = connect(port)
    # 300 commands (about 6 KiB) in one write: every buffer boundary falls
    # somewhere inside a line; each is answered, in order.
    cmds = "".join(f"NOOP {i:05d}{'y' * (i % 13)}\r\n" for i in range(300))
    c.send(cmds + "RSET\r\n")
    for _ in range(300):
        c.expect("250 2.0.0 OK")
    c.expect("250 2.0.0 OK")
    assert c.read_available(0.3) == b""
    mp.stop()


@timeout(20)
def test_greeting_delay_refuses_early_talker():
    auth = users_auth()
    mp, port = proxy(auth.conf_url, server_extra="smtp_greeting_delay 1s;")
    src = client_ip()
    c = LineClient(port, source=src)
    c.sendline("EHLO eager.example.test")
    start = time.monotonic()
    # nginx's answer, and nothing else (no greeting), then close
    assert c.expect_closed(5) == b"503 5.5.0 Improper use of SMTP command pipelining\r\n"
    assert time.monotonic() - start < 1.5
    wait_session_line(mp, src, ("protocol: smtp", "early talker"))
    # a patient client gets the greeting after the delay
    c = LineClient(port)
    start = time.monotonic()
    c.expect(GREETING, timeout=5)
    elapsed = time.monotonic() - start
    assert 0.9 <= elapsed < 3, f"smtp_greeting_delay 1s greeted after {elapsed:.2f}s"
    assert ehlo(c) == EHLO_LINES
    mp.stop()


# --- AUTH -------------------------------------------------------------------

@timeout(30)
def test_auth_plain_initial_response_and_xclient():
    auth = users_auth()
    mp, port = proxy(auth.conf_url)
    src = client_ip()
    s = smtp_client(port, source=src)
    s.ehlo()
    s.user, s.password = "alice", "alicepw"
    code, text = s.auth("PLAIN", s.auth_plain)  # one line: AUTH PLAIN <ir>
    assert (code, text) == (235, b"2.0.0 OK")
    req = auth.last
    assert req.line == "GET /auth HTTP/1.0", req.line
    assert [n for n in req.names() if n != "Client-Host"][:7] == NGINX_HEADER_ORDER, req.names()
    assert req["Auth-Method"] == "plain"
    assert req["Auth-User"] == "alice" and req["Auth-Pass"] == "alicepw"
    assert req["Auth-Protocol"] == "smtp" and req["Auth-Login-Attempt"] == "1"
    assert req["Client-IP"] == src
    assert not any(n.startswith("Auth-SMTP") for n in req.names()), req.names()
    assert req.wire_ok(), req.raw
    s.sendmail(FROM, [TO], message("xclient-plain"))
    s.quit()
    received, rest = split_received(wait_mail("xclient-plain"))
    # XCLIENT: Postfix saw the real client and the login; the client's HELO replayed
    assert re.match(rb"Received: from client\.example\.test \(unknown \[" + re.escape(src.encode())
                    + rb"\]\)\n\tby backend\.example\.test \(Postfix\) with ESMTPA id ", received), received
    postfix_line(rf"client=unknown\[{re.escape(src)}\], sasl_method=XCLIENT, sasl_username=alice$")
    wait_session_line(mp, src, ("protocol: smtp", 'login: "alice"'))
    mp.stop()


@timeout(30)
def test_auth_plain_without_initial_response():
    auth = users_auth()
    mp, port = proxy(auth.conf_url)
    c = connect(port)
    ehlo(c)
    c.sendline("AUTH PLAIN")
    c.expect("334 ")  # nginx: an empty challenge
    c.sendline(b64("admin\0alice\0alicepw"))  # the authzid is dropped, as nginx
    c.expect("235 2.0.0 OK")
    assert auth.last["Auth-User"] == "alice" and auth.last["Auth-Pass"] == "alicepw"
    c.sendline(f"MAIL FROM:<{FROM}>")
    c.expect_prefix("250 2.1.0")  # Postfix's own text: we are relaying
    c.sendline("QUIT")
    c.expect_prefix("221 ")
    mp.stop()


@timeout(30)
def test_auth_login_with_and_without_initial_response():
    auth = users_auth()
    mp, port = proxy(auth.conf_url)
    c = connect(port)
    ehlo(c)
    c.sendline("AUTH LOGIN")
    c.expect("334 VXNlcm5hbWU6")  # "Username:"
    c.sendline(b64("alice"))
    c.expect("334 UGFzc3dvcmQ6")  # "Password:"
    c.sendline(b64("alicepw"))
    c.expect("235 2.0.0 OK")
    # AUTH LOGIN is reported as "plain" (auth_http.md 2.2)
    assert auth.last["Auth-Method"] == "plain" and auth.last["Auth-User"] == "alice"
    c.close()
    c = connect(port)
    ehlo(c)
    c.sendline("AUTH LOGIN " + b64("bob"))
    c.expect("334 UGFzc3dvcmQ6")
    c.sendline(b64("bobpw"))
    c.expect("235 2.0.0 OK")
    assert auth.last["Auth-User"] == "bob" and auth.last["Auth-Pass"] == "bobpw"
    c.close()
    # and a real client
    r = swaks(port, "--auth", "LOGIN", "--auth-user", "alice", "--auth-password", "alicepw",
              "--header", "Subject: swaks-login")
    assert r.returncode == 0, r.stdout + r.stderr
    wait_mail("swaks-login")
    mp.stop()


@timeout(30)
def test_auth_cram_md5():
    auth = users_auth()
    mp, port = proxy(auth.conf_url)
    c = connect(port)
    ehlo(c)
    c.sendline("AUTH CRAM-MD5")
    challenge = unb64(c.expect_prefix("334 ")[4:])
    assert re.fullmatch(rb"<\d+\.\d+@mail\.example\.test>", challenge), challenge
    c.sendline(b64(cram_md5_response("alice", "alicepw", challenge)))
    c.expect("235 2.0.0 OK")
    req = auth.last  # the auth server verified the digest against Auth-Salt
    assert req["Auth-Method"] == "cram-md5"
    assert req["Auth-Salt"].encode() == challenge
    assert re.fullmatch(r"[0-9a-f]{32}", req["Auth-Pass"]), req["Auth-Pass"]
    c.close()
    # a wrong digest is refused by the auth server
    c = connect(port)
    c.sendline("AUTH CRAM-MD5")
    challenge = unb64(c.expect_prefix("334 ")[4:])
    c.sendline(b64(cram_md5_response("alice", "wrong", challenge)))
    c.expect("535 5.7.0 Invalid login or password")
    c.expect_closed(5)
    # smtplib and swaks pick CRAM-MD5 when it is offered
    src = client_ip()
    s = smtp_client(port, source=src)
    s.login("alice", "alicepw")
    assert auth.last["Auth-Method"] == "cram-md5"
    s.sendmail(FROM, [TO], message("cram-smtplib"))
    s.quit()
    wait_mail("cram-smtplib")
    postfix_line(rf"client=unknown\[{re.escape(src)}\], sasl_method=XCLIENT, sasl_username=alice$")
    r = swaks(port, "--auth", "CRAM-MD5", "--auth-user", "bob", "--auth-password", "bobpw",
              "--header", "Subject: swaks-cram")
    assert r.returncode == 0, r.stdout + r.stderr
    assert auth.last["Auth-Method"] == "cram-md5" and auth.last["Auth-User"] == "bob"
    wait_mail("swaks-cram")
    mp.stop()


@timeout(20)
def test_auth_cancel():
    auth = users_auth()
    mp, port = proxy(auth.conf_url)
    c = connect(port)
    ehlo(c)
    c.sendline("AUTH PLAIN")
    c.expect("334 ")
    c.sendline("*")  # RFC 4954 4: cancelled, answered with 501
    c.expect_prefix("501 ")
    c.sendline("AUTH LOGIN")
    c.expect("334 VXNlcm5hbWU6")
    c.sendline(b64("alice"))
    c.expect("334 UGFzc3dvcmQ6")
    c.sendline("*")
    c.expect_prefix("501 ")
    c.sendline("AUTH CRAM-MD5")
    c.expect_prefix("334 ")
    c.sendline("*")
    c.expect_prefix("501 ")
    c.sendline("NOOP")
    c.expect("250 2.0.0 OK")
    assert auth.requests == [], "a cancelled AUTH reached the auth server"
    # the session is still usable
    c.sendline("AUTH PLAIN " + b64("\0alice\0alicepw"))
    c.expect("235 2.0.0 OK")
    mp.stop()


@timeout(20)
def test_auth_crlf_in_credentials_refused():
    auth = users_auth()
    mp, port = proxy(auth.conf_url, server_extra="max_errors 100;")
    c = connect(port)
    c.sendline("AUTH PLAIN " + b64("\0alice\0alicepw\r\nX-Injected: 1"))
    c.expect_prefix("535 ")
    c.sendline("AUTH LOGIN")
    c.expect("334 VXNlcm5hbWU6")
    c.sendline(b64("alice\r\nX-Injected: 2"))
    c.expect_prefix("535 ")
    c.sendline("AUTH LOGIN " + b64("al\0ice"))
    c.expect_prefix("535 ")
    c.sendline("AUTH PLAIN not-base64!")
    c.expect("500 5.5.1 Invalid command")
    c.sendline("NOOP")
    c.expect("250 2.0.0 OK")
    assert auth.requests == [], auth.requests
    mp.stop()


@timeout(30)
def test_wrong_password_with_auth_wait_allows_retry():
    auth = users_auth(fail_wait=1)
    mp, port = proxy(auth.conf_url)
    c = connect(port)
    ehlo(c)
    start = time.monotonic()
    c.sendline("AUTH PLAIN " + b64("\0alice\0wrong"))
    c.expect("535 5.7.0 Invalid login or password", timeout=5)
    elapsed = time.monotonic() - start
    assert 0.9 <= elapsed < 3, f"Auth-Wait: 1 answered after {elapsed:.2f}s"
    c.sendline("AUTH LOGIN")
    c.expect("334 VXNlcm5hbWU6")
    c.sendline(b64("alice"))
    c.expect("334 UGFzc3dvcmQ6")
    c.sendline(b64("alicepw"))
    c.expect("235 2.0.0 OK")
    assert [r["Auth-Login-Attempt"] for r in auth.requests] == ["1", "2"]
    assert auth.requests[1]["Auth-Pass"] == "alicepw"
    c.sendline(f"MAIL FROM:<{FROM}>")
    c.expect_prefix("250 2.1.0")
    mp.stop()


@timeout(20)
def test_wrong_password_without_auth_wait_closes():
    auth = users_auth()
    mp, port = proxy(auth.conf_url)
    c = connect(port)
    c.sendline("AUTH PLAIN " + b64("\0alice\0wrong"))
    c.expect("535 5.7.0 Invalid login or password")
    c.expect_closed(5)
    # Auth-Error-Code replaces nginx's default "535 5.7.0"
    auth.set_policy(auth_fail("Temporary authentication failure", error_code="454 4.7.0"))
    c = connect(port)
    c.sendline("AUTH PLAIN " + b64("\0alice\0alicepw"))
    c.expect("454 4.7.0 Temporary authentication failure")
    c.expect_closed(5)
    # a code that is not a 4xx/5xx refusal is not passed on
    auth.set_policy(auth_fail("Go ahead", error_code="250 2.0.0"))
    c = connect(port)
    c.sendline("AUTH PLAIN " + b64("\0alice\0alicepw"))
    c.expect("535 5.7.0 Go ahead")
    c.expect_closed(5)
    mp.stop()


@timeout(20)
def test_auth_server_down():
    mp, port = proxy(f"127.0.0.1:{closed_port()}/auth")
    c = connect(port)
    c.sendline("AUTH PLAIN " + b64("\0alice\0alicepw"))
    expect_internal_error_and_close(c, mp, r"\[(error|crit)\].*(refused|auth)")
    assert mp.alive()
    mp.stop()


@timeout(20)
def test_backend_down():
    auth = AuthServer(auth_ok(closed_port())).start()
    mp, port = proxy(auth.conf_url)
    c = connect(port)
    ehlo(c)
    c.sendline("AUTH PLAIN " + b64("\0alice\0alicepw"))
    expect_internal_error_and_close(c, mp, r"\[error\].*connect\(\) to .* failed")
    assert mp.alive()
    mp.stop()


# --- smtp_auth none ---------------------------------------------------------

@timeout(30)
def test_auth_none_replays_envelope():
    auth = AuthServer(auth_ok(postfix.smtp_port)).start()
    mp, port = proxy(auth.conf_url, smtp_auth="none")
    src = client_ip()
    c = connect(port, source=src)
    assert ehlo(c)[-1] == "250 SIZE 52428800"  # no AUTH line
    c.sendline("MAIL FROM:<s@example.test>")
    c.expect("250 2.0.0 OK")
    c.sendline("MAIL FROM:<again@example.test>")  # one transaction at a time
    c.expect("503 5.5.1 Bad sequence of commands")
    c.sendline("RSET")
    c.expect("250 2.0.0 OK")
    c.sendline(f"MAIL FROM:<{FROM}> BODY=8BITMIME  ")
    c.expect("250 2.0.0 OK")
    assert auth.requests == []
    c.sendline(f"RCPT TO:<{TO}>")
    c.expect_prefix("250 2.1.5")  # Postfix's reply to the replayed RCPT
    req = auth.last
    assert req["Auth-Method"] == "none"
    assert req["Auth-User"] == "" and req["Auth-Pass"] == ""
    assert req["Auth-SMTP-Helo"] == "client.example.test"
    assert req["Auth-SMTP-From"] == f"MAIL FROM:<{FROM}> BODY=8BITMIME"
    assert req["Auth-SMTP-To"] == f"RCPT TO:<{TO}>"
    assert req["Client-IP"] == src
    names = [n for n in req.names() if n != "Client-Host"]
    assert names[:10] == NGINX_HEADER_ORDER + ["Auth-SMTP-Helo", "Auth-SMTP-From", "Auth-SMTP-To"], names
    assert "Auth-Salt" not in req
    # later RCPTs go to the MTA, not to the auth server
    c.sendline("RCPT TO:<y@pipe.example.test>")
    c.expect_prefix("250 2.1.5")
    c.sendline("DATA")
    c.expect_prefix("354 ")
    c.send(message("auth-none") + b".\r\n")
    c.expect_prefix("250 2.0.0 Ok: queued")
    c.sendline("QUIT")
    c.expect_prefix("221 ")
    assert len(auth.requests) == 1
    received, _ = split_received(wait_mail("auth-none"))
    assert re.match(rb"Received: from client\.example\.test \(unknown \[" + re.escape(src.encode())
                    + rb"\]\)\n\tby backend\.example\.test \(Postfix\) with ESMTP id ", received), received
    line = postfix_line(rf"client=unknown\[{re.escape(src)}\]$")
    assert "sasl" not in line
    postfix_line(rf"from=<{re.escape(FROM)}>, size=\d+, nrcpt=2 ")
    mp.stop()


@timeout(30)
def test_auth_none_backend_dialogue():
    lines = []
    backend = TcpServer(_recording_backend(lines))
    auth = AuthServer(auth_ok(backend.port)).start()
    mp, port = proxy(auth.conf_url, smtp_auth="none")
    src = client_ip()
    c = connect(port, source=src)
    ehlo(c)
    c.send(f"mail from:<{FROM}> SIZE=100\r\nRCPT TO:<{TO}> NOTIFY=NEVER\r\n"
           "RCPT TO:<y@pipe.example.test>\r\nQUIT\r\n")
    c.expect("250 2.0.0 OK")
    c.expect("250 2.0.0 Ok")  # the backend's replies from here on
    c.expect("250 2.0.0 Ok")
    c.expect("221 2.0.0 Bye")
    # the client's own lines, as sent; no LOGIN without a login
    assert lines == [
        f"EHLO {SERVER_NAME}",
        f"XCLIENT ADDR={src} NAME=[UNAVAILABLE]",
        "EHLO client.example.test",
        f"mail from:<{FROM}> SIZE=100",
        f"RCPT TO:<{TO}> NOTIFY=NEVER",
        "RCPT TO:<y@pipe.example.test>",
        "QUIT",
    ], lines
    # an Auth-User names the login for XCLIENT, as with nginx
    del lines[:]
    auth.set_policy(auth_ok(backend.port, user="relay-user"))
    c = connect(port, source=src)
    c.sendline("HELO client.example.test")
    c.expect(f"250 {SERVER_NAME}")
    c.send(f"MAIL FROM:<{FROM}>\r\nRCPT TO:<{TO}>\r\nQUIT\r\n")
    c.expect("250 2.0.0 OK")
    c.expect("250 2.0.0 Ok")
    c.expect("221 2.0.0 Bye")
    assert lines[:3] == [f"EHLO {SERVER_NAME}", f"XCLIENT ADDR={src} LOGIN=relay-user NAME=[UNAVAILABLE]",
                         "HELO client.example.test"], lines
    assert backend.errors == []
    mp.stop()


@timeout(30)
def test_auth_none_backend_reply_to_rcpt_passed_on():
    auth = AuthServer(auth_ok(postfix.smtp_port)).start()
    mp, port = proxy(auth.conf_url, smtp_auth="none")
    c = connect(port, source=client_ip())
    ehlo(c)
    c.sendline(f"MAIL FROM:<{FROM}>")
    c.expect("250 2.0.0 OK")
    # not a relay domain, and XCLIENT made us a stranger: Postfix refuses
    c.sendline("RCPT TO:<someone@elsewhere.test>")
    c.expect_re(r"^[45]54 [45]\.7\.1 <someone@elsewhere\.test>: Relay access denied$")
    c.sendline(f"RCPT TO:<{TO}>")
    c.expect_prefix("250 2.1.5")
    c.sendline("QUIT")
    c.expect_prefix("221 ")
    mp.stop()


@timeout(20)
def test_auth_none_sequence_rules():
    auth = AuthServer(auth_ok(postfix.smtp_port)).start()
    mp, port = proxy(auth.conf_url, smtp_auth="none", server_extra="max_errors 100;")
    c = connect(port)
    c.sendline(f"MAIL FROM:<{FROM}>")  # before HELO/EHLO
    c.expect("503 5.5.1 Bad sequence of commands")
    c.sendline(f"RCPT TO:<{TO}>")
    c.expect("503 5.5.1 Bad sequence of commands")
    ehlo(c)
    c.sendline("MAIL FROM:<s@exa\x01mple.test>")  # a control byte never reaches a header
    c.expect("501 5.5.4 Invalid argument")
    c.sendline(f"MAIL FROM:<{FROM}>")
    c.expect("250 2.0.0 OK")
    c.sendline("DATA")  # no message data before the relay
    c.expect("503 5.5.1 Bad sequence of commands")
    c.sendline("AUTH PLAIN " + b64("\0alice\0alicepw"))  # RFC 4954 4
    c.expect("503 5.5.1 Bad sequence of commands")
    c.sendline("HELO again.example.test")  # resets the transaction
    c.expect(f"250 {SERVER_NAME}")
    c.sendline(f"RCPT TO:<{TO}>")
    c.expect("503 5.5.1 Bad sequence of commands")
    assert auth.requests == []
    mp.stop()


@timeout(30)
def test_auth_none_refused_with_error_code_and_wait():
    attempts = []

    def policy(req):
        attempts.append(req)
        if len(attempts) == 1:
            return [("Auth-Status", "Recipient not allowed"), ("Auth-Error-Code", "550 5.7.1"),
                    ("Auth-Wait", "1")]
        return [("Auth-Status", "OK"), ("Auth-Server", "127.0.0.1"),
                ("Auth-Port", str(postfix.smtp_port))]

    auth = AuthServer(policy).start()
    mp, port = proxy(auth.conf_url, smtp_auth="none")
    c = connect(port)
    c.sendline("HELO client.example.test")
    c.expect(f"250 {SERVER_NAME}")
    c.sendline(f"MAIL FROM:<{FROM}>")
    c.expect("250 2.0.0 OK")
    start = time.monotonic()
    c.sendline("RCPT TO:<bad@pipe.example.test>")
    c.expect("550 5.7.1 Recipient not allowed", timeout=5)
    assert 0.9 <= time.monotonic() - start < 3
    # the transaction goes on (nginx keeps MAIL FROM): another recipient
    c.sendline(f"RCPT TO:<{TO}>")
    c.expect_prefix("250 2.1.5")
    assert [r["Auth-Login-Attempt"] for r in attempts] == ["1", "2"]
    assert attempts[1]["Auth-SMTP-From"] == f"MAIL FROM:<{FROM}>"
    assert attempts[1]["Auth-SMTP-To"] == f"RCPT TO:<{TO}>"
    assert attempts[1]["Auth-SMTP-Helo"] == "client.example.test"
    c.sendline("QUIT")
    c.expect_prefix("221 ")
    # without Auth-Wait: the error, then close
    auth.set_policy(auth_fail("Relaying denied", error_code="554 5.7.1"))
    c = connect(port)
    ehlo(c)
    c.sendline(f"MAIL FROM:<{FROM}>")
    c.expect("250 2.0.0 OK")
    c.sendline(f"RCPT TO:<{TO}>")
    c.expect("554 5.7.1 Relaying denied")
    c.expect_closed(5)
    mp.stop()


@timeout(30)
def test_auth_none_after_failed_auth_sends_no_stale_credentials():
    # CVE-2025-53859 class: a `none` request must carry no login or password,
    # even after the client tried AUTH in the same session.
    attempts = []

    def policy(req):
        attempts.append(req)
        if len(attempts) == 1:
            return [("Auth-Status", "Invalid login or password"), ("Auth-Wait", "1")]
        return [("Auth-Status", "OK"), ("Auth-Server", "127.0.0.1"),
                ("Auth-Port", str(postfix.smtp_port))]

    auth = AuthServer(policy).start()
    mp, port = proxy(auth.conf_url, smtp_auth="plain none")
    c = connect(port)
    assert ehlo(c)[-1] == "250 AUTH PLAIN"
    c.sendline("AUTH PLAIN " + b64("\0alice\0s3cr3t-guess"))
    c.expect("535 5.7.0 Invalid login or password", timeout=5)
    c.sendline(f"MAIL FROM:<{FROM}>")
    c.expect("250 2.0.0 OK")
    c.sendline(f"RCPT TO:<{TO}>")
    c.expect_prefix("250 2.1.5")
    assert attempts[0]["Auth-Method"] == "plain"
    req = attempts[1]
    assert req["Auth-Method"] == "none"
    assert req["Auth-User"] == "" and req["Auth-Pass"] == "", req.raw
    assert b"s3cr3t-guess" not in req.raw and "Auth-Salt" not in req
    mp.stop()


@timeout(30)
def test_auth_none_backend_refuses_mail_from():
    # Postfix refuses this sender: nginx's internal error, or with
    # proxy_pass_error_message Postfix's own reply
    pf = Postfix(extra_main="smtpd_delay_reject = no\nsmtpd_sender_restrictions = "
                            "check_sender_access inline:{ refused@example.test=REJECT }").start()
    auth = AuthServer(auth_ok(pf.smtp_port)).start()
    p1, p2 = free_port(), free_port()
    mp = Mproxy(f"""
    server_name {SERVER_NAME};
    auth_http {auth.conf_url};
    smtp_auth none;
    server {{ listen 127.0.0.1:{p1}; protocol smtp; }}
    server {{ listen 127.0.0.1:{p2}; protocol smtp; proxy_pass_error_message on; }}
""")
    for port, want in ((p1, r"^451 4\.3\.2 Internal server error$"),
                       (p2, r"^554 5\.7\.1 <refused@example\.test>: Sender address rejected")):
        c = connect(port)
        ehlo(c)
        c.sendline("MAIL FROM:<refused@example.test>")
        c.expect("250 2.0.0 OK")
        c.sendline(f"RCPT TO:<{TO}>")
        c.expect_re(want, timeout=10)
        c.expect_closed(5)
    mp.wait_log(r"upstream sent invalid response: \"554 .*\" while sending MAIL FROM to upstream")
    mp.stop()


# --- the backend dialogue ---------------------------------------------------

@timeout(30)
def test_xclient_off():
    auth = users_auth()
    mp, port = proxy(auth.conf_url, server_extra="xclient off;")
    src = client_ip()
    c = connect(port, source=src)
    c.sendline("HELO client.example.test")
    c.expect(f"250 {SERVER_NAME}")
    c.sendline("AUTH PLAIN " + b64("\0alice\0alicepw"))
    c.expect("235 2.0.0 OK")
    c.sendline(f"MAIL FROM:<{FROM}>")
    c.expect_prefix("250 ")
    c.sendline(f"RCPT TO:<{TO}>")
    c.expect_prefix("250 ")
    c.sendline("DATA")
    c.expect_prefix("354 ")
    c.send(message("xclient-off") + b".\r\n")
    c.expect_prefix("250 ")
    c.sendline("QUIT")
    c.expect_prefix("221 ")
    received, _ = split_received(wait_mail("xclient-off"))
    # Postfix saw mproxy itself, greeting with HELO server_name (the client said HELO)
    assert re.match(rb"Received: from mail\.example\.test \(unknown \[127\.0\.0\.1\]\)\n"
                    rb"\tby backend\.example\.test \(Postfix\) with SMTP id ", received), received
    assert f"[{src}]" not in postfix.log()
    mp.stop()


@timeout(30)
def test_xclient_login_is_xtext_encoded():
    # The auth server renames the user to something with SP, '+' and '=':
    # unencoded, XCLIENT would get a broken or forged attribute.
    auth = AuthServer(auth_ok(postfix.smtp_port, user="al ice+x=y")).start()
    mp, port = proxy(auth.conf_url)
    src = client_ip()
    s = smtp_client(port, source=src)
    s.login("alice", "alicepw")
    s.sendmail(FROM, [TO], message("xtext"))
    s.quit()
    wait_mail("xtext")
    postfix_line(rf"client=unknown\[{re.escape(src)}\], sasl_method=XCLIENT, "
                 rf"sasl_username=al ice\+x=y$")
    mp.stop()


def _recording_backend(lines, after=None):
    """A scripted SMTP server that records every line it gets before DATA."""
    def handler(conn):
        conn.sendline("220 fake.example.test ESMTP")
        first = True
        while True:
            line = conn.readline(10)
            # a stray connection from a lingering earlier session (seen once
            # under ASan) must not mix into this test's record: mproxy always
            # opens with EHLO/HELO
            if first and line.split(" ")[0].upper() not in ("EHLO", "HELO"):
                return
            first = False
            lines.append(line)
            verb = line.split(" ")[0].upper()
            if verb in ("EHLO", "HELO"):
                conn.send("250-fake.example.test\r\n250 PIPELINING\r\n")
            elif verb == "XCLIENT":
                conn.sendline("220 fake.example.test ESMTP")
            elif verb == "AUTH":
                conn.sendline("235 2.7.0 Authentication successful")
            elif verb == "QUIT":
                conn.sendline("221 2.0.0 Bye")
                return
            else:
                conn.sendline("250 2.0.0 Ok")
    return handler


@timeout(30)
def test_proxy_smtp_auth_sends_authenticator_credentials():
    lines = []
    backend = TcpServer(_recording_backend(lines))
    auth = AuthServer(auth_ok(backend.port, user="bob", password="bobpw")).start()
    mp, port = proxy(auth.conf_url, server_extra="proxy_smtp_auth on;")
    src = client_ip()
    c = connect(port, source=src)
    ehlo(c)
    c.sendline("AUTH PLAIN " + b64("\0alice\0alicepw"))
    c.expect("235 2.0.0 OK")
    c.sendline(f"MAIL FROM:<{FROM}>")
    c.expect("250 2.0.0 Ok")
    c.sendline("QUIT")
    c.expect("221 2.0.0 Bye")
    assert lines == [
        f"EHLO {SERVER_NAME}",
        # LOGIN omitted: the backend learns the user from AUTH (nginx)
        f"XCLIENT ADDR={src} NAME=[UNAVAILABLE]",
        "EHLO client.example.test",
        "AUTH PLAIN " + b64("\0bob\0bobpw"),
        f"MAIL FROM:<{FROM}>",
        "QUIT",
    ], lines
    # without proxy_smtp_auth: XCLIENT carries LOGIN, no AUTH; HELO replayed as HELO
    del lines[:]
    mp.stop()
    mp, port = proxy(auth.conf_url)
    c = connect(port, source=src)
    c.sendline("HELO client.example.test")
    c.expect(f"250 {SERVER_NAME}")
    c.sendline("AUTH PLAIN " + b64("\0alice\0alicepw"))
    c.expect("235 2.0.0 OK")
    c.sendline("QUIT")
    c.expect("221 2.0.0 Bye")
    assert lines == [
        f"EHLO {SERVER_NAME}",
        f"XCLIENT ADDR={src} LOGIN=bob NAME=[UNAVAILABLE]",
        "HELO client.example.test",
        "QUIT",
    ], lines
    assert backend.errors == []
    mp.stop()


@timeout(20)
def test_xclient_ipv6_client():
    lines = []
    backend = TcpServer(_recording_backend(lines))
    auth = AuthServer(auth_ok(backend.port)).start()
    port = free_port()
    mp = Mproxy(f"""
    server_name {SERVER_NAME};
    auth_http {auth.conf_url};
    server {{ listen [::1]:{port}; protocol smtp; }}
""")
    c = LineClient(port, host="::1")
    c.expect(GREETING)
    ehlo(c)
    c.sendline("AUTH PLAIN " + b64("\0alice\0alicepw"))
    c.expect("235 2.0.0 OK")
    c.sendline("QUIT")
    c.expect("221 2.0.0 Bye")
    assert auth.last["Client-IP"] == "::1"
    # nginx 1.5.9: IPv6 addresses carry Postfix's "IPV6:" prefix
    assert lines[:3] == [f"EHLO {SERVER_NAME}", "XCLIENT ADDR=IPV6:::1 LOGIN=alice NAME=[UNAVAILABLE]",
                         "EHLO client.example.test"], lines
    mp.stop()


@timeout(40)
def test_proxy_smtp_auth_with_postfix_sasl():
    auth = users_auth()
    mp, port = proxy(auth.conf_url, server_extra="proxy_smtp_auth on;")
    src = client_ip()
    s = smtp_client(port, source=src)
    s.login("alice", "alicepw")  # CRAM-MD5: the auth server sends Auth-Pass
    assert auth.last["Auth-Method"] == "cram-md5"
    s.sendmail(FROM, [TO], message("smtp-auth-postfix"))
    s.quit()
    wait_mail("smtp-auth-postfix")
    # Dovecot checked the password Postfix got from mproxy's AUTH PLAIN
    postfix_line(rf"client=unknown\[{re.escape(src)}\], sasl_method=PLAIN, sasl_username=alice$")
    # a password the backend refuses: temporary error and a log line
    auth.set_policy(auth_ok(postfix.smtp_port, password="not-alicepw"))
    c = connect(port)
    c.sendline("AUTH PLAIN " + b64("\0alice\0whatever"))
    expect_internal_error_and_close(c, mp, r"upstream sent invalid response: \"535 .*\" "
                                           r"while sending AUTH to upstream")
    mp.stop()


@timeout(30)
def test_backend_refuses_xclient():
    pf = Postfix(extra_main="smtpd_authorized_xclient_hosts =").start()
    auth = AuthServer(auth_ok(pf.smtp_port)).start()
    p1, p2 = free_port(), free_port()
    mp = Mproxy(f"""
    server_name {SERVER_NAME};
    auth_http {auth.conf_url};
    server {{ listen 127.0.0.1:{p1}; protocol smtp; }}
    server {{ listen 127.0.0.1:{p2}; protocol smtp; proxy_pass_error_message on; }}
""")
    c = connect(p1)
    c.sendline("AUTH PLAIN " + b64("\0alice\0alicepw"))
    expect_internal_error_and_close(
        c, mp, r"\[error\].*upstream sent invalid response: \"550 5\.7\.0 Error: insufficient "
               r"authorization\" while sending XCLIENT to upstream.*smtpd_authorized_xclient_hosts")
    c = connect(p2)
    c.sendline("AUTH PLAIN " + b64("\0alice\0alicepw"))
    c.expect("550 5.7.0 Error: insufficient authorization", timeout=10)
    c.expect_closed(5)
    mp.stop()


# --- pipelining and the relay -----------------------------------------------

@timeout(30)
def test_pipelined_auth_and_envelope_in_one_packet():
    auth = users_auth()
    mp, port = proxy(auth.conf_url)
    c = connect(port, source=client_ip())
    # everything up to DATA in one write (RFC 2920): answered in order, and
    # nothing behind AUTH lost or reordered at the hand-over to Postfix
    c.send("EHLO client.example.test\r\nNOOP\r\nAUTH PLAIN " + b64("\0alice\0alicepw") + "\r\n"
           f"MAIL FROM:<{FROM}>\r\nRCPT TO:<{TO}>\r\nRCPT TO:<y@pipe.example.test>\r\nDATA\r\n")
    assert read_reply(c) == EHLO_LINES
    c.expect("250 2.0.0 OK")
    c.expect("235 2.0.0 OK")
    c.expect_prefix("250 2.1.0")
    c.expect_prefix("250 2.1.5")
    c.expect_prefix("250 2.1.5")
    c.expect_prefix("354 ")
    c.send(message("pipelined-auth") + b".\r\nQUIT\r\n")
    c.expect_prefix("250 2.0.0 Ok: queued")
    c.expect_prefix("221 ")
    wait_mail("pipelined-auth")
    assert len(auth.requests) == 1
    mp.stop()


@timeout(30)
def test_pipelined_auth_none_in_one_packet():
    auth = AuthServer(auth_ok(postfix.smtp_port)).start()
    mp, port = proxy(auth.conf_url, smtp_auth="none")
    c = connect(port, source=client_ip())
    c.send(f"EHLO client.example.test\r\nMAIL FROM:<{FROM}>\r\nRCPT TO:<{TO}>\r\n"
           "RCPT TO:<y@pipe.example.test>\r\nDATA\r\n")
    read_reply(c)
    c.expect("250 2.0.0 OK")
    c.expect_prefix("250 2.1.5")
    c.expect_prefix("250 2.1.5")
    c.expect_prefix("354 ")
    c.send(message("pipelined-none") + b".\r\nQUIT\r\n")
    c.expect_prefix("250 2.0.0 Ok: queued")
    c.expect_prefix("221 ")
    wait_mail("pipelined-none")
    assert len(auth.requests) == 1
    assert auth.last["Auth-SMTP-To"] == f"RCPT TO:<{TO}>"
    mp.stop()


@timeout(40)
def test_swaks_pipeline():
    auth = users_auth()
    p1, p2 = free_port(), free_port()
    mp = Mproxy(f"""
    server_name {SERVER_NAME};
    auth_http {auth.conf_url};
    smtp_capabilities PIPELINING 8BITMIME;
    server {{ listen 127.0.0.1:{p1}; protocol smtp; smtp_auth plain login; }}
    server {{ listen 127.0.0.1:{p2}; protocol smtp; smtp_auth none; }}
""")
    r = swaks(p1, "--pipeline", "--auth", "PLAIN", "--auth-user", "alice",
              "--auth-password", "alicepw", "--header", "Subject: swaks-pipe-auth")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "PIPELINING" in r.stdout
    wait_mail("swaks-pipe-auth")
    auth.set_policy(auth_ok(postfix.smtp_port))
    r = swaks(p2, "--pipeline", "--header", "Subject: swaks-pipe-none")
    assert r.returncode == 0, r.stdout + r.stderr
    wait_mail("swaks-pipe-none")
    assert auth.last["Auth-Method"] == "none"
    assert auth.last["Auth-SMTP-Helo"] == "client.example.test"
    mp.stop()


@timeout(90)
def test_big_message_byte_exact():
    auth = users_auth()
    mp, port = proxy(auth.conf_url)
    body = big_message(5 * 1024 * 1024, "smtp-big")
    s = smtp_client(port, source=client_ip(), timeout=60)
    s.login("alice", "alicepw")
    s.sendmail(FROM, [TO], body)
    s.quit()
    _, rest = split_received(wait_mail("smtp-big", timeout=60))
    # the pipe file has LF line ends (Postfix stores lines)
    assert sha256(rest) == sha256(body.replace(b"\r\n", b"\n")), \
        f"5 MiB message changed on the way ({len(rest)} vs {len(body)} bytes)"
    mp.stop()


@timeout(30)
def test_concurrent_sessions():
    auth = users_auth()
    mp, port = proxy(auth.conf_url)
    n = 20
    barrier = threading.Barrier(n, timeout=20)
    errors = []

    def one(i):
        try:
            s = smtp_client(port)
            barrier.wait()
            s.login("alice" if i % 2 else "bob", "alicepw" if i % 2 else "bobpw")
            s.sendmail(FROM, [TO], message(f"concurrent-{i}"))
            s.quit()
        except Exception as e:  # noqa: BLE001
            errors.append(repr(e))

    threads = [threading.Thread(target=one, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert errors == [], errors
    for i in range(n):
        wait_mail(f"concurrent-{i}")
    assert len(auth.requests) == n
    mp.stop()


@timeout(20)
def test_session_summary_line_without_password():
    auth = users_auth()
    mp, port = proxy(auth.conf_url)
    src = client_ip()
    s = smtp_client(port, source=src)
    s.login("bob", "bobpw")
    s.quit()
    line = wait_session_line(mp, src, ("protocol: smtp", 'login: "bob"'))
    assert re.search(r"\[info\] \d+#0: \*\d+ session closed", line), line
    src2 = client_ip()
    c = connect(port, source=src2)
    c.sendline("AUTH PLAIN " + b64("\0bob\0secretpw"))
    c.expect_prefix("535 ")
    wait_session_line(mp, src2, ("protocol: smtp",))
    log = mp.log()
    assert "bobpw" not in log and "secretpw" not in log, "a password appeared in the log"
    mp.stop()
