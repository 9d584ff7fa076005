"""Blue/green deployments through the AWS CLI, scripted agents and a real HAProxy under a steady client.

Usage: blue_green.py SOCKET_DIR

Starts HAProxy (its runtime API socket at SOCKET_DIR/haproxy.sock, which the server was given with --haproxy) in
front of four small HTTP servers: the original instances b1 and b2 serve, the replacement instances g1 and g2 start in
maintenance. A client thread sends requests through HAProxy for the whole run and counts every failed one.

1. A broken release: the replacements fail AfterAllowTraffic once they took traffic; the deployment fails and the
   traffic goes back to b1 and b2.
2. A good release: the replacements wait in Ready, `aws deploy continue-deployment` moves the traffic, the originals
   leave it, `aws deploy skip-wait-time-for-instance-termination` deregisters them.

Needs the dev profile in the environment (AWS_*), SLIPWAY_BIN and SLIPWAY_DATA_DIR (for agent keys), and a server
started with --haproxy SOCKET_DIR/haproxy.sock and a short --poll-hold."""

import http.server
import json
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.request

import haproxy_process
from deployments import ACCOUNT, agent_for, upload, wait_for

ORIGINALS = ["b1", "b2"]
REPLACEMENTS = ["g1", "g2"]
INSTALL = ["ApplicationStop", "DownloadBundle", "BeforeInstall", "Install", "AfterInstall", "ApplicationStart",
           "ValidateService"]


def aws(*arguments):
    """Runs the AWS CLI with the same environment and returns its JSON output."""
    result = subprocess.run(["aws", *arguments, "--output", "json"], capture_output=True, text=True, check=False)
    assert result.returncode == 0, f"aws {' '.join(arguments)} failed: {result.stderr}"
    return json.loads(result.stdout) if result.stdout.strip() else {}


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def serve(name):
    """An HTTP server answering its name (and /health 200) on a free port, in a daemon thread."""
    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True

        def do_GET(self):
            body = name.encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server.server_address[1]


def start_haproxy(directory):
    frontend = free_port()
    servers = "\n".join(
        f"    server {name} 127.0.0.1:{serve(name)} check" + (" disabled" if name in REPLACEMENTS else "")
        for name in ORIGINALS + REPLACEMENTS)
    proxies = f"""frontend fe
    bind 127.0.0.1:{frontend}
    default_backend app
backend app
{servers}"""
    process = haproxy_process.start(
        directory, f"{directory}/haproxy.sock", proxies, lambda: request(frontend)[0] == 200, check_interval="200ms")
    return process, frontend


def request(port):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=10) as response:
        return response.status, response.read().decode()


class Client(threading.Thread):
    """Sends requests one after the other until stopped; counts answers per server and failures."""

    def __init__(self, port):
        super().__init__(daemon=True)
        self.port, self.running = port, True
        self.answers, self.failures, self.last = {}, [], None

    def run(self):
        while self.running:
            try:
                status, server = request(self.port)
                if status == 200:
                    self.answers[server] = self.answers.get(server, 0) + 1
                    self.last = server
                else:
                    self.failures.append(status)
            except Exception as error:  # a refused or cut connection is a failed request too
                self.failures.append(repr(error))

    def check(self, what):
        assert not self.failures, f"{what}: {len(self.failures)} failed requests, e.g. {self.failures[:3]}"


def run_until(agent, last, fail_on=(), seconds=30):
    """Runs the host's commands until it ran `last` (polling on while the server performs traffic events)."""
    names = []
    deadline = time.time() + seconds
    while time.time() < deadline:
        ran = agent.run_command(fail_on=fail_on)
        if ran is None:
            continue
        names.append(ran[0])
        if ran[0] == last:
            return names
    raise AssertionError(f"{agent.host} did not reach {last}: ran {names}")


def wait_info(deployment, condition, what, seconds=30):
    deadline = time.time() + seconds
    while time.time() < deadline:
        info = aws("deploy", "get-deployment", "--deployment-id", deployment)["deploymentInfo"]
        if condition(info):
            return info
        time.sleep(0.2)
    raise AssertionError(f"{deployment} never {what}: {info}")


def labels(deployment, label):
    return sorted(aws("deploy", "list-deployment-targets", "--deployment-id", deployment,
                      "--target-filters", f"ServerInstanceLabel={label}")["targetIds"])


