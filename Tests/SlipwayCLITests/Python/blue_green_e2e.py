"""The ML example released blue/green with a canary, end to end: a real `slipway server --dev` driving a real HAProxy,
four real `slipway-agent` processes running the example's hook scripts, the real AWS CLI, and a client sending
predictions through HAProxy the whole time.

  - blue-1 and blue-2 serve v1 (installed by an in-place deployment) in backend model-a;
  - green-1 and green-2 are the replacements, readied in backend model-b; a map splits requests between the two;
  1. v2-broken: the replacements fail ValidateService and the deployment fails before any traffic moved (the group
     has no earlier successful deployment to roll back to);
  2. v2 with a 10 % canary for one minute: a tenth of the predictions come from v2; the server is killed with
     SIGKILL and restarted mid-canary; then all predictions come from v2 and the originals leave the load balancer;
  3. v2-broken again, onto the former originals (now the replacements, readied in model-a): it fails, and the
     automatic rollback, a blue/green rollback that only moves traffic, succeeds.
No prediction fails. Run by BlueGreenEndToEndTests with SLIPWAY_BIN; prints one line per check."""

import json
import os
import shutil
import subprocess
import tempfile
import threading
import time
import urllib.request

import haproxy_process
from end_to_end import EXAMPLE, Host, Server, aws, check, free_port, push, run, wait_status

FEATURES = json.dumps({"features": [69.5, 0.57, 95.2, 13.3]}).encode()


def predict(port):
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/predict", data=FEATURES, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as answer:
        return answer.status, json.loads(answer.read())


class Client(threading.Thread):
    """Predictions through HAProxy, one after the other, until stopped; counts versions and failures."""

    def __init__(self, port):
        super().__init__(daemon=True)
        self.port, self.running, self.failures, self.versions = port, True, [], {}

    def run(self):
        while self.running:
            try:
                status, answer = predict(self.port)
                if status != 200:
                    self.failures.append(status)
                version = answer.get("model_version")
                self.versions[version] = self.versions.get(version, 0) + 1
            except Exception as error:  # a refused or cut connection is a failed prediction too
                self.failures.append(repr(error))
            time.sleep(0.01)


def start_haproxy(work, hosts, socket_path, map_path):
    frontend = free_port()
    with open(map_path, "w") as file:
        file.write("0:99 model-a\n")

    def servers(enabled):
        return "\n".join(f"    server {host.name} 127.0.0.1:{host.port} check" + ("" if host.name in enabled else " disabled")
                         for host in hosts)

    proxies = f"""frontend fe
    bind 127.0.0.1:{frontend}
    acl a_up nbsrv(model-a) gt 0
    acl b_up nbsrv(model-b) gt 0
    use_backend model-b if b_up {{ rand(100),map_int({map_path},model-a) -m str model-b }}
    use_backend model-b if !a_up
    default_backend model-a
backend model-a
{servers({"blue-1", "blue-2"})}
backend model-b
{servers(set())}"""
    os.chmod(map_path, 0o644)
    process = haproxy_process.start(
        os.path.dirname(socket_path), socket_path, proxies, lambda: predict(frontend)[0] == 200)
    return process, frontend


def bundle(work, version, destination, name):
    output = os.path.join(work, "bundles", name)
    run([os.path.join(work, "example", "make-bundle.sh"), "--destination", destination, "--version", version,
         "--output", output], os.environ)
    return output


def create(server, group, key, config=None, targets=None):
    arguments = ["deploy", "create-deployment", "--application-name", "ml-inference", "--deployment-group-name", group,
                 "--s3-location", f"bucket=releases,key={key},bundleType=zip"]
    if config:
        arguments += ["--deployment-config-name", config]
    if targets:
        arguments += ["--target-instances", json.dumps(targets)]
    return aws(server, *arguments)["deploymentId"]


