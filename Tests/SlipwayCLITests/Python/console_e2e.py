"""The console in a real browser: Debian's Chromium driven by Selenium against a real `slipway server --dev` with three
real `slipway-agent` processes running real hook scripts.

Usage: console_e2e.py

Needs the dev profile in the environment (AWS_*), SLIPWAY_BIN, SLIPWAY_DATA_DIR, and Debian's `chromium` and
`chromium-driver`; screenshots go to SLIPWAY_ARTIFACTS (a directory)."""

import json
import os
import sys
import tempfile
import time

import boto3
from selenium import webdriver
from selenium.common.exceptions import NoAlertPresentException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By

import agent_e2e as e2e

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
ENDPOINT = os.environ["AWS_ENDPOINT_URL"]
ARTIFACTS = os.environ.get("SLIPWAY_ARTIFACTS") or tempfile.mkdtemp(prefix="slipway-console-")
codedeploy = e2e.codedeploy
iam = boto3.client("iam")


def browser():
    for path in (CHROMIUM, CHROMEDRIVER):
        assert os.path.exists(path), f"{path} is missing: install Debian's chromium and chromium-driver"
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1400,1000"):
        options.add_argument(argument)
    options.accept_insecure_certs = True
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)


class Console:
    """One browser signed in to the console."""

    def __init__(self, name):
        self.name = name
        self.driver = browser()
        self.shots = 0

    def open(self, path):
        self.driver.get(ENDPOINT + path)
        self.check_page()

    def check_page(self):
        """No JavaScript error and no alert on the page now."""
        errors = [entry for entry in self.driver.get_log("browser") if entry["level"] == "SEVERE"]
        assert not errors, f"{self.name}: the browser's console has errors on {self.driver.current_url}: {errors}"
        try:
            alert = self.driver.switch_to.alert
            raise AssertionError(f"{self.name}: a script ran on {self.driver.current_url}: alert {alert.text!r}")
        except NoAlertPresentException:
            pass

    def screenshot(self, name):
        self.driver.save_screenshot(os.path.join(ARTIFACTS, f"{name}.png"))

    def sign_in(self, key, secret):
        self.open("/ui/")
        assert "/ui/sign-in" in self.driver.current_url, self.driver.current_url
        self.driver.find_element(By.ID, "accessKeyId").send_keys(key)
        self.driver.find_element(By.ID, "secretAccessKey").send_keys(secret)
        self.driver.find_element(By.CSS_SELECTOR, "form button[type=submit]").click()
        self.wait(lambda: self.text("h1") == "Overview", "the overview after signing in")
        self.check_page()

    def text(self, selector):
        found = self.driver.find_elements(By.CSS_SELECTOR, selector)
        return found[0].text if found else None

    def wait(self, condition, what, timeout=60):
        deadline = time.time() + timeout
        while time.time() < deadline:
            try:
                if condition():
                    return
            except Exception:  # an element replaced while it was read: look again
                pass
            time.sleep(0.1)
        raise AssertionError(f"{self.name}: {what} did not happen within {timeout} s; page: "
                             f"{self.driver.find_element(By.TAG_NAME, 'main').text[:2000]}")

    def hosts(self):
        """{host: status} from the deployment page's timeline."""
        rows = self.driver.find_elements(By.CSS_SELECTOR, "#hosts tr.host")
        return {row.find_element(By.TAG_NAME, "th").text.split()[0]: row.find_element(By.CSS_SELECTOR, ".status").text
                for row in rows}

    def post(self, path, with_token):
        """A form POST made by a script on the page, as a forged one would be: the status it got."""
        status = self.driver.execute_async_script("""
            const [path, withToken, done] = arguments;
            const body = new URLSearchParams();
            if (withToken) { body.set("csrf", document.querySelector("input[name=csrf]").value); }
            fetch(path, {method: "POST", body: body, credentials: "same-origin", redirect: "manual"})
              .then(response => done(response.status), error => done("error " + error));
            """, path, with_token)
        # The refusal the test asked for is logged by the browser as a failed load: that one is expected.
        errors = [entry for entry in self.driver.get_log("browser")
                  if entry["level"] == "SEVERE" and path not in entry["message"]]
        assert not errors, f"{self.name}: the browser's console has errors: {errors}"
        return status

    def close(self):
        self.driver.quit()