def main(directory):
    haproxy, port = start_haproxy(directory)
    client = Client(port)
    client.start()
    try:
        aws("s3api", "create-bucket", "--bucket", "releases")
        aws("deploy", "create-application", "--application-name", "model")
        for name in ORIGINALS + REPLACEMENTS:
            aws("deploy", "register-on-premises-instance", "--instance-name", name,
                "--iam-user-arn", f"arn:aws:iam::{ACCOUNT}:user/{name}")
        aws("deploy", "add-tags-to-on-premises-instances", "--instance-names", *ORIGINALS,
            "--tags", "Key=fleet,Value=serving")
        aws("deploy", "add-tags-to-on-premises-instances", "--instance-names", *REPLACEMENTS,
            "--tags", "Key=release,Value=v2")
        aws("deploy", "create-deployment-group", "--application-name", "model", "--deployment-group-name", "prod",
            "--service-role-arn", f"arn:aws:iam::{ACCOUNT}:role/CodeDeploy",
            "--deployment-config-name", "CodeDeployDefault.AllAtOnce",
            "--on-premises-instance-tag-filters", "Key=fleet,Value=serving,Type=KEY_AND_VALUE",
            "--deployment-style", "deploymentType=BLUE_GREEN,deploymentOption=WITH_TRAFFIC_CONTROL",
            "--load-balancer-info", json.dumps({"targetGroupInfoList": [{"name": "app"}]}),
            "--blue-green-deployment-configuration", json.dumps({
                "deploymentReadyOption": {"actionOnTimeout": "STOP_DEPLOYMENT", "waitTimeInMinutes": 60},
                "greenFleetProvisioningOption": {"action": "DISCOVER_EXISTING"},
                "terminateBlueInstancesOnDeploymentSuccess": {"action": "TERMINATE",
                                                              "terminationWaitTimeInMinutes": 60}}))
        agents = {name: agent_for(name) for name in ORIGINALS + REPLACEMENTS}
        targets = json.dumps({"tagFilters": [{"Key": "release", "Value": "v2", "Type": "KEY_AND_VALUE"}]})

        def deploy(key, version):
            revision = upload(key, version)
            return aws("deploy", "create-deployment", "--application-name", "model", "--deployment-group-name", "prod",
                       "--revision", json.dumps(revision), "--target-instances", targets)["deploymentId"]

        # 1. A broken release fails once it took traffic: the traffic goes back to the originals.
        broken = deploy("model/v2-broken.zip", "v2-broken")
        for name in REPLACEMENTS:
            assert run_until(agents[name], "ValidateService") == INSTALL
        wait_info(broken, lambda info: info["status"] == "Ready", "became Ready")
        aws("deploy", "continue-deployment", "--deployment-id", broken, "--deployment-wait-type", "READY_WAIT")
        for name in REPLACEMENTS:
            run_until(agents[name], "AfterAllowTraffic", fail_on=("AfterAllowTraffic",))
        info = wait_for(broken)
        assert info["status"] == "Failed", info
        time.sleep(0.5)
        served = dict(client.answers)
        time.sleep(1)
        later = {name: client.answers.get(name, 0) - served.get(name, 0) for name in ORIGINALS + REPLACEMENTS}
        assert later["g1"] == 0 and later["g2"] == 0 and later["b1"] + later["b2"] > 0, later
        client.check("the broken release")

        # 2. A good release: Ready, continue, the originals leave, the wait before their retirement is skipped.
        good = deploy("model/v2.zip", "v2")
        for name in REPLACEMENTS:
            assert run_until(agents[name], "ValidateService") == INSTALL
        info = wait_info(good, lambda info: info["status"] == "Ready", "became Ready")
        assert info["deploymentOverview"]["Ready"] == 2, info["deploymentOverview"]
        assert info["deploymentStyle"]["deploymentType"] == "BLUE_GREEN", info
        assert info["targetInstances"]["tagFilters"][0]["Key"] == "release", info
        assert info["blueGreenDeploymentConfiguration"]["deploymentReadyOption"]["waitTimeInMinutes"] == 60, info
        assert labels(good, "Green") == REPLACEMENTS and labels(good, "Blue") == ORIGINALS
        batch = aws("deploy", "batch-get-deployment-targets", "--deployment-id", good, "--target-ids", "g1", "b1")
        shown = {t["instanceTarget"]["targetId"]: t["instanceTarget"] for t in batch["deploymentTargets"]}
        assert shown["g1"]["instanceLabel"] == "Green" and shown["g1"]["status"] == "Ready", shown
        assert shown["b1"]["instanceLabel"] == "Blue" and shown["b1"]["status"] == "Pending", shown
        assert client.last in ORIGINALS

        aws("deploy", "continue-deployment", "--deployment-id", good, "--deployment-wait-type", "READY_WAIT")
        for name in REPLACEMENTS:
            assert run_until(agents[name], "AfterAllowTraffic") == ["BeforeAllowTraffic", "AfterAllowTraffic"]
        for name in ORIGINALS:
            assert run_until(agents[name], "AfterBlockTraffic") == ["BeforeBlockTraffic", "AfterBlockTraffic"]
        info = wait_info(good, lambda info: info.get("instanceTerminationWaitTimeStarted"), "started its wait")
        assert info["status"] == "InProgress", info
        time.sleep(0.5)
        served = dict(client.answers)
        time.sleep(1)
        later = {name: client.answers.get(name, 0) - served.get(name, 0) for name in ORIGINALS + REPLACEMENTS}
        assert later["b1"] == 0 and later["b2"] == 0 and later["g1"] + later["g2"] > 0, later

        aws("deploy", "skip-wait-time-for-instance-termination", "--deployment-id", good)
        info = wait_for(good)
        assert info["status"] == "Succeeded", info
        for name in ORIGINALS:
            instance = aws("deploy", "get-on-premises-instance", "--instance-name", name)["instanceInfo"]
            assert "deregisterTime" in instance, instance
        client.check("the good release")
        print(f"blue/green checks passed: {sum(client.answers.values())} requests, none failed, {client.answers}")
    finally:
        client.running = False
        client.join(timeout=15)
        haproxy.kill()
        haproxy.wait()


if __name__ == "__main__":
    main(sys.argv[1])
