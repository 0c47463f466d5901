"""TLS from mproxy to the backend (beyond nginx): `proxy_ssl on` (implicit)
and `proxy_ssl starttls` for IMAP, POP3 and SMTP, with certificate
verification against proxy_ssl_trusted_certificate and proxy_ssl_name.
Real peers: Dovecot (imaps and STARTTLS on its plain ports) and Postfix
(STARTTLS), with certificates from a CA the test makes."""

import poplib
import smtplib

from harness import (AuthServer, Dovecot, IMAP4, LineClient, Mproxy, Postfix, TcpServer,
                     auth_ok, free_port, make_ca, make_cert, timeout, tmpdir)

dovecot = postfix = None
CA = OTHER_CA = None
MSG = b"From: s@example.test\r\nSubject: backend-tls\r\n\r\nover TLS to the backend\r\n"


def setup_module():
    global dovecot, postfix, CA, OTHER_CA
    d = tmpdir()
    CA = make_ca(d)
    other = tmpdir()
    OTHER_CA = make_ca(other, cn="another CA")
    server = make_cert(d, "backend", cn="localhost", ca=CA)
    dovecot = Dovecot({"alice": "alicepw"}, cert=server).start()
    dovecot.deliver("alice", MSG)
    postfix = Postfix(cert=server).start()


def teardown_module():
    dovecot.stop()
    postfix.stop()


def proxy(protocol, backend_port, tls_conf):
    auth = AuthServer(auth_ok(backend_port, password="alicepw")).start()
    port = free_port()
    mp = Mproxy(f"""
    server_name mail.example.test;
    auth_http {auth.conf_url};
    server {{
        listen 127.0.0.1:{port};
        protocol {protocol};
        {tls_conf}
    }}
""")
    return mp, port, auth


def verify_conf(mode, ca):
    return (f"proxy_ssl {mode}; proxy_ssl_trusted_certificate {ca[0]}; "
            f"proxy_ssl_name localhost;")


def imap_login_fetch(port):
    m = IMAP4(port)
    typ, _ = m.login("alice", "alicepw")
    assert typ == "OK"
    typ, data = m.select("INBOX", readonly=True)
    assert typ == "OK" and int(data[0]) >= 1
    typ, data = m.fetch("1", "(BODY.PEEK[])")
    assert typ == "OK" and data[0][1] == MSG, data
    m.logout()


@timeout(40)
def test_imap_implicit_tls_to_dovecot_verified():
    mp, port, auth = proxy("imap", dovecot.imaps_port, verify_conf("on", CA))
    try:
        imap_login_fetch(port)
        mp.wait_log(r"upstream TLS: TLSv1\.2 ", 5)
    finally:
        mp.stop()
        auth.stop()


@timeout(40)
def test_starttls_to_backend_each_protocol():
    """STARTTLS toward Dovecot (IMAP, POP3) and Postfix (SMTP), verified."""
    mp, port, auth = proxy("imap", dovecot.imap_port, verify_conf("starttls", CA))
    try:
        imap_login_fetch(port)
        mp.wait_log(r"upstream TLS: ", 5)
    finally:
        mp.stop()
        auth.stop()
    mp, port, auth = proxy("pop3", dovecot.pop3_port, verify_conf("starttls", CA))
    try:
        p = poplib.POP3("127.0.0.1", port, timeout=10)
        p.user("alice")
        assert p.pass_("alicepw").startswith(b"+OK")
        assert b"\r\n".join(p.retr(1)[1]) + b"\r\n" == MSG
        p.quit()
        mp.wait_log(r"upstream TLS: ", 5)
    finally:
        mp.stop()
        auth.stop()
    mp, port, auth = proxy("smtp", postfix.smtp_port, verify_conf("starttls", CA))
    try:
        s = smtplib.SMTP("127.0.0.1", port, local_hostname="client.example.test", timeout=10)
        s.login("alice", "alicepw")
        s.sendmail("s@example.test", ["x@pipe.example.test"], MSG)
        s.quit()
        got = postfix.wait_message(15)
        # ESMTPS: Postfix saw TLS on the connection from mproxy
        assert b"with ESMTPSA" in got, got[:300]
        mp.wait_log(r"upstream TLS: ", 5)
    finally:
        mp.stop()
        auth.stop()


@timeout(40)
def test_backend_certificate_from_another_ca_is_refused():
    for mode, port_ in (("on", dovecot.imaps_port), ("starttls", dovecot.imap_port)):
        mp, port, auth = proxy("imap", port_, verify_conf(mode, OTHER_CA))
        try:
            c = LineClient(port)
            c.expect_prefix("* OK")
            c.sendline("a LOGIN alice alicepw")
            assert c.readline(10) == "* BAD internal server error"
            c.expect_closed(5)
            mp.wait_log(r"SSL handshake with upstream .* failed", 5)
        finally:
            mp.stop()
            auth.stop()


@timeout(40)
def test_proxy_ssl_verify_off_accepts_any_certificate():
    mp, port, auth = proxy("imap", dovecot.imaps_port,
                           "proxy_ssl on; proxy_ssl_verify off;")
    try:
        imap_login_fetch(port)
    finally:
        mp.stop()
        auth.stop()


@timeout(30)
def test_backend_data_after_starttls_ok_is_refused():
    """Response injection (security.md row 2): a backend that sends bytes
    behind its STARTTLS OK, before the handshake, is not trusted."""
    def backend(conn):
        conn.sendline("* OK [CAPABILITY IMAP4rev1 STARTTLS] fake ready")
        line = conn.readline(10)
        tag = line.split()[0]
        conn.send(f"{tag} OK begin TLS\r\n* OK injected\r\n".encode())
        conn.readline(5)

    fake = TcpServer(backend)
    mp, port, auth = proxy("imap", fake.port, "proxy_ssl starttls; proxy_ssl_verify off;")
    try:
        c = LineClient(port)
        c.expect_prefix("* OK")
        c.sendline("a LOGIN alice alicepw")
        assert c.readline(10) == "* BAD internal server error"
        mp.wait_log(r"sent data after accepting STARTTLS", 5)
    finally:
        mp.stop()
        auth.stop()
        fake.stop()


@timeout(30)
def test_imap_backend_preauth_greeting_refused_with_starttls():
    """A PREAUTH greeting would skip STARTTLS (stripping): refused."""
    def backend(conn):
        conn.sendline("* PREAUTH [CAPABILITY IMAP4rev1] logged in already")
        conn.readline(5)

    fake = TcpServer(backend)
    mp, port, auth = proxy("imap", fake.port, "proxy_ssl starttls; proxy_ssl_verify off;")
    try:
        c = LineClient(port)
        c.expect_prefix("* OK")
        c.sendline("a LOGIN alice alicepw")
        assert c.readline(10) == "* BAD internal server error"
        c.expect_closed(5)
    finally:
        mp.stop()
        auth.stop()
        fake.stop()
