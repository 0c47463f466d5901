"""The command line, the configuration file front end and signals.

mproxy follows nginx's CLI: the same options, and the same messages on
stderr with "nginx" replaced by "mproxy".
"""

import os
import re
import signal
import socket
import subprocess
import time

from harness import (LOG_LINE_RE, REPO, _Proc, closed_port, free_port,
                     note_sanitizer_output, pid_alive, read_text, register, require_mproxy,
                     run, run_mproxy, sanitizer_build, tail, tcp_listening, timeout, tmpdir,
                     track_pid, wait_for, wait_port, wait_port_closed, write_file)

NGINX_EXAMPLE = os.path.join(REPO, "test", "nginx-example.conf")


def mail_block(port, extra=""):
    return f"""mail {{
    server_name mail.example.test;
    auth_http 127.0.0.1:{closed_port()}/auth;
    {extra}
    server {{
        listen 127.0.0.1:{port};
        protocol imap;
    }}
}}
"""


def running_conf(d, port, daemon="off", extra_top="", level="info"):
    """A complete configuration for a running instance in directory d."""
    return (f"daemon {daemon};\n"
            f"error_log {d}/error.log {level};\n"
            f"pid {d}/mproxy.pid;\n"
            f"{extra_top}\n" + mail_block(port))


class Instance:
    """mproxy started by hand (not harness.Mproxy: these tests drive the
    command line themselves). Cleaned up with the test; its stderr and logs
    are scanned for sanitizer reports."""

    def __init__(self, d, conf=None, args=(), cwd=None, logs=("error.log",)):
        self.d = d
        self.logs = [os.path.join(d, n) for n in logs]
        argv = [require_mproxy()] + (["-c", conf] if conf else []) + list(args)
        self.proc = _Proc(argv, f"{d}/stdout", f"{d}/stderr", cwd=cwd or d)
        register(self)

    def wait_listening(self, port):
        wait_port(port, proc=self.proc.popen, timeout=10)

    def wait_exit(self, timeout=10):
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"mproxy still running {timeout}s later\n"
                                 f"{tail(read_text(self.logs[0]))}") from None

    def stderr(self):
        return read_text(f"{self.d}/stderr")

    def _cleanup(self):
        self.proc.terminate(5)
        note_sanitizer_output("mproxy", self.stderr() + "".join(read_text(f) for f in self.logs))

    def diagnostics(self):
        return (f"--- mproxy stderr\n{tail(self.stderr())}\n"
                f"--- {self.logs[0]}\n{tail(read_text(self.logs[0]))}")


def check_ok(r, what):
    assert r.returncode == 0, f"{what}: exit {r.returncode}\n{r.stderr}"


def connect_ok(port):
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.settimeout(5)
        return s.recv(100)


# --- version and configuration test -----------------------------------------

@timeout(20)
def test_version():
    r = run_mproxy(["-v"])
    check_ok(r, "-v")
    assert r.stderr.strip() == "mproxy version: mproxy/0.1.0", repr(r.stderr)
    r = run_mproxy(["-V"])
    check_ok(r, "-V")
    lines = r.stderr.splitlines()
    assert lines[0] == "mproxy version: mproxy/0.1.0", lines
    assert any(ln.startswith("built with BearSSL") for ln in lines), r.stderr
    assert "epoll" in r.stderr, r.stderr


@timeout(20)
def test_config_test_nginx_example():
    assert os.path.isfile(NGINX_EXAMPLE), f"{NGINX_EXAMPLE} is missing"
    r = run_mproxy(["-t", "-c", NGINX_EXAMPLE])
    check_ok(r, "-t on the nginx documentation example")
    assert f"mproxy: the configuration file {NGINX_EXAMPLE} syntax is ok" in r.stderr, r.stderr
    assert f"mproxy: configuration file {NGINX_EXAMPLE} test is successful" in r.stderr


