"""Real `slipway-agent` processes against a real `slipway server --dev`, driven with the AWS CLI and boto3.

Usage: agent_e2e.py deploy       two deployments to a host: files, hooks, environment, cleanup, log tail
       agent_e2e.py restart      an agent killed in the middle of a hook fails its host at once when restarted

Needs the dev profile in the environment (AWS_*), SLIPWAY_BIN and SLIPWAY_DATA_DIR (for agent keys)."""

import io
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
import zipfile

import boto3

ACCOUNT = "000000000000"
codedeploy = boto3.client("codedeploy")
s3 = boto3.client("s3")
# Started by a test runner that blocks SIGTERM in its children; agents must get it.
signal.pthread_sigmask(signal.SIG_SETMASK, set())


def aws(*arguments):
    result = subprocess.run(["aws", *arguments, "--output", "json"], capture_output=True, text=True, check=False)
    assert result.returncode == 0, f"aws {' '.join(arguments)} failed: {result.stderr}"
    return json.loads(result.stdout) if result.stdout.strip() else {}

def agent_binary():
    """The host agent under test: `slipway-agent`, built next to `slipway` (override with SLIPWAY_AGENT_BIN)."""
    return os.environ.get("SLIPWAY_AGENT_BIN") or os.path.join(os.path.dirname(os.environ["SLIPWAY_BIN"]),
                                                               "slipway-agent")

class Agent:
    """A `slipway-agent` process with its own configuration directory, identity and deployment root."""

    def __init__(self, instance, work, register=False):
        self.instance = instance
        self.config = os.path.join(work, f"{instance}-conf")
        self.root = os.path.join(self.config, "deployment-root")
        self.log_path = os.path.join(work, f"{instance}-agent.log")
        if register:
            # Onboarded through the server's APIs with the admin profile; the command writes both files.
            result = subprocess.run(
                [os.environ["SLIPWAY_BIN"], "agent", "register", "--config-dir", self.config,
                 "--instance-name", instance, "--tags", f"role=web,name={instance}", "--root-dir", self.root],
                capture_output=True, text=True, check=False)
            assert result.returncode == 0, f"slipway agent register failed: {result.stdout}{result.stderr}"
            mode = os.stat(os.path.join(self.config, "codedeploy.onpremises.yml")).st_mode & 0o777
            assert mode == 0o600, f"codedeploy.onpremises.yml has mode {oct(mode)}"
            info = codedeploy.get_on_premises_instance(instanceName=instance)["instanceInfo"]
            assert {"Key": "role", "Value": "web"} in info["tags"], info
            assert info["iamUserArn"].endswith(f":user/slipway/agent/{instance}"), info
            self.process = None
            return
        os.makedirs(self.config, exist_ok=True)
        arn = f"arn:aws:iam::{ACCOUNT}:user/{instance}"
        codedeploy.register_on_premises_instance(instanceName=instance, iamUserArn=arn)
        key = json.loads(subprocess.run(
            [os.environ["SLIPWAY_BIN"], "keys", "create", "--role", "agent", "--instance-name", instance, "--json",
             "--data-dir", os.environ["SLIPWAY_DATA_DIR"]], capture_output=True, text=True, check=True).stdout)
        key = key["AccessKey"]
        with open(os.path.join(self.config, "codedeploy.onpremises.yml"), "w") as file:
            file.write(f"---\nregion: {os.environ['AWS_REGION']}\niam_user_arn: '{arn}'\n"
                       f"aws_access_key_id: {key['AccessKeyId']}\naws_secret_access_key: {key['SecretAccessKey']}\n")
        # The stock agent's file, with Ruby symbol keys, plus the CA for a --dev server.
        with open(os.path.join(self.config, "codedeployagent.yml"), "w") as file:
            file.write(f"---\n:log_aws_wire: false\n:root_dir: '{self.root}'\n:verbose: false\n"
                       f":wait_between_runs: 1\n:max_revisions: 2\n"
                       f":deploy_control_endpoint: '{os.environ['AWS_ENDPOINT_URL']}'\n"
                       f":slipway_ca_file: '{os.environ['AWS_CA_BUNDLE']}'\n")
        self.process = None

    def start(self, extra_env=None):
        environment = dict(os.environ)
        environment.update(extra_env or {})
        self.log = open(self.log_path, "a")
        self.process = subprocess.Popen(
            [agent_binary(), "--config-dir", self.config], stdout=self.log, stderr=self.log,
            env=environment)

    def kill(self):
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()

    def stop(self):
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                raise AssertionError(f"{self.instance}: the agent did not stop within 30 s of SIGTERM")

    def output(self):
        with open(self.log_path) as file:
            return file.read()

    def handles(self):
        """The agent's open files and pipes (sockets and event descriptors are its connections' and event loops'),
        and its live child processes."""
        pid = self.process.pid
        files = []
        for fd in os.listdir(f"/proc/{pid}/fd"):
            try:
                target = os.readlink(f"/proc/{pid}/fd/{fd}")
            except FileNotFoundError:
                continue
            if target.startswith("/") or target.startswith("pipe:"):
                files.append(target)
        children = []
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/children") as file:
                children += file.read().split()
        return sorted(files), children

    def assert_no_leaks(self, idle, when):
        """Every file and pipe the agent holds now it held when idle, except the read ends of pipes that a hook's
        background process still holds open for writing (the agent keeps draining those until it exits, so that the
        process does not die of SIGPIPE); and no hook is left as the agent's child."""
        files, children = self.handles()
        assert children == [], f"{when}: the agent still has child processes {children}"
        extra = list(files)
        for name in idle[0]:
            if name in extra:
                extra.remove(name)
        held_elsewhere = set()
        for pid in filter(str.isdigit, os.listdir("/proc")):
            if int(pid) == self.process.pid:
                continue
            try:
                for fd in os.listdir(f"/proc/{pid}/fd"):
                    held_elsewhere.add(os.readlink(f"/proc/{pid}/fd/{fd}"))
            except (FileNotFoundError, PermissionError, ProcessLookupError):
                continue
        leaked = [name for name in extra if not (name.startswith("pipe:") and name in held_elsewhere)]
        assert leaked == [], f"{when}: the agent holds {leaked} (idle: {idle[0]})"

    def check(self, *extra):
        """`slipway-agent --check` with this agent's configuration."""
        return subprocess.run([agent_binary(), "--config-dir", self.config, "--check", *extra], capture_output=True,
                              text=True, timeout=60, check=False)


