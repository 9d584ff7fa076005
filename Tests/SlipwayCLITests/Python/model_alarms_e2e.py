"""A bad model release stopped by its own error rate: a real `slipway server --dev`, two real `slipway-agent` processes
running the ML example's hooks, a real Prometheus scraping the example services under a steady client, and the AWS
CLI.

  1. v1 goes out one host at a time; the services answer, Prometheus scrapes their /metrics;
  2. v2-degraded passes ValidateService, then answers HTTP 500 to every third prediction; while the deployment bakes
     after its first host (the group's slipway:bake-time tag), Prometheus' alert on the error rate fires, Slipway
     stops the deployment with ALARM_ACTIVE, and the automatic rollback puts v1 back on the host that had v2.

`model_alarms_e2e.py blue-green` does the same to a blue/green canary behind a real HAProxy: v2-degraded on the
replacements takes a tenth of the predictions, the alert on any instance's error rate fires, and every prediction
goes back to v1 at once.

Run by AlarmEndToEndTests with SLIPWAY_BIN. Starts and stops everything itself; prints one line per check."""

import json
import os
import shutil
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import prometheus_process  # noqa: E402
from end_to_end import EXAMPLE, Host, Server, aws, bundle, check, free_port, push, targets, wait_status  # noqa: E402

RULES = """      - alert: ModelErrorRate
        expr: sum(rate(ml_inference_predictions_total{code="500"}[5s])) / sum(rate(ml_inference_predictions_total[5s])) > 0.1
        labels:
          application: ml-inference
          deployment_group: fleet
"""


class SteadyClient:
    """Predictions to every host every 25 ms, as users would send them; errors are the services' to count."""

    def __init__(self, hosts):
        self.hosts = hosts
        self.running = True
        self.thread = threading.Thread(target=self.loop, daemon=True)
        self.thread.start()

    def loop(self):
        body = json.dumps({"features": [69.5, 0.57, 95.2, 13.3]}).encode()
        while self.running:
            for host in self.hosts:
                request = urllib.request.Request(f"http://127.0.0.1:{host.port}/predict", data=body,
                                                 headers={"Content-Type": "application/json"})
                try:
                    urllib.request.urlopen(request, timeout=2).read()
                except (urllib.error.URLError, OSError):
                    pass
            time.sleep(0.025)

    def stop(self):
        self.running = False
        self.thread.join(timeout=5)


def health(host):
    with urllib.request.urlopen(f"http://127.0.0.1:{host.port}/health", timeout=5) as answer:
        return json.loads(answer.read())


def firing(port):
    return any(alert["state"] == "firing" for alert in prometheus_process.alerts(port))


