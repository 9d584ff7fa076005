"""The end-to-end suite: a real `slipway server --dev`, three real `slipway-agent` processes (each with its own
identity, configuration and deployment root) and the real AWS CLI, deploying the ML example of Examples/ml-inference.

  1. v1 with OneAtATime: Succeeded, files in place, every instance answers predictions;
  2. v2-broken with automatic rollback: Failed, the rollback Succeeded, v1 answers again;
  3. a running deployment is stopped: Stopped, visible per host;
  4. the server is killed with SIGKILL mid-deployment and restarted: the deployment completes, no hook ran twice;
  5. an agent killed in the middle of a hook: its host fails as soon as the agent comes back.

Run by EndToEndTests with SLIPWAY_BIN. Starts and stops everything itself; prints one line per check."""

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

BIN = os.environ["SLIPWAY_BIN"]
# Hosts run the agent on its own executable, built next to `slipway`.
AGENT_BIN = os.environ.get("SLIPWAY_AGENT_BIN") or os.path.join(os.path.dirname(BIN), "slipway-agent")
EXAMPLE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "Examples", "ml-inference")
# Started by a test runner that blocks SIGTERM in its children; the processes started here must get it.
signal.pthread_sigmask(signal.SIG_SETMASK, set())


def check(name, condition, detail=""):
    if not condition:
        raise AssertionError(f"{name}: {detail}")
    print("ok:", name, flush=True)


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Server:
    def __init__(self, work, arguments=()):
        self.data = os.path.join(work, "server")
        self.port = free_port()
        self.arguments = list(arguments)
        self.process = None
        self.env = None

    def start(self):
        self.log = open(os.path.join(self.data + ".log"), "a")
        self.process = subprocess.Popen(
            [BIN, "server", "--dev", "--no-agent", "--data-dir", self.data, "--listen", f"127.0.0.1:{self.port}",
             "--pickup-timeout", "30", "--poll-hold", "5", *self.arguments], stdout=subprocess.PIPE, stderr=self.log,
            text=True)
        exports = {}
        for line in self.process.stdout:
            line = line.strip()
            if line.startswith("export ") and "=" in line:
                name, value = line[len("export "):].split("=", 1)
                exports[name] = value
            if line.startswith("aws deploy list-applications"):
                break
        # Keep reading what the server may print later, so it never writes to a closed pipe.
        threading.Thread(target=self.process.stdout.read, daemon=True).start()
        env = {key: value for key, value in os.environ.items() if not key.startswith("AWS_")}
        env.update(exports)
        env["AWS_PAGER"] = ""
        env["AWS_DEFAULT_REGION"] = exports["AWS_REGION"]
        self.env = env

    def kill(self):
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()

    def stop(self):
        if self.process and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=30)


class Host:
    """A `slipway agent` onboarded with `slipway agent register`, with its own port for the example service."""

    def __init__(self, name, work, server, tags="e2e=ml"):
        self.name = name
        self.config = os.path.join(work, name, "conf")
        self.root = os.path.join(work, name, "root")
        self.run_dir = os.path.join(work, name, "run")
        self.port = free_port()
        self.server = server
        self.log_path = os.path.join(work, name, "agent.log")
        self.process = None
        # More `slipway-agent` options, set before start().
        self.arguments = []
        os.makedirs(os.path.dirname(self.log_path), exist_ok=True)
        run([BIN, "agent", "register", "--config-dir", self.config, "--instance-name", name,
             "--tags", tags, "--root-dir", self.root], server.env)
        with open(os.path.join(self.config, "codedeployagent.yml"), "a") as file:
            file.write(":slipway_heartbeat_interval: 2\n")
            file.write(":slipway_hook_environment: ML_INFERENCE_PORT ML_INFERENCE_RUN_DIR\n")

    def start(self):
        env = dict(self.server.env)
        env.update({"ML_INFERENCE_PORT": str(self.port), "ML_INFERENCE_RUN_DIR": self.run_dir})
        self.log = open(self.log_path, "a")
        self.process = subprocess.Popen([AGENT_BIN, "--config-dir", self.config, *self.arguments], stdout=self.log,
                                        stderr=self.log, env=env)

    def kill(self):
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()

    def stop(self):
        if self.process and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=30)

    def predict(self):
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.port}/predict", data=json.dumps({"features": [69.5, 0.57, 95.2, 13.3]}).encode(),
            headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=5) as answer:
            return json.loads(answer.read())

    def stop_service(self):
        pid_file = os.path.join(self.run_dir, "server.pid")
        if os.path.exists(pid_file):
            try:
                os.kill(int(open(pid_file).read().strip()), signal.SIGTERM)
            except (ValueError, ProcessLookupError):
                pass

    def hook_counts(self, deployment):
        """How often each lifecycle event's scripts started on this host for the deployment (scripts.log)."""
        counts = {}
        for group in os.listdir(self.root):
            log = os.path.join(self.root, group, deployment, "logs", "scripts.log")
            if os.path.exists(log):
                for line in open(log):
                    if "LifecycleEvent - " in line:
                        event = line.split("LifecycleEvent - ", 1)[1].strip()
                        counts[event] = counts.get(event, 0) + 1
        return counts