def tgz(files):
    """A tgz bundle from {path: (text, mode)}."""
    data = io.BytesIO()
    with tarfile.open(fileobj=data, mode="w:gz") as archive:
        for path, (text, mode) in files.items():
            body = text.encode()
            info = tarfile.TarInfo(path)
            info.size, info.mode = len(body), mode
            archive.addfile(info, io.BytesIO(body))
    return data.getvalue()


def push(key, files):
    answer = s3.put_object(Bucket="releases", Key=key, Body=tgz(files))
    return {"revisionType": "S3", "s3Location": {
        "bucket": "releases", "key": key, "bundleType": "tgz", "eTag": answer["ETag"].strip('"')}}


def wait(deployment, timeout=120):
    deadline = time.time() + timeout
    while time.time() < deadline:
        info = codedeploy.get_deployment(deploymentId=deployment)["deploymentInfo"]
        if info["status"] in ("Succeeded", "Failed", "Stopped"):
            return info
        time.sleep(0.5)
    raise AssertionError(f"{deployment} did not end within {timeout} s")


def events_of(deployment, instance):
    target = codedeploy.get_deployment_target(deploymentId=deployment, targetId=instance)["deploymentTarget"]
    return {event["lifecycleEventName"]: event for event in target["instanceTarget"]["lifecycleEvents"]}


def group(name, instance):
    codedeploy.add_tags_to_on_premises_instances(instanceNames=[instance], tags=[{"Key": "e2e", "Value": name}])
    codedeploy.create_deployment_group(
        applicationName="site", deploymentGroupName=name, serviceRoleArn=f"arn:aws:iam::{ACCOUNT}:role/CodeDeploy",
        deploymentConfigName="CodeDeployDefault.AllAtOnce",
        onPremisesInstanceTagFilters=[{"Key": "e2e", "Value": name, "Type": "KEY_AND_VALUE"}])