def main():
    work = tempfile.mkdtemp(prefix="slipway-alarm-e2e-")
    shutil.copytree(EXAMPLE, os.path.join(work, "example"),
                    ignore=shutil.ignore_patterns("build", "model", "__pycache__"))
    destination = os.path.join(work, "apps", "ml-inference")
    prometheus_port = free_port()
    server = Server(work, ["--prometheus", f"http://127.0.0.1:{prometheus_port}", "--alarm-poll-interval", "1"])
    server.start()
    hosts, prometheus, client = [], None, None
    try:
        aws(server, "deploy", "create-application", "--application-name", "ml-inference")
        aws(server, "s3", "mb", "s3://releases")
        hosts = [Host(f"ml-{index}", work, server) for index in (1, 2)]
        selector = 'ModelErrorRate{application="ml-inference",deployment_group="fleet"}'
        aws(server, "deploy", "create-deployment-group", "--application-name", "ml-inference",
            "--deployment-group-name", "fleet", "--service-role-arn", "arn:aws:iam::000000000000:role/CodeDeploy",
            "--deployment-config-name", "CodeDeployDefault.OneAtATime",
            "--on-premises-instance-tag-filters", "Key=e2e,Value=ml,Type=KEY_AND_VALUE",
            "--auto-rollback-configuration", "enabled=true,events=DEPLOYMENT_FAILURE,DEPLOYMENT_STOP_ON_ALARM",
            "--alarm-configuration", json.dumps({"enabled": True, "alarms": [{"name": selector}]}),
            "--tags", "Key=slipway:bake-time,Value=20")
        agent_metrics = free_port()
        hosts[0].arguments = ["--metrics-listen", f"127.0.0.1:{agent_metrics}"]
        for host in hosts:
            host.start()
        prometheus_directory = os.path.join(work, "prometheus")
        os.makedirs(prometheus_directory)
        prometheus = prometheus_process.start(
            prometheus_directory, prometheus_port, [f"127.0.0.1:{host.port}" for host in hosts], RULES)
        push(server, bundle(work, "v1", destination), "v1.zip")
        push(server, bundle(work, "v2-degraded", destination), "v2-degraded.zip")

        # 1. v1 everywhere, one host at a time, a bake after each.
        first = aws(server, "deploy", "create-deployment", "--application-name", "ml-inference",
                    "--deployment-group-name", "fleet", "--s3-location",
                    "bucket=releases,key=v1.zip,bundleType=zip")["deploymentId"]
        check("v1 succeeded on the fleet", wait_status(server, first, timeout=240)["status"] == "Succeeded")
        client = SteadyClient(hosts)
        time.sleep(3)
        check("the services answer with v1", all(health(host)["model_version"] == "v1" for host in hosts))
        with urllib.request.urlopen(f"http://127.0.0.1:{agent_metrics}/metrics", timeout=5) as answer:
            series = answer.read().decode()
        check("the agent's /metrics counts the commands it ran",
              'slipway_agent_commands_total{event="ValidateService",outcome="succeeded"} 1' in series, series[:2000])

        # 2. v2-degraded: validated, then failing under load; the alert stops it and the rollback restores v1.
        bad = aws(server, "deploy", "create-deployment", "--application-name", "ml-inference",
                  "--deployment-group-name", "fleet", "--s3-location",
                  "bucket=releases,key=v2-degraded.zip,bundleType=zip")["deploymentId"]
        fired = None
        deadline = time.time() + 120
        while fired is None and time.time() < deadline:
            if firing(prometheus_port):
                fired = time.time()
            time.sleep(0.2)
        check("Prometheus' alert on the error rate fired", fired is not None)
        info = wait_status(server, bad, timeout=60)
        stopped = time.time()
        check("v2-degraded stopped with ALARM_ACTIVE", info["status"] == "Stopped"
              and info["errorInformation"]["code"] == "ALARM_ACTIVE", info)
        check("the alert's selector is named", selector in info["errorInformation"]["message"], info)
        validated = [event for target in targets(server, bad).values() for event in target["lifecycleEvents"]
                     if event["lifecycleEventName"] == "ValidateService"]
        check("v2-degraded had passed ValidateService", any(e["status"] == "Succeeded" for e in validated), validated)
        rollback = info.get("rollbackInfo", {}).get("rollbackDeploymentId")
        check("a rollback deployment was created", rollback is not None, info)
        rolled = wait_status(server, rollback, timeout=240)
        restored = time.time()
        check("the rollback succeeded", rolled["status"] == "Succeeded", rolled)
        check("every service answers with v1 again", all(health(host)["model_version"] == "v1" for host in hosts),
              [health(host) for host in hosts])
        print(f"alert firing → deployment Stopped: {stopped - fired:.1f} s (polled each 1 s by the test); "
              f"→ rollback Succeeded, v1 on every host: {restored - fired:.1f} s")
        deadline = time.time() + 30
        while firing(prometheus_port) and time.time() < deadline:
            time.sleep(0.5)
        check("the alert resolved once v1 was back", not firing(prometheus_port))
        print("alarm end-to-end checks passed")
    finally:
        if client:
            client.stop()
        for host in hosts:
            host.stop()
            host.stop_service()
        if prometheus:
            prometheus.kill()
            prometheus.wait()
        server.stop()


PER_INSTANCE_RULES = """      - alert: ModelErrorRate
        expr: max(sum by (instance) (rate(ml_inference_predictions_total{code="500"}[5s])) / sum by (instance) (rate(ml_inference_predictions_total[5s]))) > 0.1
        labels:
          application: ml-inference
          deployment_group: prod
"""