CONFIG_ERRORS = [
    # (name, text, expected message; the line number is the one nginx reports)
    ("unknown directive",
     "daemon off;\nmail {\n    foo on;\n    server { listen 127.0.0.1:1143; protocol imap; }\n}\n",
     'unknown directive "foo" in {f}:3'),
    ("not allowed here",
     "mail {\n    auth_http 127.0.0.1:1/auth;\n    listen 127.0.0.1:1143;\n}\n",
     '"listen" directive is not allowed here in {f}:3'),
    ("missing semicolon",
     "mail {\n    server_name mail.example.test\n"
     "    server { listen 127.0.0.1:1143; protocol imap; }\n}\n",
     'directive "server_name" is not terminated by ";" in {f}:3'),
    ("missing semicolon before }",
     "mail {\n    auth_http 127.0.0.1:1/auth;\n"
     "    server { listen 127.0.0.1:1143; protocol imap }\n}\n",
     'unexpected "}" in {f}:3'),
    ("unexpected end of file",
     "daemon off;\nmail {\n    auth_http 127.0.0.1:1/auth;\n",
     'unexpected end of file, expecting "}" in {f}:4'),
    ("duplicate listen",
     "mail {\n    auth_http 127.0.0.1:1/auth;\n"
     "    server { listen 127.0.0.1:1143; protocol imap; }\n"
     "    server { listen 127.0.0.1:1143; protocol imap; }\n}\n",
     'duplicate "127.0.0.1:1143" address and port pair in {f}:4'),
]


@timeout(30)
def test_config_errors_name_file_and_line():
    d = tmpdir()
    for i, (name, text, want) in enumerate(CONFIG_ERRORS):
        f = write_file(f"{d}/bad{i}.conf", text)
        r = run_mproxy(["-t", "-c", f])
        msg = "mproxy: [emerg] " + want.replace("{f}", f)
        assert r.returncode == 1, f"{name}: exit {r.returncode}\n{r.stderr}"
        assert msg in r.stderr, f"{name}: want {msg!r}\ngot {r.stderr!r}"
        assert f"mproxy: configuration file {f} test failed" in r.stderr, \
            f"{name}: {r.stderr!r}"


@timeout(20)
def test_dump_config():
    d = tmpdir()
    text = "# a comment\n" + mail_block(free_port())
    f = write_file(f"{d}/m.conf", text)
    r = run_mproxy(["-T", "-c", f])
    check_ok(r, "-T")
    assert r.stdout.startswith(f"# configuration file {f}:\n"), r.stdout[:200]
    assert text in r.stdout, r.stdout
    assert "syntax is ok" in r.stderr


@timeout(20)
def test_nginx_top_level_directives_ignored():
    d = tmpdir()
    f = write_file(f"{d}/n.conf", "worker_processes auto;\n"
                   "events {\n    worker_connections 1024;\n}\n"
                   "http {\n    server {\n        listen 80;\n    }\n}\n"
                   + mail_block(free_port()))
    early = f"{d}/early.log"
    r = run_mproxy(["-t", "-c", f, "-e", early])
    check_ok(r, "-t with nginx's top-level directives")
    assert "syntax is ok" in r.stderr and "test is successful" in r.stderr
    said = [ln for ln in (r.stderr + read_text(early)).splitlines()
            if re.search(r"ignor", ln, re.I)]
    assert said, f"no notice about ignored directives:\n{r.stderr}{read_text(early)}"
    assert any("http" in ln for ln in said), said


@timeout(20)
def test_early_error_log_option():
    d = tmpdir()
    f = write_file(f"{d}/bad.conf", CONFIG_ERRORS[0][1])
    early = f"{d}/early.log"
    r = run_mproxy(["-e", early, "-t", "-c", f])
    assert r.returncode == 1
    log = read_text(early)
    assert re.search(r'\[emerg\] \d+#0: unknown directive "foo" in ' + re.escape(f) + ":3",
                     log), f"early log: {log!r}"
    assert all(LOG_LINE_RE.match(ln) for ln in log.splitlines()), log
    assert f'mproxy: [emerg] unknown directive "foo" in {f}:3' in r.stderr, r.stderr
    r = run_mproxy(["-e", "stderr", "-t", "-c", f])
    assert r.returncode == 1
    assert f'unknown directive "foo" in {f}:3' in r.stderr, r.stderr
    assert not os.path.exists(f"{d}/stderr"), "-e stderr created a file named stderr"