def revision_files(version, destination, extra):
    hook = ("#!/bin/sh\n"
            "echo \"$LIFECYCLE_EVENT $DEPLOYMENT_ID $APPLICATION_NAME $DEPLOYMENT_GROUP_NAME $BUNDLE_KEY"
            f" {version}\" >> {os.path.dirname(destination)}/hooks.log\n")
    files = {
        "appspec.yml": (
            "version: 0.0\nos: linux\n"
            f"files:\n  - source: site\n    destination: {destination}\n"
            "hooks:\n"
            "  ApplicationStop:\n    - location: scripts/hook.sh\n"
            "  BeforeInstall:\n    - location: scripts/hook.sh\n"
            "  AfterInstall:\n    - location: scripts/hook.sh\n"
            "  ApplicationStart:\n    - location: scripts/start.sh\n      timeout: 30\n"
            "  ValidateService:\n    - location: scripts/validate.sh\n", 0o644),
        "scripts/hook.sh": (hook, 0o755),
        # A service started in the background without redirecting its output: the stock agent waits for the
        # script's timeout here; Slipway's agent goes on once the script itself has exited.
        "scripts/start.sh": (hook + "sleep 20 &\necho started\n", 0o755),
        "scripts/validate.sh": (f"#!/bin/sh\ntest \"$(cat {destination}/VERSION)\" = {version} || exit 3\n"
                                "echo validated\n", 0o755),
        "site/VERSION": (version, 0o644),
    }
    files.update(extra)
    return files


def started_host(instance, destination_path):
    """A bucket, the application `site`, a group `web` of one registered host running its agent, and the directory
    its revisions install into (under a new work directory)."""
    work = tempfile.mkdtemp(prefix="slipway-agent-e2e-")
    destination = os.path.join(work, *destination_path)
    os.makedirs(os.path.dirname(destination))
    s3.create_bucket(Bucket="releases")
    codedeploy.create_application(applicationName="site")
    agent = Agent(instance, work, register=True)
    group("web", instance)
    agent.start()
    return work, destination, agent


def scenario_deploy():
    work, destination, agent = started_host("web-1", ("www", "site"))
    try:
        time.sleep(2)
        idle_handles = agent.handles()
        first = push("site-v1.tgz", revision_files("v1", destination, {"site/only-in-v1.txt": ("old", 0o644)}))
        started = time.time()
        deployment = codedeploy.create_deployment(
            applicationName="site", deploymentGroupName="web", revision=first)["deploymentId"]
        info = wait(deployment)
        took = time.time() - started
        assert info["status"] == "Succeeded", f"v1: {info}\n{agent.output()}"
        # ApplicationStart left `sleep 20` holding its output; the deployment must not have waited for it.
        assert took < 15, f"v1 took {took:.1f} s: the background process of ApplicationStart held the event"
        assert open(os.path.join(destination, "VERSION")).read() == "v1"
        assert os.path.exists(os.path.join(destination, "only-in-v1.txt"))
        hooks = open(os.path.join(work, "www", "hooks.log")).read().splitlines()
        # First deployment to the host: ApplicationStop has no earlier revision and is skipped.
        assert [line.split()[0] for line in hooks] == ["BeforeInstall", "AfterInstall", "ApplicationStart"], hooks
        assert hooks[0].split()[1:] == [deployment, "site", "web", "site-v1.tgz", "v1"], hooks[0]
        events = events_of(deployment, "web-1")
        assert events["ApplicationStop"]["status"] == "Succeeded"
        assert "validated" in events["ValidateService"]["diagnostics"]["logTail"], events["ValidateService"]
        # The whole log of every event, uploaded by the agent, read back through the server.
        logs = subprocess.run([os.environ["SLIPWAY_BIN"], "deploy", "logs", deployment, "--instance", "web-1"],
                              capture_output=True, text=True, check=False)
        assert logs.returncode == 0, logs.stderr
        for expected in ("==> BeforeInstall on web-1", "==> ApplicationStart on web-1", "[stdout]started",
                         "[stdout]validated", "kept the output of scripts/start.sh open"):
            assert expected in logs.stdout, f"{expected!r} not in:\n{logs.stdout}"

        second = push("site-v2.tgz", revision_files("v2", destination, {}))
        deployment2 = codedeploy.create_deployment(
            applicationName="site", deploymentGroupName="web", revision=second)["deploymentId"]
        info = wait(deployment2)
        assert info["status"] == "Succeeded", f"v2: {info}\n{agent.output()}"
        # Every descriptor a deployment opened (bundle, revision files, the hooks' pipes and logs) is closed, and no
        # hook is left as the agent's child.
        agent.assert_no_leaks(idle_handles, "after two deployments")
        assert open(os.path.join(destination, "VERSION")).read() == "v2"
        # The previous revision's files are cleaned up before the new ones are installed.
        assert not os.path.exists(os.path.join(destination, "only-in-v1.txt")), "v1's file was not cleaned up"
        hooks = open(os.path.join(work, "www", "hooks.log")).read().splitlines()
        # ApplicationStop ran the last installed revision's script (v1's), the later hooks v2's.
        assert hooks[3].split()[0] == "ApplicationStop" and hooks[3].split()[-1] == "v1", hooks
        assert hooks[4].split()[0] == "BeforeInstall" and hooks[4].split()[-1] == "v2", hooks

        # A failing ValidateService: the host fails with the script's exit code and its output as the log tail.
        third = push("site-v3.tgz", revision_files("v2", destination, {"site/VERSION": ("v3-wrong", 0o644)}))
        deployment3 = codedeploy.create_deployment(
            applicationName="site", deploymentGroupName="web", revision=third)["deploymentId"]
        info = wait(deployment3)
        assert info["status"] == "Failed", f"v3: {info}"
        validate = events_of(deployment3, "web-1")["ValidateService"]
        assert validate["status"] == "Failed", validate
        assert validate["diagnostics"]["errorCode"] == "ScriptFailed", validate
        assert "exit code 3" in validate["diagnostics"]["message"], validate
        agent.assert_no_leaks(idle_handles, "after a failed hook")

        # The stock layout on disk.
        instructions = os.path.join(agent.root, "deployment-instructions")
        names = sorted(os.listdir(instructions))
        group_id = codedeploy.get_deployment_group(
            applicationName="site", deploymentGroupName="web")["deploymentGroupInfo"]["deploymentGroupId"]
        for suffix in ("-cleanup", "-install.json", "_last_successful_install", "_most_recent_install"):
            assert group_id + suffix in names, names
        log = os.path.join(agent.root, group_id, deployment, "logs", "scripts.log")
        assert "LifecycleEvent - ApplicationStart" in open(log).read()
        agent.stop()
        print("agent deployment checks passed")
    finally:
        agent.stop()


