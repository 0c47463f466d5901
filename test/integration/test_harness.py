"""Self-checks of the test harness against the real peers, without mproxy.

If one of these fails, the peers (Dovecot, Postfix, the auth server) or the
harness are broken on this machine, and mproxy's own failures mean little.
"""

import imaplib
import poplib
import smtplib
import socket
import subprocess
import time

from harness import (AuthServer, CLOSE, STALL, Dovecot, IMAP4, LineClient, Postfix,
                     TcpServer, auth_fail, auth_garbage, auth_ok, auth_users, b64,
                     big_message, check_credentials, client_ip, cram_md5_response,
                     free_port, listen_targets, run, sha256, tcp_listening, timeout,
                     tmpdir, unb64, wait_for, write_file)

USERS = {"alice": "alicepw", "bob": "bobpw"}
dovecot = None


def setup_module():
    global dovecot
    dovecot = Dovecot(USERS).start()


def teardown_module():
    dovecot.stop()


@timeout(30)
def test_dovecot_imap_fetch_big_message_exact():
    msg = big_message(3 * 1024 * 1024, "harness-big")
    dovecot.deliver("alice", msg)
    m = IMAP4(dovecot.imap_port)
    m.login("alice", "alicepw")
    typ, data = m.select("INBOX")
    assert typ == "OK"
    typ, data = m.uid("SEARCH", None, "HEADER", "Subject", "harness-big")
    uid = data[0].split()[-1]
    typ, data = m.uid("FETCH", uid, "(BODY.PEEK[])")
    assert typ == "OK"
    assert sha256(data[0][1]) == sha256(msg)
    m.logout()


@timeout(30)
def test_dovecot_idle_sees_delivery():
    c = LineClient(dovecot.imap_port, timeout=10)
    c.expect_re(r"^\* OK .*ready")
    c.sendline("a LOGIN bob bobpw")
    c.read_tagged("a")
    c.sendline("b SELECT INBOX")
    lines = c.read_tagged("b")
    n = int(next(ln.split()[1] for ln in lines if ln.endswith(" EXISTS")))
    c.sendline("c IDLE")
    c.expect_prefix("+")
    start = time.monotonic()
    dovecot.deliver("bob", b"Subject: idle\r\n\r\nhello\r\n")
    c.expect(f"* {n + 1} EXISTS", timeout=10)
    assert time.monotonic() - start < 5, "IDLE notification took too long"
    c.sendline("DONE")
    c.read_tagged("c")
    c.close()


@timeout(30)
def test_dovecot_pop3_user_and_apop():
    dovecot.deliver("alice", b"Subject: pop\r\n\r\npop body\r\n")
    p = poplib.POP3("127.0.0.1", dovecot.pop3_port, timeout=10)
    p.user("alice")
    p.pass_("alicepw")
    count, _ = p.stat()
    assert count >= 1
    p.quit()
    p = poplib.POP3("127.0.0.1", dovecot.pop3_port, timeout=10)
    p.apop("alice", "alicepw")
    p.quit()


@timeout(30)
def test_dovecot_imap_login_via_proxy_protocol_listener():
    with socket.create_connection(("127.0.0.1", dovecot.imap_pp_port), timeout=5) as s:
        s.sendall(f"PROXY TCP4 127.8.8.8 127.0.0.1 5555 {dovecot.imap_pp_port}\r\n".encode())
        c = LineClient(sock=s)
        c.expect_re(r"^\* OK ")
        c.sendline("a LOGIN alice alicepw")
        assert c.read_tagged("a")[-1].startswith("a OK")
    dovecot.wait_log(r"Login: user=<alice>.*rip=127\.8\.8\.8")


@timeout(40)
def test_postfix_pipe_delivery_sasl_and_xclient():
    pf = Postfix(dovecot=dovecot).start()
    body = b"Subject: pipe test\r\nFrom: s@example.test\r\n\r\nline 1\r\nline 2\r\n"
    with smtplib.SMTP("127.0.0.1", pf.smtp_port, local_hostname="client.example.test",
                      timeout=10) as s:
        s.login("alice", "alicepw")
        s.sendmail("s@example.test", ["x@pipe.example.test"], body)
    got = pf.wait_message(20)
    assert got.startswith(b"Received: ")
    assert got.endswith(b"line 1\nline 2\n"), got[-100:]
    pf.wait_log(r"sasl_username=alice")
    # XCLIENT first, then a fresh 220 and EHLO.
    c = LineClient(pf.smtp_port, timeout=10)
    c.expect_prefix("220 ")
    c.sendline("XCLIENT ADDR=127.3.3.3 NAME=client.example.test LOGIN=alice")
    c.expect_prefix("220 ")
    c.sendline("EHLO clienthelo.example.test")
    while not c.readline().startswith("250 "):
        pass
    c.sendline("MAIL FROM:<s@example.test>")
    c.expect_prefix("250 ")
    c.sendline("RCPT TO:<y@pipe.example.test>")
    c.expect_prefix("250 ")
    c.sendline("DATA")
    c.expect_prefix("354 ")
    c.send("Subject: xclient\r\n\r\nbody\r\n.\r\n")
    c.expect_prefix("250 ")
    c.sendline("QUIT")
    c.close()
    got = pf.wait_message(20)
    assert b"[127.3.3.3]" in got and b"with ESMTPA" in got, got[:400]
    pf.stop()