def run(arguments, env, check_status=True):
    result = subprocess.run(arguments, capture_output=True, text=True, env=env, check=False)
    if check_status and result.returncode != 0:
        raise AssertionError(f"{' '.join(arguments)} failed ({result.returncode}):\n{result.stdout}{result.stderr}")
    return result


def aws(server, *arguments):
    result = run(["aws", *arguments, "--output", "json"], server.env)
    text = result.stdout.strip()
    return json.loads(text) if text.startswith("{") else {}


def wait_status(server, deployment, statuses=("Succeeded", "Failed", "Stopped"), timeout=180):
    deadline = time.time() + timeout
    while time.time() < deadline:
        info = aws(server, "deploy", "get-deployment", "--deployment-id", deployment)["deploymentInfo"]
        if info["status"] in statuses:
            return info
        time.sleep(1)
    raise AssertionError(f"{deployment} did not reach {statuses} within {timeout} s")


def targets(server, deployment):
    ids = aws(server, "deploy", "list-deployment-targets", "--deployment-id", deployment)["targetIds"]
    found = aws(server, "deploy", "batch-get-deployment-targets", "--deployment-id", deployment,
                "--target-ids", *ids)["deploymentTargets"]
    return {target["instanceTarget"]["targetId"]: target["instanceTarget"] for target in found}


def failures(server, deployment):
    """The failed lifecycle events of a deployment, for messages."""
    return [(name, event["lifecycleEventName"], event.get("diagnostics"))
            for name, target in targets(server, deployment).items()
            for event in target["lifecycleEvents"] if event["status"] == "Failed"]


def bundle(work, version, destination):
    output = os.path.join(work, "bundles", version)
    run([os.path.join(work, "example", "make-bundle.sh"), "--destination", destination, "--version", version,
         "--output", output], os.environ)
    return output


def push(server, source, key):
    aws(server, "deploy", "push", "--application-name", "ml-inference", "--s3-location", f"s3://releases/{key}",
        "--source", source)


def deploy(server, key, config="CodeDeployDefault.OneAtATime"):
    return aws(server, "deploy", "create-deployment", "--application-name", "ml-inference",
               "--deployment-group-name", "fleet", "--deployment-config-name", config,
               "--s3-location", f"bucket=releases,key={key},bundleType=zip")["deploymentId"]