def scenario_github():
    """A GitHub revision: the agent fetches the commit's tarball from the configured API base (a local stand-in that
    redirects to an archive host, as GitHub does) and strips the archive's top-level directory."""
    import http.server
    import threading

    work = tempfile.mkdtemp(prefix="slipway-agent-e2e-")
    destination = os.path.join(work, "www")
    commit = "0123456789abcdef0123456789abcdef01234567"
    archive = io.BytesIO()
    with tarfile.open(fileobj=archive, mode="w:gz") as bundle:
        for path, text, mode in [
            ("appspec.yml", f"version: 0.0\nos: linux\nfiles:\n  - source: web\n    destination: {destination}\n"
             "hooks:\n  AfterInstall:\n    - location: hook.sh\n", 0o644),
            ("web/index.html", "from github", 0o644),
            ("hook.sh", f"#!/bin/sh\necho \"$BUNDLE_COMMIT\" > {work}/commit\n", 0o755),
        ]:
            body = text.encode()
            info = tarfile.TarInfo(f"acme-site-{commit[:7]}/{path}")
            info.size, info.mode = len(body), mode
            bundle.addfile(info, io.BytesIO(body))
    seen = []

    class GitHub(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            seen.append((self.path, self.headers.get("Authorization")))
            if self.path == f"/repos/acme/site/tarball/{commit}":
                self.send_response(302)
                self.send_header("Location", f"http://127.0.0.1:{self.server.server_port}/codeload/{commit}.tgz")
                self.end_headers()
            elif self.path == f"/codeload/{commit}.tgz":
                self.send_response(200)
                self.send_header("Content-Length", str(len(archive.getvalue())))
                self.end_headers()
                self.wfile.write(archive.getvalue())
            else:
                self.send_response(404)
                self.end_headers()

        def log_message(self, *arguments):
            pass

    github = http.server.ThreadingHTTPServer(("127.0.0.1", 0), GitHub)
    threading.Thread(target=github.serve_forever, daemon=True).start()
    codedeploy.create_application(applicationName="site")
    agent = Agent("gh-1", work)
    with open(os.path.join(agent.config, "codedeployagent.yml"), "a") as file:
        file.write(f":slipway_github_api: 'http://127.0.0.1:{github.server_port}'\n")
    group("gh", "gh-1")
    agent.start()
    try:
        deployment = codedeploy.create_deployment(
            applicationName="site", deploymentGroupName="gh",
            revision={"revisionType": "GitHub", "gitHubLocation": {"repository": "acme/site", "commitId": commit}}
        )["deploymentId"]
        info = wait(deployment)
        assert info["status"] == "Succeeded", f"{info}\n{agent.output()}"
        assert open(os.path.join(destination, "index.html")).read() == "from github"
        assert open(os.path.join(work, "commit")).read().strip() == commit
        assert seen[0] == (f"/repos/acme/site/tarball/{commit}", None), seen
        print("agent github checks passed")
    finally:
        agent.stop()
        github.shutdown()


def scenario_restart():
    work = tempfile.mkdtemp(prefix="slipway-agent-e2e-")
    s3.create_bucket(Bucket="releases")
    codedeploy.create_application(applicationName="site")
    agent = Agent("slow-1", work)
    group("slow", "slow-1")
    marker = os.path.join(work, "hook-started")
    files = {
        "appspec.yml": ("version: 0.0\nos: linux\nhooks:\n  AfterInstall:\n    - location: slow.sh\n", 0o644),
        "slow.sh": (f"#!/bin/sh\ntouch {marker}\nsleep 60\n", 0o755),
    }
    agent.start()
    try:
        deployment = codedeploy.create_deployment(
            applicationName="site", deploymentGroupName="slow", revision=push("slow.tgz", files))["deploymentId"]
        deadline = time.time() + 60
        while not os.path.exists(marker):
            assert time.time() < deadline, f"the hook never started\n{agent.output()}"
            time.sleep(0.2)
        agent.kill()
        restarted = time.time()
        agent.start()
        info = wait(deployment, timeout=60)
        took = time.time() - restarted
        assert info["status"] == "Failed", info
        assert took < 20, f"the host failed {took:.1f} s after the restart"
        event = events_of(deployment, "slow-1")["AfterInstall"]
        assert "after an agent restart" in event["diagnostics"]["message"], event
        print("agent restart checks passed")
    finally:
        agent.stop()


def scenario_reuse():
    """A revision already on the host is not downloaded again: redeploying v1 after v2 links v1's unpacked files
    (the same inodes) into the new deployment, the agent says so, and no archive copy stays behind."""
    _, destination, agent = started_host("model-1", ("srv", "model"))
    weights = "w" * (3 << 20)

    def revision(version):
        return push(f"model-{version}.tgz", {
            "appspec.yml": (f"version: 0.0\nos: linux\nfile_exists_behavior: OVERWRITE\nfiles:\n"
                            f"  - source: model\n    destination: {destination}\n", 0o644),
            "model/weights.bin": (weights + version, 0o644),
            "model/VERSION": (version, 0o644)})

    def deploy(location):
        deployment = codedeploy.create_deployment(
            applicationName="site", deploymentGroupName="web", revision=location)["deploymentId"]
        info = wait(deployment)
        assert info["status"] == "Succeeded", f"{deployment}: {info}\n{agent.output()}"
        return deployment

    def archive(deployment):
        group_id = codedeploy.get_deployment_group(
            applicationName="site", deploymentGroupName="web")["deploymentGroupInfo"]["deploymentGroupId"]
        return os.path.join(agent.root, group_id, deployment, "deployment-archive")

    try:
        v1, v2 = revision("v1"), revision("v2")
        first = deploy(v1)
        deploy(v2)
        assert open(os.path.join(destination, "VERSION")).read() == "v2"
        again = deploy(v1)
        assert open(os.path.join(destination, "VERSION")).read() == "v1"
        assert "reused the revision already on this host" in agent.output(), agent.output()
        before = os.stat(os.path.join(archive(first), "model", "weights.bin"))
        after = os.stat(os.path.join(archive(again), "model", "weights.bin"))
        # A hard link shares the inode; a copy-on-write clone (btrfs, XFS) would share the blocks instead.
        assert (before.st_dev, before.st_ino) == (after.st_dev, after.st_ino) or \
            "cloned=1" in agent.output() or "cloned\": \"1" in agent.output(), (before, after)
        for deployment in (first, again):
            assert not os.path.exists(os.path.join(os.path.dirname(archive(deployment)), "bundle.tar")), deployment

        # Zip revisions whose weights did not change: only the rest of the archive is downloaded, and the weights
        # are linked from the kept revision.
        model = os.urandom(3 << 20)

        def zipped(version):
            data = io.BytesIO()
            with zipfile.ZipFile(data, "w", zipfile.ZIP_DEFLATED) as bundle:
                for name, body, mode in (
                        ("appspec.yml", f"version: 0.0\nos: linux\nfile_exists_behavior: OVERWRITE\nfiles:\n"
                                        f"  - source: model\n    destination: {destination}\n", 0o644),
                        ("model/weights.bin", model, 0o640), ("model/VERSION", version, 0o644)):
                    info = zipfile.ZipInfo(name)
                    info.create_system, info.external_attr = 3, (0o100000 | mode) << 16
                    bundle.writestr(info, body)
            key = f"model-{version}.zip"
            answer = s3.put_object(Bucket="releases", Key=key, Body=data.getvalue())
            return {"revisionType": "S3", "s3Location": {
                "bucket": "releases", "key": key, "bundleType": "zip", "eTag": answer["ETag"].strip('"')}}

        third = deploy(zipped("v3"))
        before_log = len(agent.output())
        fourth = deploy(zipped("v4"))
        assert open(os.path.join(destination, "VERSION")).read() == "v4"
        assert open(os.path.join(destination, "weights.bin"), "rb").read() == model, "the installed weights differ"
        log = agent.output()[before_log:]
        assert "downloaded the changed part of the revision" in log, log
        received = int(re.search(r"received=(\d+)", log).group(1))
        assert received < (64 << 10), f"{received} bytes downloaded for a revision whose 3 MiB of weights were kept"
        before = os.stat(os.path.join(archive(third), "model", "weights.bin"))
        after = os.stat(os.path.join(archive(fourth), "model", "weights.bin"))
        assert (before.st_dev, before.st_ino) == (after.st_dev, after.st_ino), (before, after)

        # A kept file rewritten in place (as a hook might) is not reused: the weights are downloaded again.
        with open(os.path.join(archive(fourth), "model", "weights.bin"), "r+b") as file:
            file.write(b"tampered")
        before_log = len(agent.output())
        deploy(zipped("v5"))
        assert open(os.path.join(destination, "weights.bin"), "rb").read() == model, "a rewritten kept file was used"
        log = agent.output()[before_log:]
        assert "downloaded the changed part of the revision" not in log, log
        print("agent reuse checks passed")
    finally:
        agent.stop()


class CuttingProxy:
    """A TCP proxy on loopback in front of the server (TLS passes through it) that cuts the first connection to carry
    more than `cut_after` bytes towards the agent, once, and counts every byte it forwards that way."""

    def __init__(self, upstream_port, cut_after):
        self.upstream_port, self.cut_after = upstream_port, cut_after
        self.forwarded, self.cuts, self.connections = 0, 0, []
        self.lock = threading.Lock()
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(64)
        self.port = self.listener.getsockname()[1]
        threading.Thread(target=self.accept, daemon=True).start()

    def accept(self):
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(("127.0.0.1", self.upstream_port))
            threading.Thread(target=self.pipe, args=(client, upstream, False), daemon=True).start()
            threading.Thread(target=self.pipe, args=(upstream, client, True), daemon=True).start()

    def pipe(self, source, destination, downstream):
        carried = 0
        try:
            while True:
                data = source.recv(65536)
                if not data:
                    break
                if downstream:
                    with self.lock:
                        cut = self.cuts == 0 and carried + len(data) > self.cut_after
                        if cut:
                            self.cuts += 1
                            data = data[:self.cut_after - carried]
                        self.forwarded += len(data)
                    carried += len(data)
                    destination.sendall(data)
                    if cut:
                        break
                else:
                    destination.sendall(data)
        except OSError:
            pass
        if downstream:
            with self.lock:
                self.connections.append(carried)
        for end in (source, destination):
            try:
                end.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            end.close()


def scenario_resume():
    """A revision download cut in the middle resumes where it stopped: the deployment succeeds, and the bytes the
    proxy forwarded are the bundle once plus what was in flight when the connection dropped (what the agent had
    not yet read is fetched again), not the bundle and the 4 MiB of the cut connection."""
    _, destination, agent = started_host("resume-1", ("srv", "model"))
    agent.stop()
    bundle = os.urandom(8 << 20)
    proxy = CuttingProxy(int(os.environ["AWS_ENDPOINT_URL"].rsplit(":", 1)[1]), cut_after=4 << 20)
    with open(os.path.join(agent.config, "codedeployagent.yml"), "a") as file:
        file.write(f":s3_endpoint_override: 'https://127.0.0.1:{proxy.port}'\n")
    agent.start()
    try:
        location = push("weights.tgz", {
            "appspec.yml": (f"version: 0.0\nos: linux\nfiles:\n  - source: model\n    destination: {destination}\n",
                            0o644),
            "model/weights.bin": (bundle.hex()[:8 << 20], 0o644)})
        size = s3.head_object(Bucket="releases", Key="weights.tgz")["ContentLength"]
        deployment = codedeploy.create_deployment(
            applicationName="site", deploymentGroupName="web", revision=location)["deploymentId"]
        info = wait(deployment)
        assert info["status"] == "Succeeded", f"{info}\n{agent.output()}"
        assert proxy.cuts == 1, "the proxy never cut the download"
        assert open(os.path.join(destination, "weights.bin")).read() == bundle.hex()[:8 << 20]
        # Downloaded again from the start, the bytes would be at least size + 4 MiB.
        assert proxy.forwarded < size + (3 << 20), \
            f"{proxy.forwarded} bytes forwarded for a {size}-byte bundle, by connection: {proxy.connections}"
        print(f"resumed: {proxy.forwarded} bytes forwarded for a {size}-byte bundle "
              f"({proxy.forwarded - size} fetched twice or protocol overhead)")
        print("agent resume checks passed")
    finally:
        agent.stop()


def scenario_check():
    """`slipway-agent --check` against the real server: ready, then each thing that can be wrong, said as such."""
    work = tempfile.mkdtemp(prefix="slipway-agent-e2e-")
    agent = Agent("checked-1", work, register=True)
    result = agent.check()
    assert result.returncode == 0, f"a registered host should pass:\n{result.stdout}{result.stderr}"
    for subject in ("configuration", "endpoint", "instance", "root", "trust", "server"):
        assert any(line.startswith("ok") and f" {subject} " in line for line in result.stdout.splitlines()), \
            f"{subject} is not ok:\n{result.stdout}"
    assert "accepted this host's key" in result.stdout, result.stdout
    assert "The agent can run." in result.stdout, result.stdout

    def expect_failure(what, expected, *extra):
        outcome = agent.check(*extra)
        assert outcome.returncode == 1, f"{what}: exit {outcome.returncode}\n{outcome.stdout}{outcome.stderr}"
        assert expected in outcome.stdout, f"{what}: {expected!r} not in:\n{outcome.stdout}"
        assert "cannot run" in outcome.stdout, outcome.stdout

    expect_failure("nothing listening", "is the server running", "--server", "https://127.0.0.1:9")
    # The system's roots do not include the --dev CA: TLS is not trusted.
    expect_failure("untrusted TLS", "not trusted", "--ca-file", "/etc/ssl/certs/ca-certificates.crt")
    path = os.path.join(agent.config, "codedeploy.onpremises.yml")
    original = open(path).read()
    lines = original.splitlines()
    with open(path, "w") as file:
        file.write("\n".join(line if not line.startswith("aws_secret_access_key")
                             else "aws_secret_access_key: " + "x" * 40 for line in lines) + "\n")
    expect_failure("a wrong secret", "does not know this key or its secret is wrong")
    # Another instance's key: accepted as a key, refused for this host.
    other = Agent("checked-2", work)
    other_key = [line for line in open(os.path.join(other.config, "codedeploy.onpremises.yml")).read().splitlines()
                 if line.startswith("aws_")]
    with open(path, "w") as file:
        file.write("\n".join(line for line in lines if not line.startswith("aws_")) + "\n" + "\n".join(other_key)
                   + "\n")
    expect_failure("another instance's key", "refused this key")
    with open(path, "w") as file:
        file.write("---\nregion: us-east-1\niam_user_arn: [1, 2\n")
    expect_failure("a broken instance file", "FAIL  instance")
    with open(path, "w") as file:
        file.write(original)
    expect_failure("an unusable root", "is not a directory", "--root-dir", path)
    print("agent check checks passed")


if __name__ == "__main__":
    {"deploy": scenario_deploy, "restart": scenario_restart, "github": scenario_github,
     "check": scenario_check, "reuse": scenario_reuse, "resume": scenario_resume}[sys.argv[1]]()
