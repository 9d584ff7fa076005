"""`slipway deploy` against a real `slipway server --dev` and a real `slipway-agent`.

Usage: deploy_command.py deploy    a directory deployed with --create-missing, the zip's contents, --json, status,
                                   a failing ValidateService with its log tail
       deploy_command.py refuse    an invalid appspec and a missing application are refused before any upload
       deploy_command.py stop      `slipway deploy watch` of a deployment stopped with the AWS CLI exits 2
       deploy_command.py tty       on a terminal the live table has a row per host

Needs the dev profile in the environment (AWS_*) and SLIPWAY_BIN."""

import io
import json
import os
import pty
import select
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time
import zipfile

import boto3

SLIPWAY = os.environ["SLIPWAY_BIN"]
AGENT = os.environ.get("SLIPWAY_AGENT_BIN") or os.path.join(os.path.dirname(SLIPWAY), "slipway-agent")
EVENTS = ["ApplicationStop", "DownloadBundle", "BeforeInstall", "Install", "AfterInstall", "ApplicationStart",
          "ValidateService"]
codedeploy = boto3.client("codedeploy")
s3 = boto3.client("s3")
# Started by a test runner that blocks SIGTERM in its children; the agent must get it.
signal.pthread_sigmask(signal.SIG_SETMASK, set())


def slipway(*arguments, timeout=120):
    return subprocess.run([SLIPWAY, *arguments], capture_output=True, text=True, timeout=timeout, check=False)


def write(path, text, mode=0o644):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as file:
        file.write(text)
    os.chmod(path, mode)


class Agent:
    """One host: registered with `slipway agent register` (tag env=dev, the default filter of --create-missing)."""

    def __init__(self, work, name="web-1"):
        self.config = os.path.join(work, f"{name}-conf")
        self.log_path = os.path.join(work, f"{name}.log")
        result = slipway("agent", "register", "--config-dir", self.config, "--instance-name", name,
                         "--tags", "env=dev", "--root-dir", os.path.join(self.config, "root"))
        assert result.returncode == 0, f"agent register: {result.stdout}{result.stderr}"
        self.log = open(self.log_path, "a")
        self.process = subprocess.Popen([AGENT, "--config-dir", self.config], stdout=self.log,
                                        stderr=self.log)

    def stop(self):
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
        self.log.close()

    def output(self):
        with open(self.log_path) as file:
            return file.read()


def bundle(directory, destination, validate="echo validated\n", hook_sleep=0):
    """A revision directory: site/ installed to `destination`, hook scripts, ignored files and a .git folder."""
    write(os.path.join(directory, "appspec.yml"),
          "version: 0.0\nos: linux\n"
          f"files:\n  - source: site\n    destination: {destination}\n"
          "hooks:\n"
          "  BeforeInstall:\n    - location: scripts/hook.sh\n"
          "  AfterInstall:\n    - location: scripts/hook.sh\n"
          "  ValidateService:\n    - location: scripts/validate.sh\n")
    write(os.path.join(directory, "scripts/hook.sh"),
          f"#!/bin/sh\necho \"hook $LIFECYCLE_EVENT\"\nsleep {hook_sleep}\n", 0o755)
    write(os.path.join(directory, "scripts/validate.sh"), "#!/bin/sh\n" + validate, 0o755)
    write(os.path.join(directory, "site/index.html"), "<h1>hello</h1>\n")
    write(os.path.join(directory, "site/debug.log"), "noise\n")
    write(os.path.join(directory, "site/keep.log"), "kept\n")
    write(os.path.join(directory, "cache/blob.bin"), "cached\n")
    write(os.path.join(directory, ".git/HEAD"), "ref: refs/heads/main\n")
    write(os.path.join(directory, ".slipwayignore"), "# build leftovers\n*.log\n!keep.log\ncache/\n")
    link = os.path.join(directory, "site/current")
    if not os.path.lexists(link):
        os.symlink("index.html", link)


def zip_of(deployment):
    location = codedeploy.get_deployment(deploymentId=deployment)["deploymentInfo"]["revision"]["s3Location"]
    assert location["bundleType"] == "zip", location
    body = s3.get_object(Bucket=location["bucket"], Key=location["key"])["Body"].read()
    return zipfile.ZipFile(io.BytesIO(body)), location


