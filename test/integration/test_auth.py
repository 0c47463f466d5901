"""The authenticators beyond one request per login: auth_http keep-alive
(nginx opens a connection per login; mproxy keeps it when the server
agrees), and the built-in authenticator (auth_backend) for appliances with
no HTTP auth server: hashes made by `mproxy -H`, pass-through, routing by
login, *@domain and *."""

import subprocess

from harness import (SLOW, AuthServer, Dovecot, IMAP4, LineClient, Mproxy, auth_ok, auth_users, free_port,
                     require_mproxy, timeout)

USERS = {"alice@example.test": "alicepw", "bob@other.test": "bobpw", "carol": "carolpw"}
dovecot = None


def setup_module():
    global dovecot
    dovecot = Dovecot(USERS).start()


def teardown_module():
    dovecot.stop()


def make_hash(password):
    r = subprocess.run([require_mproxy(), "-H"], input=password + "\n", capture_output=True,
                       text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    h = r.stdout.strip()
    assert h.startswith("$pbkdf2-sha256$"), h
    return h


def login(port, user, password):
    m = IMAP4(port)
    try:
        typ, _ = m.login(user, password)
        return typ
    except IMAP4.error as e:
        return str(e)
    finally:
        try:
            m.logout()
        except Exception:  # noqa: BLE001 - closed already after a refusal
            pass


@timeout(60)
def test_auth_http_connection_kept_between_logins():
    auth = AuthServer(auth_users(USERS, dovecot.imap_port)).start()
    port = free_port()
    mp = Mproxy(f"""auth_http {auth.conf_url};
        server {{ listen 127.0.0.1:{port}; protocol imap; }}""")
    try:
        for _ in range(5):
            assert login(port, "alice@example.test", "alicepw") == "OK"
        assert len(auth.requests) == 5
        assert auth.connections == 1, f"{auth.connections} connections for 5 logins"
    finally:
        mp.stop()
        auth.stop()


@timeout(60)
def test_hash_tool_makes_distinct_salted_hashes():
    a, b = make_hash("secret"), make_hash("secret")
    assert a != b, "the same password must get different salts"
    assert a.split("$")[2].isdigit()



@timeout(60)
def test_builtin_hash_check_and_routing():
    """alice is checked here against a hash; *@other.test passes the
    password through to Dovecot; * routes everything else; no HTTP at all."""
    h = make_hash("alicepw")
    port = free_port()
    mp = Mproxy(f"""
    auth_backend alice@example.test 127.0.0.1:{dovecot.imap_port} password={h};
    auth_backend *@other.test 127.0.0.1:{dovecot.imap_port};
    auth_backend * 127.0.0.1:{dovecot.imap_port};
    server {{ listen 127.0.0.1:{port}; protocol imap; }}""")
    try:
        assert login(port, "alice@example.test", "alicepw") == "OK"
        # the hash check refuses a wrong password before any backend sees it
        assert "Invalid login or password" in login(port, "alice@example.test", "wrong")
        mp.wait_log(r'session closed: .*login: "alice@example\.test", upstream: -,', 5)
        assert login(port, "bob@other.test", "bobpw") == "OK"
        assert login(port, "carol", "carolpw") == "OK"
        # pass-through: Dovecot itself refuses a wrong password
        assert login(port, "carol", "nope") != "OK"
        mp.wait_log(r"client logged in, login: \"bob@other.test\"", 5)
    finally:
        mp.stop()


@timeout(60)
def test_builtin_without_match_is_refused():
    port = free_port()
    mp = Mproxy(f"""
    auth_backend *@example.test 127.0.0.1:{dovecot.imap_port};
    server {{ listen 127.0.0.1:{port}; protocol imap; }}""")
    try:
        assert "Invalid login or password" in login(port, "bob@other.test", "bobpw")
    finally:
        mp.stop()


@timeout(60)
def test_builtin_hash_check_does_not_stall_other_sessions():
    """The hash is computed in slices: while logins are being checked, another
    client's NOOP is answered promptly."""
    import time
    h = make_hash("alicepw")
    port = free_port()
    mp = Mproxy(f"""
    auth_backend * 127.0.0.1:{dovecot.imap_port} password={h};
    server {{ listen 127.0.0.1:{port}; protocol imap; }}""")
    try:
        busy = [LineClient(port) for _ in range(8)]
        for i, c in enumerate(busy):
            c.expect_prefix("* OK")
            c.sendline(f"l{i} LOGIN alice@example.test wrongpw")
        probe = LineClient(port)
        probe.expect_prefix("* OK")
        start = time.monotonic()
        probe.sendline("n NOOP")
        assert probe.readline(5) == "n OK completed"
        assert time.monotonic() - start < 0.5 * SLOW
        for i, c in enumerate(busy):
            assert c.readline(10).startswith(f"l{i} NO ")
    finally:
        mp.stop()


@timeout(60)
def test_auth_server_as_host_name_with_resolver():
    """nginx refuses an Auth-Server that is not an IP; mproxy looks it up with
    its own resolver when one is configured, and refuses it otherwise."""
    from dns_fake import DnsMasq
    dns = DnsMasq(host_records=[("imap.backend.test", "127.0.0.1")]).start()
    auth = AuthServer(auth_ok(dovecot.imap_port, host="imap.backend.test")).start()
    port, port2 = free_port(), free_port()
    mp = Mproxy(f"""auth_http {auth.conf_url};
        server {{ listen 127.0.0.1:{port}; protocol imap; resolver 127.0.0.1:{dns.port}; }}
        server {{ listen 127.0.0.1:{port2}; protocol imap; }}""")
    try:
        assert login(port, "alice@example.test", "alicepw") == "OK"
        mp.wait_log(r"client logged in, .*upstream: 127\.0\.0\.1:%d" % dovecot.imap_port, 5)
        # no resolver on this server: a clear refusal, never a guess
        c = LineClient(port2)
        c.expect_prefix("* OK")
        c.sendline("a LOGIN alice@example.test alicepw")
        assert c.readline(10) == "* BAD internal server error"
        mp.wait_log(r"sent a host name, and there is no resolver", 5)
        # a name that does not resolve
        auth.set_policy(auth_ok(dovecot.imap_port, host="nosuch.backend.test"))
        c = LineClient(port)
        c.expect_prefix("* OK")
        c.sendline("a LOGIN alice@example.test alicepw")
        assert c.readline(10) == "* BAD internal server error"
        mp.wait_log(r'upstream "nosuch\.backend\.test" could not be resolved', 10)
    finally:
        mp.stop()
        auth.stop()
        dns.stop()