def main():
    work = tempfile.mkdtemp(prefix="slipway-e2e-")
    shutil.copytree(EXAMPLE, os.path.join(work, "example"),
                    ignore=shutil.ignore_patterns("build", "model", "__pycache__"))
    destination = os.path.join(work, "apps", "ml-inference")
    server = Server(work)
    server.start()
    hosts = []
    try:
        aws(server, "deploy", "create-application", "--application-name", "ml-inference")
        aws(server, "s3", "mb", "s3://releases")
        hosts = [Host(f"ml-{index}", work, server) for index in (1, 2, 3)]
        aws(server, "deploy", "create-deployment-group", "--application-name", "ml-inference",
            "--deployment-group-name", "fleet", "--service-role-arn", "arn:aws:iam::000000000000:role/CodeDeploy",
            "--on-premises-instance-tag-filters", "Key=e2e,Value=ml,Type=KEY_AND_VALUE",
            "--auto-rollback-configuration", "enabled=true,events=DEPLOYMENT_FAILURE")
        for host in hosts:
            host.start()
        push(server, bundle(work, "v1", destination), "v1.zip")
        push(server, bundle(work, "v2-broken", destination), "v2.zip")

        # 1. v1, one host at a time, followed with the AWS CLI's own waiter.
        first = deploy(server, "v1.zip")
        run(["aws", "deploy", "wait", "deployment-successful", "--deployment-id", first], server.env)
        check("v1 succeeded on the fleet", wait_status(server, first)["status"] == "Succeeded")
        check("the model is installed", os.path.exists(os.path.join(destination, "model", "weights.json")))
        for host in hosts:
            answer = host.predict()
            check(f"{host.name} answers predictions with v1", answer.get("model_version") == "v1", answer)
        spans = sorted(
            (min(event["startTime"] for event in target["lifecycleEvents"] if "startTime" in event),
             max(event["endTime"] for event in target["lifecycleEvents"] if "endTime" in event))
            for target in targets(server, first).values())
        check("one host at a time", len(spans) == 3 and all(
            later[0] >= earlier[1] for earlier, later in zip(spans, spans[1:])), spans)

        # 2. v2-broken fails validation; the automatic rollback reinstalls v1.
        broken = deploy(server, "v2.zip")
        info = wait_status(server, broken)
        check("v2-broken failed", info["status"] == "Failed", info)
        failed = [target for target in targets(server, broken).values() if target["status"] == "Failed"]
        check("a host failed at ValidateService", any(
            event["lifecycleEventName"] == "ValidateService" and event["status"] == "Failed"
            for target in failed for event in target["lifecycleEvents"]), failed)
        rollback = info.get("rollbackInfo", {}).get("rollbackDeploymentId")
        check("a rollback deployment was created", rollback is not None, info)
        rolled = wait_status(server, rollback)
        check("the rollback succeeded", rolled["status"] == "Succeeded", rolled)
        for host in hosts:
            answer = host.predict()
            check(f"{host.name} answers with v1 after the rollback", answer.get("model_version") == "v1", answer)

        # 3. Stop a running deployment.
        running = deploy(server, "v1.zip")
        deadline = time.time() + 60
        while time.time() < deadline:
            if any(target["status"] == "InProgress" for target in targets(server, running).values()):
                break
            time.sleep(0.2)
        aws(server, "deploy", "stop-deployment", "--deployment-id", running)
        stopped = wait_status(server, running)
        check("the deployment stopped", stopped["status"] == "Stopped", stopped)
        print("   per host after the stop:", {name: (target["status"], failures(server, running))
                                              for name, target in targets(server, running).items()})
        per_host = {name: target["status"] for name, target in targets(server, running).items()}
        check("the stop is visible per host", any(status in ("Skipped", "Failed") for status in per_host.values()),
              per_host)

        # 4. SIGKILL the server in the middle of a deployment, restart it on the same port.
        resumed = deploy(server, "v1.zip")
        deadline = time.time() + 60
        while time.time() < deadline:
            if sum(target["status"] == "Succeeded" for target in targets(server, resumed).values()) >= 1:
                break
            time.sleep(0.2)
        server.kill()
        time.sleep(2)
        server.start()
        info = wait_status(server, resumed)
        check("the deployment completed after the server restart", info["status"] == "Succeeded",
              failures(server, resumed))
        for host in hosts:
            counts = host.hook_counts(resumed)
            check(f"no hook ran twice on {host.name}", counts and all(count == 1 for count in counts.values()),
                  counts)

        # 5. Kill an agent in the middle of a hook; it reports the interrupted event when it comes back.
        slow = os.path.join(work, "bundles", "slow")
        shutil.copytree(os.path.join(work, "bundles", "v1"), slow)
        with open(os.path.join(slow, "scripts", "before-install.sh"), "a") as script:
            script.write(f"\ntouch {work}/slow-started-$(basename $(dirname $ML_INFERENCE_RUN_DIR))\nsleep 60\n")
        push(server, slow, "slow.zip")
        interrupted = deploy(server, "slow.zip", config="CodeDeployDefault.AllAtOnce")
        victim = hosts[0]
        marker = os.path.join(work, f"slow-started-{victim.name}")
        deadline = time.time() + 60
        while not os.path.exists(marker) and time.time() < deadline:
            time.sleep(0.2)
        check("the slow hook started", os.path.exists(marker))
        # A second host's agent dies for good at the same time.
        lost = hosts[1]
        lost_marker = os.path.join(work, f"slow-started-{lost.name}")
        while not os.path.exists(lost_marker) and time.time() < deadline:
            time.sleep(0.2)
        lost.kill()
        victim.kill()
        killed = time.time()
        restarted = time.time()
        victim.start()
        while time.time() < restarted + 30:
            target = targets(server, interrupted)[victim.name]
            if target["status"] == "Failed":
                break
            time.sleep(0.5)
        took = time.time() - restarted
        check("the host failed soon after its agent came back", target["status"] == "Failed" and took < 20,
              f"{target['status']} after {took:.1f} s: {target}\n{open(victim.log_path).read()[-3000:]}")
        event = next(event for event in target["lifecycleEvents"] if event["status"] == "Failed")
        check("with the restart message", "after an agent restart" in event["diagnostics"]["message"], event)
        # The agent states a window of three heartbeats (2 s here), which the server raises to its minimum of 60 s,
        # plus a minute of grace: the host whose agent never came back fails within about two minutes.
        while time.time() < killed + 180:
            target = targets(server, interrupted)[lost.name]
            if target["status"] == "Failed":
                break
            time.sleep(2)
        took = time.time() - killed
        check("the host whose agent never came back failed within the heartbeat timeout",
              target["status"] == "Failed" and took < 150, f"{target['status']} after {took:.1f} s")
        event = next(event for event in target["lifecycleEvents"] if event["status"] == "Failed")
        check("with a timeout message", "did not report its end within" in event["diagnostics"]["message"], event)
        wait_status(server, interrupted)
        print("end-to-end checks passed")
    finally:
        for host in hosts:
            host.stop()
            host.stop_service()
        server.stop()
        subprocess.run(["pkill", "-f", f"{work}/"], check=False)


if __name__ == "__main__":
    main()
