"""Headless Chromium (Debian's `chromium` and `chromium-driver`) driven by selenium, for the
browser tests: kept off every network but the loopback, its background services off.

`trusting=` a CA certificate file gives the browser a profile whose NSS database trusts it, as
an administrator would install a private CA: no certificate error is ignored anywhere."""
import contextlib
import os
import shutil
import subprocess
import tempfile

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
CERTUTIL = shutil.which("certutil") or "/usr/bin/certutil"
TIMEOUT = 10


def missing():
    """Why the browser tests cannot run here, or None."""
    if not (os.access(CHROMIUM, os.X_OK) and os.access(CHROMEDRIVER, os.X_OK)):
        return f"needs {CHROMIUM} and {CHROMEDRIVER} (Debian packages chromium and chromium-driver; `make test-deps`)"
    return None


def trust_store(home, ca_file):
    """An NSS database under `home` (where Chromium on Linux reads it) trusting `ca_file` for servers."""
    database = os.path.join(home, ".pki", "nssdb")
    os.makedirs(database)
    subprocess.run([CERTUTIL, "-d", f"sql:{database}", "-N", "--empty-password"], check=True, capture_output=True, timeout=TIMEOUT)
    subprocess.run([CERTUTIL, "-d", f"sql:{database}", "-A", "-n", "wavelog-worker test CA", "-t", "C,,", "-i", ca_file],
                   check=True, capture_output=True, timeout=TIMEOUT)


@contextlib.contextmanager
def chromium(trusting=None):
    """A driven browser; stopped, with its driver process, on the way out."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="wavelog-chromium-")
    environment = dict(os.environ)
    if trusting is not None:
        environment["HOME"] = profile
        trust_store(profile, trusting)
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in [
        "--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu", f"--user-data-dir={profile}/data",
        "--no-first-run", "--no-default-browser-check", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--disable-default-apps", "--disable-extensions", "--disable-domain-reliability",
        "--disable-client-side-phishing-detection", "--metrics-recording-only", "--safebrowsing-disable-auto-update",
        "--disable-features=OptimizationHints,MediaRouter,Translate,AutofillServerCommunication",
        # Nothing but the loopback: no name resolves, and any non-loopback request goes to a closed local port.
        "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1", "--proxy-server=http://127.0.0.1:9",
    ]:
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    service = Service(executable_path=CHROMEDRIVER, log_output=os.path.join(profile, "chromedriver.log"), env=environment)
    driver = webdriver.Chrome(service=service, options=options)
    driver.set_script_timeout(TIMEOUT)
    driver.set_page_load_timeout(TIMEOUT)
    try:
        yield driver
    finally:
        driver.quit()
        process = service.process
        if process is not None and process.poll() is None:
            process.kill()
            process.wait(TIMEOUT)
        shutil.rmtree(profile, ignore_errors=True)


@contextlib.contextmanager
def page_server(page):
    """Serves `page` (bytes of HTML) on its own loopback port; yields its origin."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class PageHandler(BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(page)))
            self.end_headers()
            self.wfile.write(page)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), PageHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(TIMEOUT)


def page_value(driver, name):
    """`window.<name>` of the page."""
    return driver.execute_script(f"return window.{name};")


def wait_until(driver, condition, what, names=(), timeout=TIMEOUT):
    """Waits (bounded) for `condition()`; on a timeout fails with the page's `names` and console."""
    import json
    import pytest
    from selenium.common.exceptions import TimeoutException
    from selenium.webdriver.support.ui import WebDriverWait

    try:
        WebDriverWait(driver, timeout, poll_frequency=0.05).until(lambda d: condition())
    except TimeoutException:
        state = {name: page_value(driver, name) for name in names}
        pytest.fail(f"page never got {what}: {json.dumps(state, ensure_ascii=False)[:2000]}; console: {driver.get_log('browser')}")
