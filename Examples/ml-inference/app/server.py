#!/usr/bin/env python3
"""The example's inference service: a trained logistic regression behind HTTP.

    GET  /health   -> 200 {"status": "ok", "model_version": ..., "accuracy": ..., ...}
    POST /predict  {"features": [t, v, p, c]} -> {"label": 0|1, "probability": p, "model_version": ...}
    GET  /metrics  -> ml_inference_predictions_total{code="200"|"400"|"500"} in Prometheus' text format

`probability` is the model's probability of the label it answers. The service
reads its settings from a JSON config file (written by the AfterInstall hook):

    {"host": "127.0.0.1", "port": 8601, "model_dir": "/abs/path/model"}

ML_INFERENCE_PORT overrides the port; without a config file the service
listens on 127.0.0.1:8601 and loads ../model next to this file.

    python3 server.py [--config FILE] [--pid-file FILE]

With --pid-file the service writes its pid there once it listens (so the file
existing means the service is ready) and removes it when it stops.
"""

import argparse
import json
import math
import os
import signal
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

DEFAULT_PORT = 8601
MAX_BODY = 64 * 1024


class ModelError(Exception):
    pass


def load_model(model_dir):
    path = os.path.join(model_dir, "weights.json")
    try:
        with open(path) as handle:
            model = json.load(handle)
    except (OSError, ValueError) as error:
        raise ModelError(f"cannot load {path}: {error}")
    size = len(model.get("features", []))
    for key in ("mean", "std", "weights"):
        values = model.get(key)
        if not isinstance(values, list) or len(values) != size or size == 0:
            raise ModelError(f"{path}: '{key}' must be a list of {size or 'some'} numbers")
    if not isinstance(model.get("bias"), (int, float)):
        raise ModelError(f"{path}: 'bias' must be a number")
    return model


def probability_of_one(model, features):
    z = model["bias"] + sum(
        w * (value - m) / s for w, value, m, s in zip(model["weights"], features, model["mean"], model["std"])
    )
    if z >= 0:
        return 1.0 / (1.0 + math.exp(-z))
    e = math.exp(z)
    return e / (1.0 + e)


class Counters:
    """Answers of /predict by HTTP status, for GET /metrics, and the service's start, for a serving fault."""

    def __init__(self):
        self.lock = threading.Lock()
        self.answers = {"200": 0, "400": 0, "500": 0}
        self.started = time.monotonic()

    def count(self, status):
        with self.lock:
            self.answers[str(status)] = self.answers.get(str(status), 0) + 1

    def text(self):
        with self.lock:
            lines = [f'ml_inference_predictions_total{{code="{code}"}} {n}' for code, n in sorted(self.answers.items())]
        return "# TYPE ml_inference_predictions_total counter\n" + "\n".join(lines) + "\n"


def make_handler(model, counters):
    fault = model.get("serving_fault") or {}

    class Handler(BaseHTTPRequestHandler):
        server_version = "ml-inference/1"

        def log_message(self, fmt, *args):
            sys.stderr.write("%s %s\n" % (self.log_date_time_string(), fmt % args))

        def answer(self, status, document):
            body = (json.dumps(document) + "\n").encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self):
            if self.path == "/metrics":
                body = counters.text().encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/plain; version=0.0.4")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
                return
            if self.path != "/health":
                return self.answer(404, {"error": f"no such path: {self.path}"})
            self.answer(
                200,
                {
                    "status": "ok",
                    "model": model.get("kind", "unknown"),
                    "model_version": model.get("version", "unknown"),
                    "accuracy": model.get("accuracy"),
                    "features": model["features"],
                    "pid": os.getpid(),
                },
            )

        def answer_prediction(self, status, document):
            counters.count(status)
            self.answer(status, document)

        def do_POST(self):
            if self.path != "/predict":
                return self.answer(404, {"error": f"no such path: {self.path}"})
            if fault and time.monotonic() - counters.started >= fault.get("after_seconds", 0):
                with counters.lock:
                    fault["seen"] = fault.get("seen", 0) + 1
                    failing = fault["seen"] % max(1, int(fault.get("every", 1))) == 0
                if failing:
                    return self.answer_prediction(500, {"error": "inference failed"})
            length = int(self.headers.get("Content-Length") or 0)
            if length <= 0 or length > MAX_BODY:
                return self.answer(400, {"error": "send a JSON body of at most 64 KiB"})
            try:
                request = json.loads(self.rfile.read(length))
                features = request["features"]
                if not isinstance(features, list) or not all(
                    isinstance(v, (int, float)) and not isinstance(v, bool) for v in features
                ):
                    raise ValueError("features must be a list of numbers")
                if len(features) != len(model["features"]):
                    raise ValueError(f"expected {len(model['features'])} features: {', '.join(model['features'])}")
            except (ValueError, KeyError, TypeError) as error:
                return self.answer_prediction(400, {"error": f"bad request: {error}"})
            p = probability_of_one(model, features)
            label = 1 if p >= 0.5 else 0
            self.answer_prediction(
                200,
                {
                    "label": label,
                    "probability": round(p if label else 1.0 - p, 6),
                    "model_version": model.get("version", "unknown"),
                },
            )

    return Handler


def read_config(path):
    here = os.path.dirname(os.path.abspath(__file__))
    config = {"host": "127.0.0.1", "port": DEFAULT_PORT, "model_dir": os.path.join(here, "..", "model")}
    if path:
        with open(path) as handle:
            config.update(json.load(handle))
    if os.environ.get("ML_INFERENCE_PORT"):
        config["port"] = int(os.environ["ML_INFERENCE_PORT"])
    return config


def remove_own_pid_file(path):
    # Only our own: a newer server may already have written its pid there.
    try:
        with open(path) as handle:
            if handle.read().strip() == str(os.getpid()):
                os.remove(path)
    except OSError:
        pass


def main():
    parser = argparse.ArgumentParser(description="The example's inference service.")
    parser.add_argument("--config", help="JSON file with host, port and model_dir")
    parser.add_argument("--pid-file", help="file to write this process's pid to once listening")
    args = parser.parse_args()

    try:
        config = read_config(args.config)
        model = load_model(config["model_dir"])
    except (OSError, ValueError, ModelError) as error:
        sys.stderr.write(f"ml-inference: {error}\n")
        return 1

    try:
        server = ThreadingHTTPServer((config["host"], int(config["port"])), make_handler(model, Counters()))
    except OSError as error:
        sys.stderr.write(f"ml-inference: cannot listen on {config['host']}:{config['port']}: {error}\n")
        return 1

    # SIGTERM (what the ApplicationStop hook sends) ends serve_forever cleanly.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    if args.pid_file:
        with open(args.pid_file + ".tmp", "w") as handle:
            handle.write(f"{os.getpid()}\n")
        os.replace(args.pid_file + ".tmp", args.pid_file)
    sys.stderr.write(
        f"ml-inference: model {model.get('version')} (accuracy {model.get('accuracy')}) "
        f"listening on http://{config['host']}:{config['port']}\n"
    )
    sys.stderr.flush()
    try:
        server.serve_forever()
    except (KeyboardInterrupt, SystemExit):
        pass
    finally:
        server.server_close()
        if args.pid_file:
            remove_own_pid_file(args.pid_file)
        sys.stderr.write("ml-inference: stopped\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
