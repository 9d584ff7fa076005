#!/usr/bin/env bash
# Fuzzes the request parsers with libFuzzer: builds the RequestFuzzer target (SigV4 and SlipwayModel) with coverage
# instrumentation and AddressSanitizer, seeds a corpus per parser from the test fixtures and the CodeDeploy model,
# and runs a bounded pass of each parser in turn:
#
#   authorization  Authorization.parse of requests written as text, then Verifier.verify (which must refuse them)
#   signing        requests signed in a header or presigned, parsed back and verified (and refused once tampered)
#   values         AmzDate, PayloadHash, AuthorizationHeader and URIEncoding against their formatters
#   json           JSONReader (read, written back with JSONOutput, read again) and ShapeValidator against every
#                  input shape of CodeDeploy.schema and CodeDeployCommand.schema
#
# Exits non-zero when an input crashes, breaks an invariant, corrupts memory, hangs or exhausts memory; the input is
# saved under .build-fuzz/request-corpus/<parser>/ as crash-* (or timeout-*, oom-*) and replays with
# `REQUEST_FUZZER_PARSER=<parser> swift run RequestFuzzer <file>`.
#
#   scripts/fuzz-requests.sh                       # 1,000,000 inputs per parser
#   scripts/fuzz-requests.sh --runs 20000          # what CI runs
#   scripts/fuzz-requests.sh --time 300 -j 2       # five minutes per parser on two processes
#   scripts/fuzz-requests.sh --parser json         # one parser only
#   scripts/fuzz-requests.sh -- -max_len=65536     # anything after -- goes to libFuzzer
#
# The S3 XML request reader (ArtifactStore) and the tar reader (Agent) are not in this target. Their modules bring
# AsyncHTTPClient, NIOSSL, NIOHTTP2, GRDB and the rest along: built this way on two cores, ArtifactStore's
# dependencies alone took over 12 minutes, against about 4 for what RequestFuzzer adds to scripts/fuzz-appspec.sh's
# build (swift-crypto and SigV4). And neither reader moves cleanly into a leaf module: the XML reader throws
# ArtifactStore's S3Error, and the tar reader is built on the agent's ChunkPipe and SafeTreeWriter and writes files.
# They get seeded mutation passes in their unit tests instead, which `swift test` runs:
# Tests/ArtifactStoreTests/XMLRequestFuzzTests.swift (request bodies mutated, parsed, written back and parsed again),
# Tests/AgentTests/TarReaderMutationTests.swift (header fields changed under a correct checksum) and the hostile
# corpus of Tests/AgentTests/TarReaderTests.swift, both through TarReader.fuzzOne.
#
# Run from anywhere; builds in .build-fuzz, like scripts/fuzz-appspec.sh, so that the two share the build products
# of their common modules. Needs Linux and a swift.org toolchain, which ships libFuzzer, and python3 for the seeds
# (botocore, from scripts/requirements.txt, for the model's seeds).
set -euo pipefail
cd "$(dirname "$0")/.."

parsers=(authorization signing values json)
runs=1000000
seconds=""
jobs=1
extra=()
while [ $# -gt 0 ]; do
    case "$1" in
        --runs) runs="$2"; shift 2 ;;
        --time) seconds="$2"; shift 2 ;;
        -j|--jobs) jobs="$2"; shift 2 ;;
        --parser) parsers=("$2"); shift 2 ;;
        --) shift; extra=("$@"); break ;;
        *) echo "usage: $0 [--runs N] [--time SECONDS] [-j JOBS] [--parser NAME] [-- libFuzzer options]" >&2
           exit 2 ;;
    esac
done

# The same instrumentation and flags as scripts/fuzz-appspec.sh (keep them identical: any difference rebuilds the
# shared modules): coverage and AddressSanitizer, libFuzzer linked without its `main`.
scratch=.build-fuzz
resource_dir="$(swiftc -print-target-info | sed -n 's/.*"runtimeResourcePath": "\(.*\)".*/\1/p' | head -n 1)"
fuzzer_library="$(ls "$resource_dir"/../clang/*/lib/linux/libclang_rt.fuzzer_no_main-"$(uname -m)".a 2>/dev/null | head -n 1)"
if [ -z "$fuzzer_library" ]; then
    echo "fuzz-requests: this toolchain has no libFuzzer (libclang_rt.fuzzer_no_main); use a swift.org toolchain" >&2
    exit 2