def blue_green():
    import blue_green_e2e
    from blue_green_e2e import Client, create, predict, start_haproxy

    work = tempfile.mkdtemp(prefix="slipway-alarm-bg-e2e-")
    shutil.copytree(EXAMPLE, os.path.join(work, "example"),
                    ignore=shutil.ignore_patterns("build", "model", "__pycache__"))
    haproxy_dir = os.path.join(work, "haproxy")
    os.makedirs(haproxy_dir)
    socket_path = os.path.join(haproxy_dir, "admin.sock")
    map_path = os.path.join(haproxy_dir, "model.map")
    prometheus_port = free_port()
    server = Server(work, ["--haproxy", socket_path, "--drain-timeout", "10", "--health-timeout", "20",
                           "--prometheus", f"http://127.0.0.1:{prometheus_port}", "--alarm-poll-interval", "1"])
    server.start()
    hosts, haproxy, client, prometheus = [], None, None, None
    try:
        aws(server, "deploy", "create-application", "--application-name", "ml-inference")
        aws(server, "s3", "mb", "s3://releases")
        hosts = [Host(name, work, server, tags=tags) for name, tags in
                 [("blue-1", "fleet=serving"), ("blue-2", "fleet=serving"),
                  ("green-1", "release=v2"), ("green-2", "release=v2")]]
        for host in hosts:
            host.start()
        prometheus_directory = os.path.join(work, "prometheus")
        os.makedirs(prometheus_directory)
        prometheus = prometheus_process.start(
            prometheus_directory, prometheus_port, [f"127.0.0.1:{host.port}" for host in hosts], PER_INSTANCE_RULES)
        push(server, blue_green_e2e.bundle(work, "v1", os.path.join(work, "apps", "blue"), "v1"), "v1.zip")
        push(server, blue_green_e2e.bundle(work, "v2-degraded", os.path.join(work, "apps", "green"), "v2-degraded"),
             "v2-degraded.zip")
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
        selector = 'ModelErrorRate{deployment_group="prod"}'
        aws(server, "deploy", "create-deployment-group", "--application-name", "ml-inference",
            "--deployment-group-name", "prod", "--service-role-arn", "arn:aws:iam::000000000000:role/CodeDeploy",
            "--deployment-config-name", "Canary10Percent1Minute",
            "--on-premises-instance-tag-filters", "Key=fleet,Value=serving,Type=KEY_AND_VALUE",
            "--deployment-style", "deploymentType=BLUE_GREEN,deploymentOption=WITH_TRAFFIC_CONTROL",
            "--auto-rollback-configuration", "enabled=true,events=DEPLOYMENT_FAILURE,DEPLOYMENT_STOP_ON_ALARM",
            "--alarm-configuration", json.dumps({"enabled": True, "alarms": [{"name": selector}]}),
            "--load-balancer-info", json.dumps({"targetGroupPairInfoList": [{
                "targetGroups": [{"name": "model-a"}, {"name": "model-b"}],
                "prodTrafficRoute": {"listenerArns": [map_path]}}]}))
        green = {"tagFilters": [{"Key": "release", "Value": "v2", "Type": "KEY_AND_VALUE"}]}
        bad = create(server, "prod", "v2-degraded.zip", targets=green)
        fired = None
        deadline = time.time() + 180
        while fired is None and time.time() < deadline:
            if firing(prometheus_port):
                fired = time.time()
            time.sleep(0.2)
        check("the alert on an instance's error rate fired", fired is not None)
        check("v2-degraded took part of the predictions first", client.versions.get("v2-degraded", 0) > 0,
              client.versions)
        info = wait_status(server, bad, timeout=60)
        stopped = time.time()
        check("v2-degraded stopped with ALARM_ACTIVE", info["status"] == "Stopped"
              and info["errorInformation"]["code"] == "ALARM_ACTIVE", info)
        failures_at_stop = len(client.failures)
        after = [predict(frontend)[1].get("model_version") for _ in range(100)]
        check("every prediction comes from v1 again", set(after) == {"v1"}, after)
        check("no prediction failed once the deployment stopped", len(client.failures) == failures_at_stop,
              client.failures[failures_at_stop:][:5])
        # The group's first blue/green deployment has no earlier one to roll back to: sending the traffic back to
        # the originals, which the stop did, is what there is to undo.
        check("no rollback deployment, and the message says why",
              "no earlier successful deployment" in info.get("rollbackInfo", {}).get("rollbackMessage", ""), info)
        print(f"alert firing → deployment Stopped, every request on v1: {stopped - fired:.1f} s "
              f"(polled each 0.2 s by the test)")
        print("blue/green alarm end-to-end checks passed")
    finally:
        if client:
            client.running = False
        for host in hosts:
            host.stop()
            host.stop_service()
        for process in (haproxy, prometheus):
            if process:
                process.kill()
                process.wait()
        server.stop()


if __name__ == "__main__":
    if sys.argv[1:] == ["blue-green"]:
        blue_green()
    else:
        main()
