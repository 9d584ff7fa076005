#!/usr/bin/env python3
"""Train the example's model and write it to model/weights.json.

The data set is synthetic and generated here with a fixed seed, so every run
produces the same weights and the same accuracy: readings from four sensors on
a machine, labelled 1 when the machine needed maintenance soon after. The two
classes overlap a little, so the model is good but not perfect.

The model is a logistic regression trained by full-batch gradient descent on
standardised features. Python's standard library is enough; no NumPy.

    python3 train.py [--output DIR] [--version NAME] [--seed N]
"""

import argparse
import json
import math
import os
import random
import sys

FEATURES = ["temperature", "vibration", "pressure", "current"]

# Class means in the sensors' own units; the standard deviations are shared.
HEALTHY_MEAN = [61.0, 0.30, 101.0, 12.0]
FAILING_MEAN = [68.0, 0.55, 97.5, 14.5]
SPREAD = [4.0, 0.12, 2.5, 1.6]


def make_data(seed, count):
    """Returns `count` (features, label) pairs, half of each class, shuffled."""
    rng = random.Random(seed)
    rows = []
    for index in range(count):
        label = index % 2
        means = FAILING_MEAN if label else HEALTHY_MEAN
        features = [rng.gauss(mean, spread) for mean, spread in zip(means, SPREAD)]
        rows.append((features, label))
    rng.shuffle(rows)
    return rows


def sigmoid(z):
    # Written to stay finite for large |z| (math.exp overflows past ~709).
    if z >= 0:
        return 1.0 / (1.0 + math.exp(-z))
    e = math.exp(z)
    return e / (1.0 + e)


def standardise(rows):
    columns = list(zip(*(features for features, _ in rows)))
    mean = [sum(column) / len(column) for column in columns]
    std = [
        math.sqrt(sum((value - m) ** 2 for value in column) / len(column)) or 1.0
        for column, m in zip(columns, mean)
    ]
    return mean, std


def scaled(features, mean, std):
    return [(value - m) / s for value, m, s in zip(features, mean, std)]


def train(rows, mean, std, epochs=300, rate=0.5):
    weights = [0.0] * len(mean)
    bias = 0.0
    data = [(scaled(features, mean, std), label) for features, label in rows]
    for _ in range(epochs):
        grad_w = [0.0] * len(weights)
        grad_b = 0.0
        for x, label in data:
            error = sigmoid(sum(w * v for w, v in zip(weights, x)) + bias) - label
            for i, v in enumerate(x):
                grad_w[i] += error * v
            grad_b += error
        weights = [w - rate * g / len(data) for w, g in zip(weights, grad_w)]
        bias -= rate * grad_b / len(data)
    return weights, bias


def predict(model, features):
    x = scaled(features, model["mean"], model["std"])
    return sigmoid(sum(w * v for w, v in zip(model["weights"], x)) + model["bias"])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    here = os.path.dirname(os.path.abspath(__file__))
    parser.add_argument("--output", default=os.path.join(here, "model"), help="directory for weights.json")
    parser.add_argument("--version", default="v1", help="the model version the service reports")
    parser.add_argument("--seed", type=int, default=7, help="seed of the synthetic data set")
    args = parser.parse_args()

    rows = make_data(args.seed, 1200)
    split = int(len(rows) * 0.8)
    training, held_out = rows[:split], rows[split:]

    mean, std = standardise(training)
    weights, bias = train(training, mean, std)
    model = {"mean": mean, "std": std, "weights": weights, "bias": bias}

    correct = sum((predict(model, features) >= 0.5) == bool(label) for features, label in held_out)
    accuracy = correct / len(held_out)

    # A handful of held-out readings the model is confident about: the deployment's
    # ValidateService hook replays them against the running service.
    confident = [
        {"features": [round(v, 4) for v in features], "label": label}
        for features, label in held_out
        if abs(predict(model, features) - 0.5) > 0.45
    ]
    canaries = [row for row in confident if row["label"] == 0][:4] + [row for row in confident if row["label"] == 1][:4]

    document = {
        "format": 1,
        "kind": "logistic-regression",
        "version": args.version,
        "features": FEATURES,
        "mean": mean,
        "std": std,
        "weights": weights,
        "bias": bias,
        "accuracy": round(accuracy, 4),
        "trained_on": len(training),
        "held_out": len(held_out),
        "seed": args.seed,
    }
    os.makedirs(args.output, exist_ok=True)
    with open(os.path.join(args.output, "weights.json"), "w") as handle:
        json.dump(document, handle, indent=2)
        handle.write("\n")
    with open(os.path.join(args.output, "canaries.json"), "w") as handle:
        json.dump(canaries, handle, indent=2)
        handle.write("\n")

    print(
        f"trained {document['kind']} {args.version} on {len(training)} rows: "
        f"held-out accuracy {accuracy:.3f} ({correct}/{len(held_out)}); "
        f"wrote {os.path.join(args.output, 'weights.json')}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