def scenario_deploy():
    work = tempfile.mkdtemp(prefix="slipway-deploy-")
    agent = Agent(work)
    try:
        destination = os.path.join(work, "www")
        source = os.path.join(work, "app")
        bundle(source, destination)
        result = slipway("deploy", source, "--application", "shop", "--deployment-group", "dev",
                         "--create-missing")
        assert result.returncode == 0, f"exit {result.returncode}\n{result.stdout}\n{result.stderr}\n{agent.output()}"
        assert open(os.path.join(destination, "index.html")).read() == "<h1>hello</h1>\n"
        lines = result.stdout.splitlines()
        for event in EVENTS:
            assert any(line.split()[1:4] == ["web-1", event, "Succeeded"] for line in lines), (event, lines)
        assert lines[-1].startswith("Deployment d-") and "succeeded" in lines[-1], lines
        # Every line but the summary is `HH:MM:SS what status…`.
        for line in lines[:-1]:
            assert len(line) > 9 and line[2] == ":" and line[5] == ":", line
        deployment = lines[-1].split()[1]

        group = codedeploy.get_deployment_group(applicationName="shop", deploymentGroupName="dev")
        group = group["deploymentGroupInfo"]
        assert group["onPremisesInstanceTagFilters"] == [{"Key": "env", "Value": "dev", "Type": "KEY_AND_VALUE"}]
        assert group["autoRollbackConfiguration"]["enabled"], group
        assert group["autoRollbackConfiguration"]["events"] == ["DEPLOYMENT_FAILURE"], group
        assert group["serviceRoleArn"].endswith(":role/slipway"), group

        archive, location = zip_of(deployment)
        assert location["bucket"] == "slipway-revisions" and location["key"].startswith("shop/"), location
        names = archive.namelist()
        # Depth first, names in byte order; no .git, no .slipwayignore, nothing it excludes.
        assert names == ["appspec.yml", "scripts/", "scripts/hook.sh", "scripts/validate.sh", "site/",
                         "site/current", "site/index.html", "site/keep.log"], names
        hook_mode = archive.getinfo("scripts/hook.sh").external_attr >> 16
        assert hook_mode & 0o111 and stat.S_ISREG(hook_mode), oct(hook_mode)
        link = archive.getinfo("site/current")
        assert stat.S_ISLNK(link.external_attr >> 16), oct(link.external_attr >> 16)
        assert archive.read(link) == b"index.html"
        revisions = codedeploy.list_application_revisions(applicationName="shop")["revisions"]
        assert any(r["s3Location"]["key"] == location["key"] for r in revisions), revisions

        status = slipway("deploy", "status", deployment)
        assert status.returncode == 0, f"{status.stdout}{status.stderr}"
        assert "web-1" in status.stdout and "Succeeded" in status.stdout, status.stdout

        # --json: one document, nothing else on stdout.
        write(os.path.join(source, "site/index.html"), "<h1>v2</h1>\n")
        result = slipway("deploy", source, "--application", "shop", "--deployment-group", "dev", "--json",
                         "--description", "second", "--deployment-config", "CodeDeployDefault.AllAtOnce",
                         "--file-exists-behavior", "overwrite")
        assert result.returncode == 0, f"{result.stdout}{result.stderr}"
        document = json.loads(result.stdout)
        info = document["deploymentInfo"]
        assert info["status"] == "Succeeded", document
        assert info["description"] == "second", document
        assert info["deploymentConfigName"] == "CodeDeployDefault.AllAtOnce", document
        assert info["fileExistsBehavior"] == "OVERWRITE", document
        [target] = document["deploymentTargets"]
        assert target["instanceTarget"]["targetId"] == "web-1", target
        assert [e["lifecycleEventName"] for e in target["instanceTarget"]["lifecycleEvents"]] == EVENTS, target
        assert open(os.path.join(destination, "index.html")).read() == "<h1>v2</h1>\n"

        # A failing ValidateService: exit 1 with the script's output, the error code and the deployment's error.
        failing = os.path.join(work, "failing")
        bundle(failing, destination, validate="echo checking the shop\necho shop is down >&2\nexit 3\n")
        result = slipway("deploy", failing, "--application", "shop", "--deployment-group", "dev")
        assert result.returncode == 1, f"exit {result.returncode}\n{result.stdout}\n{result.stderr}"
        assert "web-1 ValidateService Failed" in result.stdout, result.stdout
        assert "ScriptFailed" in result.stdout, result.stdout
        assert "checking the shop" in result.stdout and "shop is down" in result.stdout, result.stdout
        assert "Error: HEALTH_CONSTRAINTS" in result.stdout, result.stdout
        # The group rolls back on failure, and the summary names the rollback deployment.
        assert "Rollback deployment: d-" in result.stdout, result.stdout
        failed = [line for line in result.stdout.splitlines() if line.startswith("Deployment d-")][0].split()[1]
        status = slipway("deploy", "status", failed)
        assert status.returncode == 1, f"{status.stdout}{status.stderr}"
        assert "shop is down" in status.stdout, status.stdout
        print("deploy checks passed")
    finally:
        agent.stop()
        shutil.rmtree(work, ignore_errors=True)


def object_count():
    try:
        return len(s3.list_objects_v2(Bucket="slipway-revisions").get("Contents", []))
    except s3.exceptions.NoSuchBucket:
        return 0