@timeout(20)
def test_auth_server_records_and_answers():
    auth = AuthServer(auth_ok(1143, user="bob", password="bobpw")).start()
    r = run(["curl", "-sS", "-i", "-H", "Auth-Method: plain", "-H", "Auth-User: alice",
             "-H", "Auth-Pass: a%20b", f"http://{auth.conf_url}"], timeout=10, check=True)
    assert "Auth-Status: OK" in r.stdout and "Auth-Port: 1143" in r.stdout, r.stdout
    assert "Auth-User: bob" in r.stdout and "Auth-Pass: bobpw" in r.stdout
    req = auth.last
    assert req.line == "GET /auth HTTP/1.1"
    assert req.names()[:1] == ["Host"]
    assert req.names()[-3:] == ["Auth-Method", "Auth-User", "Auth-Pass"]
    assert req["auth-user"] == "alice" and req.unescaped("Auth-Pass") == b"a b"
    assert req.wire_ok()
    # curl sends HTTP/1.1: keep-alive; two URLs on one command line reuse it.
    auth.reset()
    run(["curl", "-sS", f"http://{auth.conf_url}", f"http://{auth.conf_url}"],
        timeout=10, check=True)
    assert len(auth.requests) == 2 and auth.connections == 1, \
        (len(auth.requests), auth.connections)
    # HTTP/1.0 without keep-alive: one connection per request, closed by us.
    auth.reset()
    for _ in range(2):
        run(["curl", "-sS", "-0", f"http://{auth.conf_url}"], timeout=10, check=True)
    assert len(auth.requests) == 2 and auth.connections == 2
    # HTTP/1.0 with Connection: keep-alive (what a keep-alive mproxy sends).
    auth.reset()
    c = LineClient(auth.port)
    for i in range(3):
        c.send("GET /auth HTTP/1.0\r\nHost: localhost\r\nConnection: keep-alive\r\n\r\n")
        c.expect("HTTP/1.1 200 OK")
        hdrs = []
        while True:
            ln = c.readline()
            if not ln:
                break
            hdrs.append(ln)
        assert "Content-Length: 0" in hdrs and "Connection: keep-alive" in hdrs
    c.close()
    assert len(auth.requests) == 3 and auth.connections == 1


@timeout(20)
def test_auth_server_failure_modes():
    auth = AuthServer(auth_fail("Invalid login or password", wait=1)).start()
    r = run(["curl", "-sS", "-i", f"http://{auth.conf_url}"], timeout=10, check=True)
    assert "Auth-Status: Invalid login or password" in r.stdout and "Auth-Wait: 1" in r.stdout
    auth.set_policy(auth_garbage(b"garbage\x00\r\n"))
    c = LineClient(auth.port)
    c.send("GET /auth HTTP/1.0\r\n\r\n")
    assert c.expect_closed() == b"garbage\x00\r\n"
    auth.set_policy(lambda req: CLOSE)
    c = LineClient(auth.port)
    c.send("GET /auth HTTP/1.0\r\n\r\n")
    assert c.expect_closed() == b""
    auth.set_policy(lambda req: STALL)
    c = LineClient(auth.port)
    c.send("GET /auth HTTP/1.0\r\n\r\n")
    assert c.read_available(0.5) == b"" and c.is_open()
    auth.stop()  # a stalled handler must not keep the server alive
    c.expect_closed(3)