def main():
    work = tempfile.mkdtemp(prefix="slipway-bg-e2e-")
    shutil.copytree(EXAMPLE, os.path.join(work, "example"),
                    ignore=shutil.ignore_patterns("build", "model", "__pycache__"))
    haproxy_dir = os.path.join(work, "haproxy")
    os.makedirs(haproxy_dir)
    socket_path = os.path.join(haproxy_dir, "admin.sock")
    map_path = os.path.join(haproxy_dir, "model.map")
    server = Server(work, ["--haproxy", socket_path, "--drain-timeout", "10", "--health-timeout", "20"])
    server.start()
    hosts, haproxy, client = [], None, None
    try:
        aws(server, "deploy", "create-application", "--application-name", "ml-inference")
        aws(server, "s3", "mb", "s3://releases")
        hosts = [Host(name, work, server, tags=tags) for name, tags in
                 [("blue-1", "fleet=serving"), ("blue-2", "fleet=serving"),
                  ("green-1", "release=v2"), ("green-2", "release=v2")]]
        for host in hosts:
            host.start()
        push(server, bundle(work, "v1", os.path.join(work, "apps", "blue"), "v1"), "v1.zip")
        push(server, bundle(work, "v2-broken", os.path.join(work, "apps", "green"), "v2-broken"), "v2-broken.zip")
        push(server, bundle(work, "v2", os.path.join(work, "apps", "green"), "v2"), "v2.zip")
        push(server, bundle(work, "v2-broken", os.path.join(work, "apps", "blue"), "v2-broken-b"), "v2-broken-b.zip")

        # v1 on the originals, in place, before HAProxy sends them traffic.
        aws(server, "deploy", "create-deployment-group", "--application-name", "ml-inference",
            "--deployment-group-name", "bootstrap", "--service-role-arn", "arn:aws:iam::000000000000:role/CodeDeploy",
            "--on-premises-instance-tag-filters", "Key=fleet,Value=serving,Type=KEY_AND_VALUE")
        first = create(server, "bootstrap", "v1.zip", config="CodeDeployDefault.AllAtOnce")
        check("v1 is installed on the originals", wait_status(server, first)["status"] == "Succeeded")
        haproxy, frontend = start_haproxy(work, hosts, socket_path, map_path)
        client = Client(frontend)
        client.start()

        aws(server, "deploy", "create-deployment-config", "--deployment-config-name", "Canary10Percent1Minute",
            "--compute-platform", "Server", "--minimum-healthy-hosts", "type=HOST_COUNT,value=0",
            "--traffic-routing-config", "type=TimeBasedCanary,timeBasedCanary={canaryPercentage=10,canaryInterval=1}")
        aws(server, "deploy", "create-deployment-group", "--application-name", "ml-inference",
            "--deployment-group-name", "prod", "--service-role-arn", "arn:aws:iam::000000000000:role/CodeDeploy",
            "--deployment-config-name", "Canary10Percent1Minute",
            "--on-premises-instance-tag-filters", "Key=fleet,Value=serving,Type=KEY_AND_VALUE",
            "--deployment-style", "deploymentType=BLUE_GREEN,deploymentOption=WITH_TRAFFIC_CONTROL",
            "--auto-rollback-configuration", "enabled=true,events=DEPLOYMENT_FAILURE",
            "--load-balancer-info", json.dumps({"targetGroupPairInfoList": [{
                "targetGroups": [{"name": "model-a"}, {"name": "model-b"}],
                "prodTrafficRoute": {"listenerArns": [map_path]}}]}))
        green = {"tagFilters": [{"Key": "release", "Value": "v2", "Type": "KEY_AND_VALUE"}]}

        # 1. v2-broken fails its validation on the replacements; the traffic never left v1.
        broken = create(server, "prod", "v2-broken.zip", targets=green)
        info = wait_status(server, broken, timeout=240)
        check("v2-broken failed", info["status"] == "Failed", info)
        check("with nothing earlier to roll back to",
              "no earlier successful deployment" in info.get("rollbackInfo", {}).get("rollbackMessage", ""), info)
        check("no prediction came from v2-broken", "v2-broken" not in client.versions, client.versions)
        check("no prediction failed during v2-broken", not client.failures, client.failures[:5])

        # 2. v2: a tenth of the predictions for a minute, then all of them.
        good = create(server, "prod", "v2.zip", targets=green)
        deadline = time.time() + 240
        while time.time() < deadline:
            info = aws(server, "deploy", "get-deployment", "--deployment-id", good)["deploymentInfo"]
            if any(message.startswith("Traffic: 10 %") for message in info.get("deploymentStatusMessages", [])):
                break
            check("v2 is still going", info["status"] not in ("Failed", "Stopped"), info)
            time.sleep(0.5)
        else:
            raise AssertionError("the canary never started")
        sample = {}
        for _ in range(400):
            version = predict(frontend)[1].get("model_version")
            sample[version] = sample.get(version, 0) + 1
        share = 100 * sample.get("v2", 0) / 400
        check("about a tenth of the predictions come from v2 during the canary", 4 <= share <= 18, sample)
        # The server dies mid-canary (SIGKILL) and comes back: HAProxy serves on meanwhile, and the stored step and
        # its wait carry the deployment on.
        server.kill()
        time.sleep(1)
        server.start()
        info = wait_status(server, good, timeout=240)
        check("v2 succeeded", info["status"] == "Succeeded", info)
        # Every replacement took its traffic: the group's fleet is now both of them (the canary's minimum healthy
        # hosts of 0 would let the deployment succeed with one).
        moved = {t["instanceTarget"]["targetId"]: (t["instanceTarget"]["status"], [
            (e["lifecycleEventName"], e["status"], (e.get("diagnostics") or {}).get("message", ""))
            for e in t["instanceTarget"]["lifecycleEvents"] if e["status"] != "Succeeded"])
            for t in aws(server, "deploy", "batch-get-deployment-targets", "--deployment-id", good,
                         "--target-ids", "green-1", "green-2")["deploymentTargets"]}
        check("both replacements succeeded", all(status == "Succeeded" for status, _ in moved.values()), moved)
        after = [predict(frontend)[1].get("model_version") for _ in range(50)]
        check("every prediction comes from v2", set(after) == {"v2"}, after)

        # 3. v2-broken onto the former originals, now the replacements: it fails and is rolled back.
        again = create(server, "prod", "v2-broken-b.zip",
                       targets={"tagFilters": [{"Key": "fleet", "Value": "serving", "Type": "KEY_AND_VALUE"}]})
        info = wait_status(server, again, timeout=240)
        check("v2-broken failed on the former originals", info["status"] == "Failed", info)
        rollback = info.get("rollbackInfo", {}).get("rollbackDeploymentId")
        check("an automatic rollback was created", rollback is not None, info)
        check("the blue/green rollback succeeded", wait_status(server, rollback)["status"] == "Succeeded")
        rolled = {t["instanceTarget"]["targetId"]: [e["lifecycleEventName"] for e in t["instanceTarget"]["lifecycleEvents"]]
                  for t in aws(server, "deploy", "batch-get-deployment-targets", "--deployment-id", rollback,
                               "--target-ids", "green-1", "blue-1")["deploymentTargets"]}
        check("the rollback moved traffic only",
              rolled == {"green-1": ["BeforeAllowTraffic", "AllowTraffic", "AfterAllowTraffic"],
                         "blue-1": ["BeforeBlockTraffic", "BlockTraffic", "AfterBlockTraffic"]}, rolled)
        after = [predict(frontend)[1].get("model_version") for _ in range(50)]
        check("every prediction still comes from v2", set(after) == {"v2"}, after)
        client.running = False
        client.join(timeout=15)
        check("no prediction failed", not client.failures, client.failures[:5])
        print(f"blue/green end-to-end checks passed: {sum(client.versions.values())} predictions, {client.versions}")
    finally:
        if client:
            client.running = False
        if haproxy:
            haproxy.kill()
            haproxy.wait()
        for host in hosts:
            host.stop()
            host.stop_service()
        server.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
