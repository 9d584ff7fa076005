#!/usr/bin/env python3
"""ValidateService's checks, against the service on this host.

1. GET /health answers 200 within the retry budget and reports the model
   version this revision installed (not a stale process still serving).
2. POST /predict gives the known label for every canary: held-out readings
   the trained model is confident about (written by train.py).

Exits 0 when all pass; otherwise prints what was wrong and exits 1.
"""

import argparse
import json
import sys
import time
import urllib.error
import urllib.request


def call(url, body=None, timeout=3):
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode(errors="replace")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    parser.add_argument("--expect-version", required=True)
    parser.add_argument("--canaries", required=True)
    parser.add_argument("--attempts", type=int, default=20)
    parser.add_argument("--delay", type=float, default=0.5)
    args = parser.parse_args()

    health, last_error = None, None
    for attempt in range(1, args.attempts + 1):
        try:
            status, body = call(args.url + "/health")
            if status == 200:
                health = body
                break
            last_error = f"HTTP {status}: {body}"
        except (OSError, ValueError) as error:
            last_error = str(error)
        time.sleep(args.delay)
    if health is None:
        print(f"FAIL: {args.url}/health did not answer 200 after {args.attempts} attempts: {last_error}")
        return 1
    print(f"health: {json.dumps(health)}")
    if health.get("model_version") != args.expect_version:
        print(
            f"FAIL: the service reports model {health.get('model_version')!r}, expected {args.expect_version!r}: "
            "an old process is still serving on this port"
        )
        return 1

    with open(args.canaries) as handle:
        canaries = json.load(handle)
    wrong = []
    for canary in canaries:
        try:
            status, body = call(args.url + "/predict", {"features": canary["features"]})
        except (OSError, ValueError) as error:
            print(f"FAIL: POST /predict failed: {error}")
            return 1
        if status != 200:
            print(f"FAIL: POST /predict answered HTTP {status}: {body}")
            return 1
        if body.get("label") != canary["label"]:
            wrong.append((canary, body))
    if wrong:
        print(f"FAIL: model {args.expect_version} got {len(wrong)} of {len(canaries)} known examples wrong:")
        for canary, body in wrong:
            print(
                f"  features {canary['features']}: expected label {canary['label']}, "
                f"got {body.get('label')} (probability {body.get('probability')})"
            )
        return 1
    print(f"ok: model {args.expect_version} answered {len(canaries)} of {len(canaries)} known examples correctly")
    return 0


if __name__ == "__main__":
    sys.exit(main())
