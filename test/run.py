#!/usr/bin/env python3
"""mproxy's one test command: unit tests, then integration tests.

    MPROXY=/abs/mproxy UNIT=/abs/unit-tests python3 test/run.py [FILTER...]

FILTERs are substrings of "module.function" (e.g. test_imap.test_login,
cram); with filters, the unit tests run only if a filter starts with "unit"
("unit" runs all of them, "unit.str_" passes "str_" to the binary).
Integration tests are the functions test_* of test/integration/test_*.py, in
source order. A module may define setup_module()/teardown_module(). Each test
has a time limit (harness.timeout(s) decorator, default 60 s). Output: one
line per test, then exactly "N passed, M failed" as the last line; exit
status 1 if anything failed.

Environment: MPT_KEEP=1 keeps temp dirs; MPT_VERBOSE=1 prints the unit
binary's output in full.
"""

import importlib
import os
import re
import resource
import signal
import subprocess
import sys
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
INTEGRATION = os.path.join(HERE, "integration")
DEFAULT_TIMEOUT = 60
MODULE_HOOK_TIMEOUT = 180
UNIT_TIMEOUT = 600

sys.path.insert(0, INTEGRATION)
import harness  # noqa: E402


class TestTimeout(Exception):
    pass


def _on_alarm(signum, frame):
    raise TestTimeout()


def _interrupt(signum, frame):
    raise KeyboardInterrupt()


class _Alarm:
    """A time limit for the block, delivered as TestTimeout in the main thread."""

    def __init__(self, seconds):
        self.seconds = seconds

    def __enter__(self):
        signal.signal(signal.SIGALRM, _on_alarm)
        signal.setitimer(signal.ITIMER_REAL, self.seconds)

    def __exit__(self, *exc):
        signal.setitimer(signal.ITIMER_REAL, 0)
        return False


def _short_traceback(exc):
    """The assertion text and the last frames that are in test code."""
    tb = traceback.extract_tb(exc.__traceback__)
    frames = [f for f in tb if os.path.basename(f.filename) != "run.py"
              and not f.filename.startswith("<frozen")]
    lines = traceback.format_list(frames[-4:])
    msg = "".join(traceback.format_exception_only(type(exc), exc)).rstrip()
    if isinstance(exc, TestTimeout):
        msg = "timeout"
    if isinstance(exc, harness.Unavailable):
        return msg, ""
    return msg, "".join(lines).rstrip()


def _indent(text, prefix="    "):
    return "\n".join(prefix + ln for ln in text.splitlines())


class Results:
    def __init__(self):
        self.passed = 0
        self.failed = 0
        self.failed_names = []

    def ok(self, name, secs):
        self.passed += 1
        print(f"ok   {name} ({secs:.2f}s)", flush=True)

    def fail(self, name, secs, detail):
        self.failed += 1
        self.failed_names.append(name)
        print(f"FAIL {name} ({secs:.2f}s)", flush=True)
        if detail:
            print(_indent(detail), flush=True)


# ---------------------------------------------------------------------------
# Unit tests.

def unit_filter(filters):
    """None: skip the unit tests; "" all; else the name filter to pass."""
    if not filters:
        return ""
    for f in filters:
        if f == "unit" or f == "unit.":
            return ""
        if f.startswith("unit."):
            return f[len("unit."):]
    return None