@timeout(20)
def test_statically_linked():
    if sanitizer_build():
        return  # the ASan build is dynamically linked on purpose
    r = run(["file", "-L", require_mproxy()], check=True)
    assert "statically linked" in r.stdout, r.stdout


# --- -g and -p ---------------------------------------------------------------

@timeout(20)
def test_global_directives_option():
    d = tmpdir()
    port = free_port()
    f = write_file(f"{d}/g.conf", f"daemon off;\nerror_log {d}/error.log info;\n"
                   + mail_block(port))
    r = run_mproxy(["-t", "-c", f, "-g", f"pid {d}/g.pid;"])
    check_ok(r, "-t -g")
    inst = Instance(d, f, ["-g", f"pid {d}/g.pid;"])
    inst.wait_listening(port)
    wait_for(lambda: os.path.exists(f"{d}/g.pid"), 5, "the pid file named by -g")
    assert read_text(f"{d}/g.pid").strip() == str(inst.proc.pid)
    inst.proc.signal(signal.SIGTERM)
    assert inst.wait_exit() == 0
    assert not os.path.exists(f"{d}/g.pid"), "pid file left behind"
    # A directive given twice (file and -g) is an error, as in nginx.
    f2 = write_file(f"{d}/g2.conf", f"daemon off;\npid {d}/x.pid;\n" + mail_block(port))
    r = run_mproxy(["-t", "-c", f2, "-g", f"pid {d}/g.pid;"])
    assert r.returncode == 1 and '"pid" directive is duplicate' in r.stderr, r.stderr


@timeout(20)
def test_prefix_option():
    d = tmpdir()
    os.makedirs(f"{d}/conf")
    os.makedirs(f"{d}/logs")
    port = free_port()
    write_file(f"{d}/conf/mproxy.conf", "daemon off;\nerror_log logs/error.log info;\n"
               "pid logs/mproxy.pid;\n" + mail_block(port))
    # -c relative to the prefix too; run from / so cwd cannot help.
    r = run_mproxy(["-p", d, "-c", "conf/mproxy.conf", "-t"], cwd="/")
    check_ok(r, "-p -t")
    assert f"{d}/conf/mproxy.conf" in r.stderr.replace("//", "/"), r.stderr
    inst = Instance(d, args=["-p", d + "/", "-c", "conf/mproxy.conf"], cwd="/",
                    logs=("logs/error.log",))
    inst.wait_listening(port)
    wait_for(lambda: os.path.exists(f"{d}/logs/mproxy.pid"), 5, "pid file under the prefix")
    assert os.path.exists(f"{d}/logs/error.log")
    r = run_mproxy(["-p", d, "-c", "conf/mproxy.conf", "-s", "stop"], cwd="/")
    check_ok(r, "-p -s stop")
    assert inst.wait_exit() == 0


# --- signals and running instances ---------------------------------------------

@timeout(30)
def test_signal_quit_and_stop():
    for how in ("quit", "stop"):
        d = tmpdir()
        port = free_port()
        f = write_file(f"{d}/m.conf", running_conf(d, port))
        inst = Instance(d, f)
        inst.wait_listening(port)
        wait_for(lambda: os.path.exists(f"{d}/mproxy.pid"), 5, "pid file")
        assert read_text(f"{d}/mproxy.pid").strip() == str(inst.proc.pid)
        r = run_mproxy(["-s", how, "-c", f])
        check_ok(r, f"-s {how}")
        assert inst.wait_exit() == 0, inst.stderr()
        assert not os.path.exists(f"{d}/mproxy.pid"), f"-s {how} left the pid file"
        assert not tcp_listening(port)


@timeout(20)
def test_signal_without_running_instance():
    d = tmpdir()
    f = write_file(f"{d}/m.conf", running_conf(d, free_port()))
    r = run_mproxy(["-s", "stop", "-c", f])
    assert r.returncode == 1, r.stderr
    assert "mproxy.pid" in r.stderr, r.stderr  # says which pid file it could not open


