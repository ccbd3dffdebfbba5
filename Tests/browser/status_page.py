#!/usr/bin/env python3
"""Drives headless Chromium (Debian's `chromium`) through the status page, for
StatusPageTests. The DevTools protocol goes over a pipe (--remote-debugging-pipe), so
no websocket library and no debugging port are needed.

usage: status_page.py URL REGION READY_URL SCREENSHOT
       status_page.py --capture URL SCREENSHOT   (the README's picture: load, draw, save)

1. Opens URL and waits, inside the page (a MutationObserver, no polling), until
   REGION's row (id "region-REGION") has data-status "healthy".
2. GETs READY_URL: the test breaks the region when it sees that request.
3. Waits the same way, without reloading, until the row reads degraded or unhealthy.
4. Saves a 1280x720 screenshot and prints one JSON line: the statuses seen, whether
   the page was reloaded in between, and the events listed.
Exits 1 with a message on stderr when a wait passes 30 s or Chromium misbehaves.
"""
import base64, json, os, subprocess, sys, tempfile, urllib.request

capture = sys.argv[1:2] == ["--capture"]
if capture:
    (url, screenshot), region, ready_url = sys.argv[2:4], None, None
else:
    url, region, ready_url, screenshot = sys.argv[1:5]


class Browser:
    def __init__(self):
        to_r, self.to_w = os.pipe()
        self.from_r, from_w = os.pipe()
        self.profile = tempfile.mkdtemp(prefix="rd-chromium-")
        flags = ["--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run", "--remote-debugging-pipe",
                 f"--user-data-dir={self.profile}", "--window-size=1280,720", "about:blank"]
        # Chromium reads commands on fd 3 and answers on fd 4.
        self.proc = subprocess.Popen(["/bin/sh", "-c", f'exec chromium "$@" 3<&{to_r} 4>&{from_w}', "chromium", *flags],
                                     pass_fds=(to_r, from_w), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        os.close(to_r)
        os.close(from_w)
        self.buffer, self.next_id, self.events = b"", 0, []

    def send(self, method, params=None, session=None):
        self.next_id += 1
        message = {"id": self.next_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        os.write(self.to_w, json.dumps(message).encode() + b"\0")
        while True:
            reply = self.receive()
            if reply.get("id") == self.next_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})
            self.events.append(reply)

    def receive(self):
        while b"\0" not in self.buffer:
            chunk = os.read(self.from_r, 1 << 16)
            if not chunk:
                raise RuntimeError("chromium closed its pipe")
            self.buffer += chunk
        message, self.buffer = self.buffer.split(b"\0", 1)
        return json.loads(message)

    def wait_event(self, method, session):
        while True:
            for i, event in enumerate(self.events):
                if event.get("method") == method and event.get("sessionId") == session:
                    return self.events.pop(i)
            self.events.append(self.receive())

    def close(self):
        try:
            self.send("Browser.close")
        except Exception:
            pass
        self.proc.wait(timeout=30)


WAIT = """new Promise((resolve, reject) => {
  const want = %s;
  const row = () => document.getElementById(%s);
  const check = () => { const r = row(); if (r && want.includes(r.dataset.status)) { resolve(r.dataset.status); return true; } return false; };
  if (check()) return;
  new MutationObserver(check).observe(document.body, {subtree: true, childList: true, attributes: true});
  setTimeout(() => reject(new Error("after 30 s the row reads " + (row() ? row().dataset.status : "(no row)"))), 30000);
})"""


def wait_for(browser, session, statuses):
    result = browser.send("Runtime.evaluate", {"expression": WAIT % (json.dumps(statuses), json.dumps("region-" + region)),
                                               "awaitPromise": True, "returnByValue": True}, session)
    if "exceptionDetails" in result:
        raise RuntimeError(result["exceptionDetails"].get("exception", {}).get("description", "evaluation failed"))
    return result["result"]["value"]


def evaluate(browser, session, expression):
    return browser.send("Runtime.evaluate", {"expression": expression, "returnByValue": True}, session)["result"].get("value")


browser = Browser()
try:
    target = browser.send("Target.createTarget", {"url": "about:blank"})["targetId"]
    session = browser.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
    browser.send("Page.enable", session=session)
    browser.send("Emulation.setDeviceMetricsOverride", {"width": 1280, "height": 720, "deviceScaleFactor": 1, "mobile": False}, session)
    browser.send("Page.navigate", {"url": url}, session)
    browser.wait_event("Page.loadEventFired", session)
    if capture:
        browser.send("Runtime.evaluate", {"expression": "new Promise(r => { const d = () => document.querySelector('#regions tr') "
                                          "&& (r(true), true); if (!d()) new MutationObserver(d).observe(document.body, "
                                          "{subtree: true, childList: true}); })", "awaitPromise": True}, session)
        shot = browser.send("Page.captureScreenshot", {"format": "png"}, session)
        with open(screenshot, "wb") as f:
            f.write(base64.b64decode(shot["data"]))
        sys.exit(0)
    before = wait_for(browser, session, ["healthy"])
    evaluate(browser, session, "window.regiondTestMark = 42")  # gone if the page reloads
    urllib.request.urlopen(ready_url, timeout=10).read()
    after = wait_for(browser, session, ["degraded", "unhealthy"])
    same_page = evaluate(browser, session, "window.regiondTestMark === 42")
    events = evaluate(browser, session, "[...document.querySelectorAll('#events li')].map(li => li.textContent)")
    shot = browser.send("Page.captureScreenshot", {"format": "png"}, session)
    with open(screenshot, "wb") as f:
        f.write(base64.b64decode(shot["data"]))
    print(json.dumps({"before": before, "after": after, "same_page": same_page, "events": events}), flush=True)
except Exception as error:
    print(f"status_page.py: {error}", file=sys.stderr)
    sys.exit(1)
finally:
    browser.close()
