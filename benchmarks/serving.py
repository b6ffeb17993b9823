"""`zoo serve` under load: requests/s and p50/p99 latency on loopback, against in-process
`predict`, for LeNet-5 on the 8x8 digits (TensorFlow Serving's row format, one image per
request).

The server runs in its own process; the load generator in another (threads with one
keep-alive HTTP connection each), whose CPU share of the wall time is reported, since
client, server and TensorFlow share the machine's cores. Bounded: `--requests` per
concurrency level.

    python benchmarks/serving.py --requests 400 --concurrency 1 8 32
"""

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time

from _common import record, use_local_data

CLIENT = r"""
import http.client, json, sys, threading, time
port, concurrency, requests = (int(a) for a in sys.argv[1:4])
body = sys.argv[4].encode()
latencies, lock = [], threading.Lock()
per_thread = [requests // concurrency + (i < requests % concurrency) for i in range(concurrency)]
def run(n):
    connection = http.client.HTTPConnection("127.0.0.1", port)
    for _ in range(n):
        start = time.perf_counter()
        connection.request("POST", "/v1/models/lenet5_digits:predict", body,
                           {"Content-Type": "application/json"})
        response = connection.getresponse(); response.read()
        assert response.status == 200, response.status
        with lock:
            latencies.append(time.perf_counter() - start)
threads = [threading.Thread(target=run, args=(n,)) for n in per_thread]
start = time.perf_counter(); cpu = time.process_time()
for t in threads: t.start()
for t in threads: t.join()
wall = time.perf_counter() - start
print(json.dumps({"latencies": latencies, "wall": wall, "cpu": time.process_time() - cpu}))
"""


def percentile(values, q):
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=400)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 8, 32])
    parser.add_argument("--batching", action="store_true", help="zoo serve --batching")
    parser.add_argument("--batch-timeout-ms", type=float, default=0.0, help="with --batching")
    args = parser.parse_args(argv)
    use_local_data()
    import zoo
    from zoo import data
    from zoo.export import export, load_export

    root = tempfile.mkdtemp(prefix="zoo-serving-")
    _, info = data.load("digits", "train", with_info=True, limit=32)
    path = export(zoo.create_model("lenet5", input_shape=info.input_shape), "lenet5_digits",
                  base_dir=root, info=info)  # fmt: skip
    raw, _ = data.as_numpy(data.load("digits", "test", normalize=None, limit=64))

    # In-process baselines: one image at a time, and batches of 32.
    predict = load_export(path)
    for _ in range(20):
        predict(raw[:1])
    start = time.perf_counter()
    for i in range(200):
        predict(raw[i % 64 : i % 64 + 1])
    one = (time.perf_counter() - start) / 200
    start = time.perf_counter()
    for _ in range(20):
        predict(raw[:32])
    batch = (time.perf_counter() - start) / 20 / 32

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = subprocess.Popen(
        [sys.executable, "-m", "zoo.cli", "serve", root, "--port", str(port)]
        + (
            ["--batching", "--batch-timeout-ms", str(args.batch_timeout_ms)]
            if args.batching
            else []
        ),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    body = json.dumps({"instances": [raw[0].tolist()]})
    rows = {}
    try:
        import urllib.request

        deadline = time.monotonic() + 120
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/v2/health/ready", timeout=5)
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.3)
        for c in [1, *args.concurrency]:  # the first run warms the server up
            out = subprocess.run(
                [sys.executable, "-c", CLIENT, str(port), str(c), str(args.requests), body],
                capture_output=True, text=True, check=True, env={**os.environ},
            )  # fmt: skip
            result = json.loads(out.stdout)
            rows[str(c)] = {
                "requests_per_s": round(len(result["latencies"]) / result["wall"], 1),
                "p50_ms": round(1000 * statistics.median(result["latencies"]), 2),
                "p99_ms": round(1000 * percentile(result["latencies"], 0.99), 2),
                "client_cpu_share": round(result["cpu"] / result["wall"], 2),
            }
            print(c, rows[str(c)], flush=True)
    finally:
        server.terminate()
        server.wait(timeout=30)
    return record(
        "serving_lenet5_digits"
        + (f"_batching_{args.batch_timeout_ms:g}ms" if args.batching else ""),
        {
            "command": "python benchmarks/serving.py " + " ".join(argv or sys.argv[1:]),
            "in_process_ms_per_image_one_at_a_time": round(1000 * one, 3),
            "in_process_ms_per_image_batch_32": round(1000 * batch, 3),
            "in_process_images_per_s_one_at_a_time": round(1 / one, 1),
            "requests_per_concurrency_level": args.requests,
            "batching": args.batching,
            "batch_timeout_ms": args.batch_timeout_ms if args.batching else None,
            "by_concurrency": rows,
        },
    )


if __name__ == "__main__":
    main()