@timeout(20)
def test_signal_reopen():
    d = tmpdir()
    port = free_port()
    f = write_file(f"{d}/m.conf", running_conf(d, port))
    inst = Instance(d, f)
    inst.wait_listening(port)
    wait_for(lambda: os.path.exists(f"{d}/error.log"), 5, "error.log")
    os.rename(f"{d}/error.log", f"{d}/error.log.1")
    r = run_mproxy(["-s", "reopen", "-c", f])
    check_ok(r, "-s reopen")
    wait_for(lambda: os.path.exists(f"{d}/error.log"), 5, "a new error.log after reopen")
    connect_ok(port)  # some activity that is logged at info
    run_mproxy(["-s", "quit", "-c", f])
    assert inst.wait_exit() == 0


@timeout(30)
def test_signal_reload():
    d = tmpdir()
    port = free_port()
    f = write_file(f"{d}/m.conf", running_conf(d, port))
    inst = Instance(d, f)
    inst.wait_listening(port)
    wait_for(lambda: os.path.exists(f"{d}/mproxy.pid"), 5, "pid file")
    # A broken new configuration: the old one stays in force. Like nginx,
    # `-s reload` may refuse to signal (it parses the file to find the pid
    # file: exit 1 with the reason on stderr); SIGHUP itself must make the
    # running instance log the reason and carry on.
    write_file(f, running_conf(d, port) + "bogus_directive on;\n")
    r = run_mproxy(["-s", "reload", "-c", f])
    reason = re.compile(r'\[emerg\] .*unknown directive "bogus_directive"')
    assert r.returncode == 0 or (r.returncode == 1 and reason.search(r.stderr)), \
        f"-s reload with a broken file: exit {r.returncode}\n{r.stderr}"
    inst.proc.signal(signal.SIGHUP)
    wait_for(lambda: reason.search(read_text(f"{d}/error.log")), 5,
             "the [emerg] reason in error.log")
    assert inst.proc.poll() is None, "mproxy died on a bad reload"
    assert connect_ok(port).startswith(b"* OK"), "old listener gone after a failed reload"
    # A good configuration on a new port.
    port2 = free_port()
    write_file(f, running_conf(d, port2))
    r = run_mproxy(["-s", "reload", "-c", f])
    check_ok(r, "-s reload")
    wait_port(port2, proc=inst.proc.popen)
    assert connect_ok(port2).startswith(b"* OK")
    wait_port_closed(port, timeout=5)
    run_mproxy(["-s", "quit", "-c", f])
    assert inst.wait_exit() == 0


@timeout(20)
def test_daemon_on():
    d = tmpdir()
    port = free_port()
    f = write_file(f"{d}/m.conf", running_conf(d, port, daemon="on"))
    start = time.monotonic()
    r = run_mproxy(["-c", f], timeout=10)
    check_ok(r, "daemon on")
    assert time.monotonic() - start < 5, "mproxy -c did not return promptly with daemon on"
    wait_for(lambda: read_text(f"{d}/mproxy.pid").strip(), 5, "pid file")
    pid = int(read_text(f"{d}/mproxy.pid"))
    track_pid(pid)
    assert pid_alive(pid), "the pid file names no live process"
    wait_port(port)
    assert connect_ok(port).startswith(b"* OK")
    r = run_mproxy(["-s", "stop", "-c", f])
    check_ok(r, "-s stop")
    wait_for(lambda: not pid_alive(pid), 10, "the daemon to exit")
    wait_for(lambda: not os.path.exists(f"{d}/mproxy.pid"), 5, "the pid file to go")
    note_sanitizer_output("daemonised mproxy", read_text(f"{d}/error.log"))


@timeout(20)
def test_log_line_format():
    d = tmpdir()
    port = free_port()
    f = write_file(f"{d}/m.conf", running_conf(d, port, level="debug"))
    inst = Instance(d, f)
    inst.wait_listening(port)
    connect_ok(port)
    inst.proc.signal(signal.SIGTERM)
    assert inst.wait_exit() == 0
    lines = read_text(f"{d}/error.log").splitlines()
    assert lines, "empty error.log"
    bad = [ln for ln in lines if not LOG_LINE_RE.match(ln)]
    assert not bad, f"lines not in nginx's format: {bad[:5]}"
    pid = inst.proc.pid
    assert any(f" {pid}#0: " in ln for ln in lines), "log lines do not carry the pid"