def revision(version, hooks):
    """A tgz revision whose hooks are the given scripts {event: body}."""
    appspec = "version: 0.0\nos: linux\nhooks:\n" + "".join(
        f"  {event}:\n    - location: scripts/{event}.sh\n      timeout: 120\n" for event in hooks)
    files = {"appspec.yml": (appspec, 0o644), "VERSION": (version, 0o644)}
    for event, body in hooks.items():
        files[f"scripts/{event}.sh"] = ("#!/bin/bash\n" + body, 0o755)
    return e2e.push(f"site-{version}.tgz", files)


def deploy(location, description="", group="web"):
    return codedeploy.create_deployment(
        applicationName="site", deploymentGroupName=group, revision=location, description=description)["deploymentId"]


def event_status(deployment, instance, event):
    return e2e.events_of(deployment, instance).get(event, {}).get("status")


def main():
    credentials = boto3.Session().get_credentials().get_frozen_credentials()
    work = tempfile.mkdtemp(prefix="slipway-console-e2e-")
    e2e.s3.create_bucket(Bucket="releases")
    codedeploy.create_application(applicationName="site")
    agents = [e2e.Agent(f"web-{n}", work, register=True) for n in (1, 2, 3)]
    codedeploy.add_tags_to_on_premises_instances(
        instanceNames=["web-1"], tags=[{"Key": "note", "Value": "<img src=x onerror=alert('tag')>"}])
    codedeploy.create_deployment_group(
        applicationName="site", deploymentGroupName="web", serviceRoleArn=f"arn:aws:iam::{e2e.ACCOUNT}:role/CodeDeploy",
        deploymentConfigName="CodeDeployDefault.AllAtOnce",
        onPremisesInstanceTagFilters=[{"Key": "role", "Value": "web", "Type": "KEY_AND_VALUE"}])
    for agent in agents:
        agent.start()
    admin = Console("admin")
    try:
        # Sign in: the form, then the overview.
        admin.open("/ui/")
        admin.screenshot("sign-in")
        admin.sign_in(credentials.access_key, credentials.secret_key)
        print("signed in")

        # Watch a deployment of three hosts move through its events, without a reload.
        v1 = revision("v1", {
            "BeforeInstall": "sleep 1\necho preparing\n",
            "AfterInstall": "echo '<script>alert(\"log\")</script>'\nsleep 1\n",
            "ValidateService": "sleep 1\necho healthy\n",
        })
        admin.driver.execute_script("window.slipwayMarker = 42;")
        first = deploy(v1, description="<script>alert('description')</script>")
        admin.wait(lambda: first in admin.text("#overview-live section"), "the new deployment in the overview")
        assert admin.driver.execute_script("return window.slipwayMarker") == 42, "the overview reloaded"
        admin.screenshot("overview")
        admin.driver.find_element(By.LINK_TEXT, first).click()
        admin.check_page()
        admin.driver.execute_script("window.slipwayMarker = 43;")
        seen = set()

        def all_succeeded():
            hosts = admin.hosts()
            seen.update(hosts.values())
            return len(hosts) == 3 and set(hosts.values()) == {"Succeeded"} and "Succeeded" in admin.text("h1")

        admin.wait(all_succeeded, "three hosts succeeding on the live page")
        assert admin.driver.execute_script("return window.slipwayMarker") == 43, "the deployment page reloaded"
        assert "InProgress" in seen, f"the page never showed a host in progress: {seen}"
        assert "<script>alert('description')</script>" in admin.driver.find_element(By.ID, "deployment-head").text
        bars = admin.driver.find_elements(By.CSS_SELECTOR, "#hosts tr.host svg rect")
        assert len(bars) >= 3 * 7, f"{len(bars)} bars for three hosts"
        # A host's events are fetched when its disclosure opens.
        admin.driver.find_element(By.CSS_SELECTOR, "#host-0 summary").click()
        admin.wait(lambda: len(admin.driver.find_elements(By.CSS_SELECTOR, "#host-0 ol.events li a")) >= 7,
                   "the first host's events after opening them")
        admin.check_page()
        admin.screenshot("deployment")
        print("watched a deployment of three hosts")

        # A failing hook's full log appears while the hook runs, with stdout and stderr told apart.
        v2 = revision("v2", {"AfterInstall": (
            "for i in $(seq 1 40); do echo \"line $i $(printf '%.0sx' $(seq 1 100))\"; echo \"warning $i\" >&2;"
            " sleep 0.1; done\n"
            "sleep 4\necho '<script>alert(\"log\")</script>'\necho 'giving up'\nexit 3\n")})
        second = deploy(v2)
        deadline = time.time() + 60
        while event_status(second, "web-1", "AfterInstall") != "InProgress":
            assert time.time() < deadline, "AfterInstall never started on web-1"
            time.sleep(0.2)
        admin.open(f"/ui/deployments/{second}/logs/web-1/AfterInstall")
        admin.wait(lambda: len(admin.driver.find_elements(By.CSS_SELECTOR, "#log li.stream-stdout")) > 0,
                   "the log's first lines while the hook runs", timeout=20)
        assert event_status(second, "web-1", "AfterInstall") == "InProgress", "the hook ended before its log showed"
        admin.wait(lambda: "giving up" in admin.driver.find_element(By.ID, "log").text, "the log's end", timeout=60)
        text = admin.driver.find_element(By.ID, "log").text
        assert len(text) > 4096, f"the log shows {len(text)} characters: a tail, not the whole log"
        assert "line 1 " in text and "line 40 " in text
        stderr = admin.driver.find_elements(By.CSS_SELECTOR, "#log li.stream-stderr")
        assert len(stderr) == 40 and all("warning" in line.text for line in stderr), len(stderr)
        assert "<script>alert(\"log\")</script>" in text
        admin.driver.find_element(By.ID, "log-search").send_keys("warning 17")
        admin.wait(lambda: admin.text("#log-matches") == "1 matching lines", "the search's count")
        shown = [line for line in admin.driver.find_elements(By.CSS_SELECTOR, "#log li") if line.is_displayed()]
        assert len(shown) == 1 and "warning 17" in shown[0].text, [line.text for line in shown]
        admin.wait(lambda: admin.text("#event-status") == "Failed", "the event's status on the log page")
        search = admin.driver.find_element(By.ID, "log-search")
        search.clear()
        search.send_keys(" ")
        search.send_keys("\b")
        admin.check_page()
        admin.screenshot("log")
        assert e2e.wait(second)["status"] == "Failed"
        admin.open(f"/ui/deployments/{second}")
        assert "Failed" in admin.text("h1") and "web-1" in admin.text(".findings"), admin.text("#deployment-head")
        print("followed a failing hook's log while it ran")

        # Stop a deployment from the page, rolling back: the rollback is linked both ways.
        # A stop waits for the hooks running on the hosts to end (the agent hears of it at its next heartbeat).
        v3 = revision("v3", {"BeforeInstall": "sleep 15\n"})
        third = deploy(v3)
        admin.open(f"/ui/deployments/{third}")
        admin.wait(lambda: admin.driver.find_elements(By.XPATH, "//button[text()='Stop and roll back']"),
                   "the stop button")
        admin.driver.find_element(By.XPATH, "//button[text()='Stop and roll back']").click()
        admin.check_page()
        admin.wait(lambda: "Stopped" in admin.text("h1") and "Rolled back by" in admin.text("#deployment-head"),
                   "the stopped deployment linking its rollback", timeout=90)
        admin.driver.find_element(By.CSS_SELECTOR, "#deployment-head ul.links a").click()
        admin.check_page()
        assert f"Rollback of {third}" in admin.text("#deployment-head"), admin.text("#deployment-head")
        rollback = admin.driver.current_url.rstrip("/").rsplit("/", 1)[-1]
        assert e2e.wait(rollback)["status"] == "Succeeded"
        print("stopped a deployment and followed its rollback")

        # A forged POST (no CSRF token) is refused, and the deployment goes on.
        v4 = revision("v4", {"BeforeInstall": "sleep 30\n"})
        codedeploy.register_application_revision(applicationName="site", revision=v4, description="pushed by CI")
        admin.open("/ui/applications/site/revisions")
        admin.screenshot("revisions")
        row = admin.driver.find_element(By.XPATH, "//tr[td[contains(., 'site-v4.tgz')]]")
        row.find_element(By.XPATH, ".//button[text()='Deploy']").click()
        admin.check_page()
        fourth = admin.driver.current_url.rstrip("/").rsplit("/", 1)[-1]
        assert fourth.startswith("d-") and "Deployed from the console" in admin.text("#deployment-head"), fourth
        assert admin.post(f"/ui/deployments/{fourth}/stop", with_token=False) == 403
        assert codedeploy.get_deployment(deploymentId=fourth)["deploymentInfo"]["status"] == "InProgress"
        print("deployed from the revisions page; a forged stop was refused")

        # A read-only user sees no Stop button, and is refused when it posts anyway.
        iam.create_user(UserName="viewer")
        iam.put_user_policy(UserName="viewer", PolicyName="read", PolicyDocument=json.dumps({
            "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Resource": "*", "Action": [
                "codedeploy:Get*", "codedeploy:List*", "codedeploy:BatchGet*"]}]}))
        key = iam.create_access_key(UserName="viewer")["AccessKey"]
        viewer = Console("viewer")
        try:
            viewer.sign_in(key["AccessKeyId"], key["SecretAccessKey"])
            viewer.open(f"/ui/deployments/{fourth}")
            assert "InProgress" in viewer.text("h1"), viewer.text("h1")
            assert not viewer.driver.find_elements(By.XPATH, "//button[starts-with(text(), 'Stop')]")
            assert viewer.post(f"/ui/deployments/{fourth}/stop", with_token=True) == 403
            assert codedeploy.get_deployment(deploymentId=fourth)["deploymentInfo"]["status"] == "InProgress"
            viewer.check_page()
        finally:
            viewer.close()
        codedeploy.stop_deployment(deploymentId=fourth)
        e2e.wait(fourth)
        print("a read-only user could not stop a deployment")

        # Every other page renders hostile names as text, without a script error.
        admin.open("/ui/instances")
        assert "<img src=x onerror=alert('tag')>" in admin.text("main")
        admin.screenshot("instances")
        for path in ("/ui/applications", "/ui/applications/site", "/ui/applications/site/groups/web",
                     "/ui/applications/site/groups/web?status=Failed", f"/ui/deployments/{first}/logs/web-2/AfterInstall"):
            admin.open(path)
        admin.open("/ui/")
        admin.screenshot("overview-after")

        # A keyboard reaches the skip link first; on a phone's width the pages do not scroll sideways (wide tables
        # scroll inside their own box).
        from selenium.webdriver.common.keys import Keys
        admin.driver.find_element(By.TAG_NAME, "body").send_keys(Keys.TAB)
        focused = admin.driver.switch_to.active_element
        assert focused.get_attribute("class") == "skip", focused.get_attribute("outerHTML")
        admin.driver.set_window_size(390, 844)
        for path in ("/ui/", f"/ui/deployments/{first}", f"/ui/deployments/{second}/logs/web-1/AfterInstall",
                     "/ui/instances"):
            admin.open(path)
            overflow = admin.driver.execute_script(
                "return document.documentElement.scrollWidth - document.documentElement.clientWidth")
            assert overflow <= 1, f"{path} is {overflow} px wider than a phone's screen"
        admin.screenshot("deployment-phone")
        print("console checks passed")
    finally:
        admin.close()
        for agent in agents:
            agent.stop()


if __name__ == "__main__":
    main()