def run_unit(path, name_filter, results):
    if not path:
        return
    if not os.path.isfile(path):
        print(f"(unit tests skipped: {path} not found)", flush=True)
        return
    argv = [path] + ([name_filter] if name_filter else [])
    start = time.monotonic()
    try:
        r = subprocess.run(argv, capture_output=True, text=True, errors="replace",
                           timeout=UNIT_TIMEOUT, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        results.fail("unit-tests", time.monotonic() - start,
                     f"timeout after {UNIT_TIMEOUT}s")
        return
    secs = time.monotonic() - start
    out = r.stdout + r.stderr
    m = None
    for m in re.finditer(r"^(\d+) passed, (\d+) failed\s*$", r.stdout, re.M):
        pass
    if os.environ.get("MPT_VERBOSE") == "1":
        print(_indent(out.rstrip()), flush=True)
    else:
        # FAIL lines and check details only; "ok" lines stay quiet.
        shown = [ln for ln in out.splitlines()
                 if not ln.startswith("ok ") and not re.match(r"^\d+ passed, \d+ failed", ln)]
        if shown:
            print(_indent("\n".join(shown[-200:])), flush=True)
    if m is None:
        results.fail("unit-tests", secs,
                     f"the unit-test binary exited with {r.returncode} without a summary "
                     f"(crash?)\n{harness.tail(out, 30)}")
        return
    passed, failed = int(m.group(1)), int(m.group(2))
    results.passed += passed
    results.failed += failed
    print(f"unit-tests: {passed} passed, {failed} failed ({secs:.2f}s)", flush=True)
    if failed:
        results.failed_names.append(f"unit-tests ({failed})")
    if r.returncode != 0 and failed == 0:
        # e.g. LeakSanitizer at exit, or a crash after the summary
        results.fail("unit-tests.exit", secs,
                     f"exited with {r.returncode} after reporting no failures\n"
                     f"{harness.tail(out, 30)}")
    elif harness.SANITIZER_RE.search(out):
        results.fail("unit-tests.sanitizer", secs, harness.tail(out, 40))


# ---------------------------------------------------------------------------
# Integration tests.

def discover():
    """[(module_name, path)] for test/integration/test_*.py, sorted."""
    names = sorted(n[:-3] for n in os.listdir(INTEGRATION)
                   if n.startswith("test_") and n.endswith(".py"))
    return names


def tests_of(mod):
    fns = []
    for name, obj in vars(mod).items():
        if name.startswith("test_") and callable(obj) and \
                getattr(obj, "__module__", None) == mod.__name__ and hasattr(obj, "__code__"):
            fns.append(obj)
    fns.sort(key=lambda f: f.__code__.co_firstlineno)
    return fns


def selected(name, filters):
    return not filters or any(f in name for f in filters)


def _sanitizer_detail():
    hits = harness.take_sanitizer_hits()
    if not hits:
        return None
    return "child process problem (sanitizer report or bad exit):\n" + \
        "\n".join(f"[{what}]\n{_indent(text)}" for what, text in hits)


def run_hook(fn, limit):
    """Run setup/teardown under a time limit; return None or failure text."""
    try:
        with _Alarm(limit):
            fn()
        return None
    except BaseException as e:  # noqa: B902
        if isinstance(e, KeyboardInterrupt):
            raise
        msg, tb = _short_traceback(e)
        return f"{msg}\n{tb}"


def run_test(modname, fn, results):
    name = f"{modname}.{fn.__name__}"
    limit = getattr(fn, "timeout", DEFAULT_TIMEOUT)
    harness.push_scope()
    start = time.monotonic()
    detail = None
    diag = ""
    try:
        with _Alarm(limit):
            fn()
    except KeyboardInterrupt:
        harness.pop_scope()
        raise
    except BaseException as e:  # noqa: B902 - SystemExit in a test is a failure too
        msg, tb = _short_traceback(e)
        if isinstance(e, TestTimeout):
            msg = f"timeout (limit {limit}s)"
        detail = f"{msg}\n{tb}".rstrip()
        try:
            diag = "" if isinstance(e, harness.Unavailable) else harness.scope_diagnostics()
        except Exception:  # noqa: BLE001
            diag = ""
    secs = time.monotonic() - start
    # Clean-up gets its own time limit; it stops leftover processes, which
    # is also when a sanitizer's leak report appears.
    try:
        with _Alarm(30):
            errors = harness.pop_scope()
    except TestTimeout:
        errors = ["clean-up timed out"]
    san = _sanitizer_detail()
    if san:
        detail = (detail + "\n" if detail else "") + san
    if errors and detail is None:
        detail = "\n".join(errors)
    if detail is None:
        results.ok(name, secs)
    else:
        if diag:
            detail += "\n" + diag
        results.fail(name, secs, detail)


def run_module(modname, filters, results):
    try:
        mod = importlib.import_module(modname)
    except BaseException as e:  # noqa: B902
        if isinstance(e, KeyboardInterrupt):
            raise
        if not filters or any(f in modname or f.startswith(modname + ".") for f in filters):
            msg, tb = _short_traceback(e)
            results.fail(f"{modname}.<import>", 0.0, f"{msg}\n{tb}")
        return
    tests = [f for f in tests_of(mod) if selected(f"{modname}.{f.__name__}", filters)]
    if not tests:
        return
    harness.push_scope()
    try:
        setup_err = None
        setup = getattr(mod, "setup_module", None)
        if setup is not None:
            start = time.monotonic()
            setup_err = run_hook(setup, getattr(setup, "timeout", MODULE_HOOK_TIMEOUT))
            setup_secs = time.monotonic() - start
        for fn in tests:
            if setup_err is not None:
                results.fail(f"{modname}.{fn.__name__}", 0.0,
                             f"setup_module failed ({setup_secs:.2f}s):\n{setup_err}")
                continue
            run_test(modname, fn, results)
        # Like pytest: no teardown after a failed setup (the scope clean-up
        # below still stops whatever setup started).
        teardown = getattr(mod, "teardown_module", None)
        if teardown is not None and setup_err is None:
            start = time.monotonic()
            err = run_hook(teardown, getattr(teardown, "timeout", MODULE_HOOK_TIMEOUT))
            if err is not None:
                results.fail(f"{modname}.teardown_module", time.monotonic() - start, err)
    finally:
        try:
            with _Alarm(60):
                errors = harness.pop_scope()
        except TestTimeout:
            errors = ["module clean-up timed out"]
        san = _sanitizer_detail()
        if errors or san:
            results.fail(f"{modname}.<cleanup>", 0.0,
                         "\n".join(errors + ([san] if san else [])))


def main(argv):
    filters = [a for a in argv if not a.startswith("-")]
    if "--list" in argv:
        for modname in discover():
            mod = importlib.import_module(modname)
            for fn in tests_of(mod):
                name = f"{modname}.{fn.__name__}"
                if selected(name, filters):
                    print(name)
        return 0
    # A child that aborts (ASAN abort_on_error) must not leave core files.
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    # SIGTERM/SIGHUP from CI: unwind through the clean-up like Ctrl-C.
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, _interrupt)
    results = Results()
    started = time.monotonic()
    interrupted = False
    try:
        uf = unit_filter(filters)
        if uf is not None:
            run_unit(os.environ.get("UNIT"), uf, results)
        integ = [f for f in filters if not f.startswith("unit")]
        if integ or not filters:
            mproxy = harness.mproxy_path()
            if not os.path.isfile(mproxy):
                print(f"(note: mproxy binary {mproxy} not found: "
                      "the tests that need it will fail)", flush=True)
            for modname in discover():
                run_module(modname, integ, results)
    except KeyboardInterrupt:
        interrupted = True
        results.failed += 1
        print("interrupted", flush=True)
    finally:
        harness._cleanup_everything()
    names = results.failed_names
    if names:
        more = f" (and {len(names) - 40} more)" if len(names) > 40 else ""
        print(f"failed: {' '.join(names[:40])}{more}", flush=True)
    print(f"time: {time.monotonic() - started:.1f}s", flush=True)
    print(f"{results.passed} passed, {results.failed} failed", flush=True)
    return 1 if results.failed or interrupted else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