fi
build=(swift build -c release --scratch-path "$scratch" --product RequestFuzzer
    -Xswiftc -sanitize=address -Xswiftc -sanitize-coverage=edge,trace-cmp,inline-8bit-counters,pc-table
    -Xswiftc -DFUZZING -Xcc -fsanitize=fuzzer-no-link,address -Xlinker "$fuzzer_library" -Xlinker -lstdc++)
echo "fuzz-requests: building RequestFuzzer (release, coverage + AddressSanitizer) in $scratch"
build_start=$(date +%s)
"${build[@]}"
echo "fuzz-requests: built in $(($(date +%s) - build_start)) s"
binary="$("${build[@]}" --show-bin-path)/RequestFuzzer"

# The corpus: a directory per parser, kept between runs (under the git-ignored build folder), seeded each time.
# Every seed starts with its parser's selector byte, so that a seed also replays without REQUEST_FUZZER_PARSER.
corpus="$scratch/request-corpus"
python3 - "$corpus" "${parsers[@]}" <<'PYTHON'
import json, os, struct, sys

corpus, wanted = sys.argv[1], sys.argv[2:]
order = ["authorization", "signing", "values", "json"]  # the order of RequestFuzzer's Parser enum
seeds = {name: [] for name in order}

fixture = json.load(open("Tests/SigV4Tests/Fixtures/botocore_signed.json"))
for case in fixture["cases"]:
    target = case["path"] + ("?" + case["query"] if case["query"] else "")
    head = "%s %s\n" % (case["method"], target)
    lines = ["%s: %s" % (name, value) for name, value in case["headers"]]
    seeds["authorization"].append(head + "\n".join(lines) + "\n\n" + case["body"])
    # The legacy Date header instead of X-Amz-Date.
    if any(name == "X-Amz-Date" for name, _ in case["headers"]):
        dated = [l if not l.startswith("X-Amz-Date:") else "Date: Sat, 14 Mar 2026 09:26:53 GMT" for l in lines]
        seeds["authorization"].append(head + "\n".join(dated) + "\n\n" + case["body"])
    values = [case["timestamp"], case["query"], case["path"], case["body"]]
    values += [value for _, value in case["headers"]]
    seeds["values"].append("\n".join(values))
seeds["values"].append("\n".join([
    "UNSIGNED-PAYLOAD", "STREAMING-AWS4-HMAC-SHA256-PAYLOAD", "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER",
    "STREAMING-UNSIGNED-PAYLOAD-TRAILER", "STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD",
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", "Fri, 24 May 2013 00:00:00 GMT",
    "20150830T123600Z", "20161231T235960Z", "a%2Fb+c%zz%E2%9C%93"]))

def field(text):
    data = text.encode() if isinstance(text, str) else text
    return bytes([min(len(data), 255)]) + data[:255]

# Signing: flags (bit 0 presigned, bits 1-3 service, bit 4 session token, bit 5 unsigned payload), then the fields
# in the order fuzzSigning reads them.
for flags in [0, 1, 2, 3, 4, 5, 0x12, 0x13, 0x22, 0x2A, 0x0E]:
    body = b'{"applicationName":"web"}' if flags & 1 == 0 else b""
    seed = bytes([flags])
    if flags & 0x0E >= 8:
        seed += field("execute-api")
    if flags & 0x10:
        seed += field("FwoGZXIvYXdzEBYaDH+token/value==")
    seed += field("AKIASLIPWAYEXAMPLE01") + field("s3cr3t/Slipway+Example/Key0123456789abcd") + field("eu-west-1")
    seed += struct.pack(">I", 1773480413) + struct.pack(">I", 3600)[1:]
    seed += field("POST" if body else "GET") + field("/deploy-bucket/my%20app/./v1.zip")
    seed += field("prefix=a%20b&list-type=2&x-id=B&empty=") + field("slipway.example.com:8443")
    seed += bytes([3]) + field("X-Amz-Target") + field("CodeDeploy_20141006.ListApplications")
    seed += field("x-amz-meta-note") + field("  folded   value  ") + field("User-Agent") + field("aws-cli/2")
    seeds["signing"].append(seed + body)

# JSON: the fixture's bodies against every shape, and a document per input shape of the model with each member
# filled in (botocore's model, when it is installed; the shapes are in the order of the Swift enum: sorted).
try:
    import botocore.loaders
    model = botocore.loaders.Loader().load_service_model("codedeploy", "service-2")
except Exception as error:
    print("fuzz-requests: no botocore (%s); JSON seeds from the fixtures only" % error, file=sys.stderr)
    model = None