@timeout(20)
def test_auth_server_unix_socket_and_credential_checks():
    auth = AuthServer(auth_users(USERS, 1143), unix=True, tcp=False).start()
    r = run(["curl", "-sS", "-i", "--unix-socket", auth.unix_path, "-H", "Auth-Method: plain",
             "-H", "Auth-User: alice", "-H", "Auth-Pass: alicepw", "http://localhost/auth"],
            timeout=10, check=True)
    assert "Auth-Status: OK" in r.stdout and "Auth-Pass: alicepw" in r.stdout, r.stdout
    assert auth.conf_unix_url == f"unix:{auth.unix_path}:/auth"
    salt = "<1896.697170952@mail.example.test>"

    class Req(dict):
        def get(self, k, d=None):
            return dict.get(self, k, d)

        def unescaped(self, k):
            v = self.get(k)
            return None if v is None else v.encode()

    cram = cram_md5_response("alice", "alicepw", salt.encode()).split()[1]
    assert check_credentials(Req({"Auth-Method": "cram-md5", "Auth-User": "alice",
                                  "Auth-Pass": cram, "Auth-Salt": salt}), USERS) == "alice"
    import hashlib
    apop = hashlib.md5((salt + "bobpw").encode()).hexdigest()
    assert check_credentials(Req({"Auth-Method": "apop", "Auth-User": "bob",
                                  "Auth-Pass": apop, "Auth-Salt": salt}), USERS) == "bob"
    assert check_credentials(Req({"Auth-Method": "plain", "Auth-User": "bob",
                                  "Auth-Pass": "alicepw"}), USERS) is None


@timeout(20)
def test_line_client_tcp_server_and_helpers():
    def echo(conn):
        conn.sendline("* OK hello")
        while True:
            line = conn.readline(10)
            if line == "QUIT":
                conn.sendline("BYE")
                return
            conn.sendline("echo " + line)

    srv = TcpServer(echo)
    assert tcp_listening(srv.port)
    c = LineClient(srv.port, source=client_ip())
    c.expect("* OK hello")
    c.send("one\r\ntwo\r\n")
    c.expect("echo one")
    c.expect_re(r"^echo (tw)o$")
    c.sendline("QUIT")
    c.expect("BYE")
    c.expect_closed()
    assert srv.errors == []
    assert not tcp_listening(free_port())
    assert unb64(b64("\0alice\0pw")) == b"\0alice\0pw"
    t = listen_targets("mail { server { listen 127.0.0.1:1143; listen [::1]:25 ssl;"
                       " listen 110; listen unix:/tmp/x.sock; # listen 9;\n } }")
    assert t == [("tcp", "127.0.0.1", 1143), ("tcp", "::1", 25), ("tcp", "127.0.0.1", 110),
                 ("unix", None, "/tmp/x.sock")], t
    d = tmpdir()
    write_file(f"{d}/f", "x")
    assert wait_for(lambda: 42, 1) == 42


@timeout(20)
def test_imaplib_against_dovecot_with_source_address():
    src = client_ip()
    m = IMAP4(dovecot.imap_port, source=src)
    m.login("bob", "bobpw")
    m.logout()
    dovecot.wait_log(rf"Login: user=<bob>.*rip={src.replace('.', '[.]')}")
    try:
        m = imaplib.IMAP4("127.0.0.1", dovecot.imap_port, timeout=5)
        m.logout()
    except OSError as e:
        raise AssertionError(f"plain imaplib failed: {e}") from e
    out = subprocess.run(["curl", "-sS", f"imap://127.0.0.1:{dovecot.imap_port}/INBOX",
                          "-u", "alice:alicepw", "--login-options", "AUTH=PLAIN",
                          "-X", "EXAMINE INBOX"],
                         capture_output=True, text=True, timeout=10)
    assert out.returncode == 0 and "EXISTS" in out.stdout, out.stderr


@timeout(30)
def test_certificates_and_dovecot_tls():
    import ssl
    from harness import make_ca, make_cert
    d = tmpdir()
    ca = make_ca(d)
    for name, kt, client in (("rsa", "rsa:2048", False), ("ec", "ec", False),
                             ("client", "ec", True)):
        cert, key = make_cert(d, name, ca=ca, key_type=kt, client=client)
        r = run(["openssl", "verify", "-CAfile", ca[0],
                 "-purpose", "sslclient" if client else "sslserver", cert])
        assert r.returncode == 0 and ": OK" in r.stdout, r.stdout + r.stderr
    ctx = ssl.create_default_context(cafile=dovecot.cert)
    m = imaplib.IMAP4_SSL("localhost", dovecot.imaps_port, ssl_context=ctx, timeout=10)
    m.login("alice", "alicepw")
    m.logout()
    p = poplib.POP3_SSL("localhost", dovecot.pop3s_port, context=ctx, timeout=10)
    p.user("bob")
    p.pass_("bobpw")
    p.quit()