def scenario_refuse():
    work = tempfile.mkdtemp(prefix="slipway-deploy-")
    try:
        source = os.path.join(work, "app")
        bundle(source, os.path.join(work, "www"))
        write(os.path.join(source, "appspec.yml"),
              "version: 0.0\nos: linux\nfiles:\n  - source: site\nhooks:\n  BeforeInstall:\n    - timeout: 10\n")
        result = slipway("deploy", source, "--application", "shop", "--deployment-group", "dev",
                         "--create-missing")
        assert result.returncode == 3, f"exit {result.returncode}\n{result.stdout}\n{result.stderr}"
        assert "appspec.yml:4:5: error: files[0].destination" in result.stderr, result.stderr
        assert "appspec.yml:7:7: error: hooks.BeforeInstall[0].location" in result.stderr, result.stderr
        assert "nothing was uploaded" in result.stderr, result.stderr
        assert result.stdout == "", result.stdout
        assert object_count() == 0
        assert codedeploy.list_applications()["applications"] == [], "the application was created anyway"

        # No appspec.yml at all.
        os.remove(os.path.join(source, "appspec.yml"))
        result = slipway("deploy", source, "--application", "shop", "--deployment-group", "dev")
        assert result.returncode == 3 and "no appspec.yml" in result.stderr, result.stderr

        # A valid bundle for an application that does not exist, without --create-missing.
        bundle(source, os.path.join(work, "www"))
        result = slipway("deploy", source, "--application", "nowhere", "--deployment-group", "dev")
        assert result.returncode == 3, f"exit {result.returncode}\n{result.stderr}"
        assert "--create-missing" in result.stderr and "nowhere" in result.stderr, result.stderr
        assert object_count() == 0

        # A server that does not answer.
        result = slipway("deploy", source, "--application", "shop", "--deployment-group", "dev",
                         "--server", "https://127.0.0.1:9")
        assert result.returncode == 3 and "cannot reach" in result.stderr, result.stderr
        result = slipway("deploy", "status", "d-AAAAAAAAA")
        assert result.returncode == 3 and "DeploymentDoesNotExist" in result.stderr, result.stderr
        print("refuse checks passed")
    finally:
        shutil.rmtree(work, ignore_errors=True)


def scenario_stop():
    work = tempfile.mkdtemp(prefix="slipway-deploy-")
    agent = Agent(work)
    try:
        source = os.path.join(work, "app")
        bundle(source, os.path.join(work, "www"), hook_sleep=12)
        result = slipway("deploy", source, "--application", "shop", "--deployment-group", "dev",
                         "--create-missing", "--no-follow")
        assert result.returncode == 0, f"{result.stdout}{result.stderr}"
        deployment = result.stdout.strip()
        assert deployment.startswith("d-"), result.stdout
        watch = subprocess.Popen([SLIPWAY, "deploy", "watch", deployment], stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE, text=True)
        deadline = time.time() + 60
        while True:
            status = slipway("deploy", "status", deployment)
            if "BeforeInstall" in status.stdout and "InProgress" in status.stdout:
                break
            assert time.time() < deadline, f"the hook never started\n{status.stdout}\n{agent.output()}"
            time.sleep(0.5)
        # A deployment still running: status exits 4.
        assert status.returncode == 4, f"exit {status.returncode}\n{status.stdout}"
        subprocess.run(["aws", "deploy", "stop-deployment", "--deployment-id", deployment], check=True,
                       capture_output=True)
        stdout, stderr = watch.communicate(timeout=90)
        assert watch.returncode == 2, f"exit {watch.returncode}\n{stdout}\n{stderr}"
        assert f"{deployment} Stopped" in stdout, stdout
        assert "Error: MANUAL_STOP" in stdout, stdout
        assert slipway("deploy", "status", deployment).returncode == 2
        print("stop checks passed")
    finally:
        agent.stop()
        shutil.rmtree(work, ignore_errors=True)


def scenario_tty():
    work = tempfile.mkdtemp(prefix="slipway-deploy-")
    agent = Agent(work)
    try:
        source = os.path.join(work, "app")
        bundle(source, os.path.join(work, "www"), hook_sleep=1)
        pid, terminal = pty.fork()
        if pid == 0:
            os.environ["TERM"] = "xterm"
            os.execv(SLIPWAY, [SLIPWAY, "deploy", source, "--application", "shop", "--deployment-group", "dev",
                               "--create-missing"])
        output = b""
        deadline = time.time() + 120
        while time.time() < deadline:
            ready, _, _ = select.select([terminal], [], [], 1)
            if not ready:
                continue
            try:
                chunk = os.read(terminal, 65536)
            except OSError:
                break
            if not chunk:
                break
            output += chunk
        _, status = os.waitpid(pid, 0)
        text = output.decode(errors="replace")
        assert os.waitstatus_to_exitcode(status) == 0, text
        # The table: a header row, a row per host, redrawn in place with cursor movement.
        assert "HOST" in text and "PROGRESS" in text, text
        assert "\x1b[4A" in text, "the table was never redrawn in place"
        rows = [line for line in text.split("\n") if "web-1" in line]
        assert any("7/7" in row and "####################" in row for row in rows), rows
        assert any("BeforeInstall" in row or "AfterInstall" in row for row in rows), rows
        assert "succeeded" in text.splitlines()[-1], text
        print("tty checks passed")
    finally:
        agent.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    {"deploy": scenario_deploy, "refuse": scenario_refuse, "stop": scenario_stop, "tty": scenario_tty}[sys.argv[1]]()