command_inputs = [
    {"HostIdentifier": "arn:aws:ec2:eu-west-1:123456789012:instance/i-0abc"},
    {"DeploymentExecutionId": "d-ABCDEF123/a/b/c", "HostIdentifier": "i-0abc"},
    {"HostCommandIdentifier": "hc-1", "Diagnostics": {"Format": "JSON", "Payload": "{}"}},
    {"HostCommandIdentifier": "hc-1", "CommandStatus": "Succeeded", "Diagnostics": {"Format": "JSON"}},
    {"HostCommandIdentifier": "hc-1", "EstimatedCompletionTime": 1773480413.5},
    {"HostCommandIdentifier": "hc-1", "Log": "line one\nline two\u0007"},
]
def example(shapes, name, depth=0):
    shape = shapes[name]
    kind = shape["type"]
    if kind == "structure":
        if depth > 4:
            return {}
        return {member: example(shapes, spec["shape"], depth + 1) for member, spec in shape["members"].items()}
    if kind == "list":
        return [] if depth > 4 else [example(shapes, shape["member"]["shape"], depth + 1)]
    if kind == "map":
        return {} if depth > 4 else {"key": example(shapes, shape["value"]["shape"], depth + 1)}
    if kind == "string":
        return shape.get("enum", ["x" * max(shape.get("min", 1), 1)])[0]
    if kind in ("integer", "long"):
        return shape.get("min", 1)
    if kind == "double":
        return 0.5
    if kind == "boolean":
        return True
    if kind == "timestamp":
        return 1773480413.25
    if kind == "blob":
        return "aGVsbG8="
    return None
documents = []
if model:
    operations = sorted(model["operations"])
    for index, operation in enumerate(operations):
        shape = model["operations"][operation].get("input", {}).get("shape")
        if shape:
            documents.append((index, json.dumps(example(model["shapes"], shape), separators=(",", ":"))))
for index, document in enumerate(command_inputs):
    documents.append((len(model["operations"]) + index if model else index, json.dumps(document)))
bodies = [c["body"] for c in fixture["cases"] if c["body"].startswith("{")]
for body in bodies + ['[1, -0.0, 1e300, 2.5E-7, "\\ud83d\\ude00\\u0000", true, false, null, {"a": {"a": []}}]']:
    for index in range(0, 54, 7):
        documents.append((index, body))
for index, document in documents:
    seeds["json"].append(bytes([index % 256]) + document.encode())

for number, name in enumerate(order):
    if name not in wanted:
        continue
    directory = os.path.join(corpus, name)
    os.makedirs(directory, exist_ok=True)
    for index, seed in enumerate(seeds[name]):
        data = seed.encode() if isinstance(seed, str) else seed
        with open(os.path.join(directory, "seed-%03d" % index), "wb") as out:
            out.write(bytes([number]) + data)
PYTHON

options=(-max_len=4096 -timeout=10 -rss_limit_mb=2048 -print_final_stats=1)
if [ -n "$seconds" ]; then options+=(-max_total_time="$seconds"); else options+=(-runs="$runs"); fi
if [ "$jobs" -gt 1 ]; then
    # -runs counts per job; split each parser's total between the jobs.
    if [ -z "$seconds" ]; then options=("${options[@]/-runs=$runs/-runs=$(((runs + jobs - 1) / jobs))}"); fi
    options+=(-jobs="$jobs" -workers="$jobs")
fi
# Leak detection is off: Swift's runtime keeps some allocations to the end of the process on purpose. Swift's own
# backtracer is off too: at a trap it reads the stack from a helper thread, which AddressSanitizer reports as a
# second, unrelated error (stack-buffer-underflow in CrashHandlerLinux.cpp) after the real one.
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=0}"
export SWIFT_BACKTRACE="${SWIFT_BACKTRACE:-enable=no}"

status=0
for parser in "${parsers[@]}"; do
    directory="$corpus/$parser"
    echo "fuzz-requests: $parser: $binary ${options[*]} ${extra[*]:-} $directory"
    start=$(date +%s)
    parser_status=0
    REQUEST_FUZZER_PARSER="$parser" "$binary" "${options[@]}" -artifact_prefix="$directory/" "${extra[@]}" \
        "$directory" || parser_status=$?
    echo "fuzz-requests: $parser finished in $(($(date +%s) - start)) s with status $parser_status"
    if [ "$parser_status" -ne 0 ]; then
        echo "fuzz-requests: $parser FAILED; the failing input is in $directory/ (crash-*, timeout-*, oom-*);" \
            "replay it with REQUEST_FUZZER_PARSER=$parser swift run RequestFuzzer <file>" >&2
        status=$parser_status
    fi
done
exit "$status"
