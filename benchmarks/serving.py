"""`zoo serve` under load: requests/s, p50/p99 latency and CPU per request on loopback,
against in-process `predict` in the same run, with and without dynamic batching.

Models: LeNet-5 on the 8x8 digits (one image per TensorFlow Serving `:predict` request,
row format, JSON numbers) and the MobileNet transfer model (alpha 0.25, 224x224, two
classes) taking one ants/bees JPEG per request as `{"b64": ...}`, the way TF Serving
clients send images; its weights are random (the cost does not depend on them).

The server runs in its own process; the load generator in another (threads with one
keep-alive HTTP connection each). Client, server and TensorFlow share the machine's cores,
so both processes' CPU time per request is reported beside the wall-clock figures, which
other work on the machine disturbs. `--threads` sets TensorFlow's intra- and inter-op
pools in the server (`zoo serve --intra-op-parallelism/--inter-op-parallelism`) and in
this process's in-process baselines alike. Bounded: `--requests` per concurrency level.

    python benchmarks/serving.py --model lenet5 mobilenet --threads 1
    python benchmarks/serving.py --model lenet5 --threads 0        # TensorFlow's default pools
"""

import argparse
import base64
import json
import os
import pathlib
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

from _common import record, use_local_data

CLIENT = r"""
import http.client, json, sys, threading, time
port, path, concurrency, requests = sys.argv[1], sys.argv[2], *map(int, sys.argv[3:5])
body = sys.stdin.buffer.read()
latencies, lock, errors = [], threading.Lock(), []
per_thread = [requests // concurrency + (i < requests % concurrency) for i in range(concurrency)]
def run(n):
    connection = http.client.HTTPConnection("127.0.0.1", int(port))
    for _ in range(n):
        start = time.perf_counter()
        connection.request("POST", path, body, {"Content-Type": "application/json"})
        response = connection.getresponse(); response.read()
        if response.status != 200:
            errors.append(response.status); return
        with lock:
            latencies.append(time.perf_counter() - start)
threads = [threading.Thread(target=run, args=(n,)) for n in per_thread]
start = time.perf_counter(); cpu = time.process_time()
for t in threads: t.start()
for t in threads: t.join()
wall = time.perf_counter() - start
print(json.dumps({"latencies": latencies, "wall": wall, "cpu": time.process_time() - cpu,
                  "errors": errors}))
"""


def percentile(values, q):
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]


def process_cpu_seconds(pid):
    """User + system CPU time of a running process, from /proc (Linux)."""
    fields = pathlib.Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def lenet5(root):
    """LeNet-5 on digits exported under `root`: (name, request body, one image)."""
    import zoo
    from zoo import data
    from zoo.export import export

    _, info = data.load("digits", "train", with_info=True, limit=32)
    export(zoo.create_model("lenet5", input_shape=info.input_shape), "lenet5_digits",
           base_dir=root, info=info)  # fmt: skip
    raw, _ = data.as_numpy(data.load("digits", "test", normalize=None, limit=1))
    return "lenet5_digits", json.dumps({"instances": [raw[0].tolist()]}), raw[:1]


def mobilenet(root):
    """MobileNet (alpha 0.25) on ants/bees exported under `root`: (name, body, image)."""
    import numpy as np
    import tensorflow as tf

    import zoo
    from zoo import data
    from zoo.export import export

    folder = pathlib.Path(os.environ["ZOO_DATA_DIR"]) / "hymenoptera_data"
    _, info = data.from_directory(folder / "train", image_size=(224, 224), with_info=True)
    model = zoo.create_model("transfer/mobilenet", alpha=0.25, weights=None,
                             classes=info.num_classes, input_shape=info.input_shape)  # fmt: skip
    export(model, "mobilenet_hymenoptera", base_dir=root, info=info)
    jpeg = sorted((folder / "val" / "ants").glob("*.jpg"))[0].read_bytes()
    image = tf.io.decode_jpeg(jpeg, channels=3).numpy().astype(np.float32)[None]
    body = json.dumps({"instances": [{"b64": base64.b64encode(jpeg).decode()}]})
    return "mobilenet_hymenoptera", body, image


MODELS = {"lenet5": lenet5, "mobilenet": mobilenet}


def in_process(path, image, seconds=3.0):
    """ms per image of the export's `serving_default`, one at a time and in batches of 32."""
    import numpy as np

    from zoo.export import load_export

    predict = load_export(path)
    batch = np.repeat(image, 32, axis=0)
    for _ in range(10):
        predict(image)
        predict(batch)
    result = {}
    for label, x in (("one_at_a_time", image), ("batch_32", batch)):
        count, start = 0, time.perf_counter()
        while time.perf_counter() - start < seconds:
            predict(x)
            count += 1
        result[label] = 1000 * (time.perf_counter() - start) / count / len(x)
    return result


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def load_server(root, name, body, args, batching):
    """Starts `zoo serve`, drives it at each concurrency level, stops it: one row each."""
    port = free_port()
    threads = str(args.threads)
    server = subprocess.Popen(
        [sys.executable, "-m", "zoo.cli", "serve", str(root), "--port", str(port),
         "--intra-op-parallelism", threads, "--inter-op-parallelism", threads]
        + (["--batching", "--batch-timeout-ms", str(args.batch_timeout_ms)] if batching else []),
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    rows = {}
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/v2/health/ready", timeout=5)
                break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise RuntimeError("zoo serve did not start") from None
                time.sleep(0.3)
        path = f"/v1/models/{name}:predict"
        for c in [1, *args.concurrency]:  # the first run warms the server up
            before = process_cpu_seconds(server.pid)
            out = subprocess.run(
                [sys.executable, "-c", CLIENT, str(port), path, str(c), str(args.requests)],
                input=body.encode(), capture_output=True, check=True,
            )  # fmt: skip
            server_cpu = process_cpu_seconds(server.pid) - before
            result = json.loads(out.stdout)
            if result["errors"]:
                raise RuntimeError(f"the server answered {sorted(set(result['errors']))}")
            n, wall = len(result["latencies"]), result["wall"]
            rows[str(c)] = {
                "requests_per_s": round(n / wall, 1),
                "p50_ms": round(1000 * statistics.median(result["latencies"]), 2),
                "p99_ms": round(1000 * percentile(result["latencies"], 0.99), 2),
                "server_cpu_ms_per_request": round(1000 * server_cpu / n, 3),
                "client_cpu_ms_per_request": round(1000 * result["cpu"] / n, 3),
                "client_cpu_share": round(result["cpu"] / wall, 2),
            }
            print(name, "batching" if batching else "no batching", c, rows[str(c)], flush=True)
    finally:
        server.terminate()
        server.wait(timeout=30)
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", nargs="+", choices=sorted(MODELS), default=["lenet5"])
    parser.add_argument("--requests", type=int, default=2000, help="per concurrency level")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 8, 32])
    parser.add_argument("--threads", type=int, default=1, help="TensorFlow threads per pool")
    parser.add_argument("--batch-timeout-ms", type=float, default=0.0, help="with batching")
    args = parser.parse_args(argv)
    use_local_data()
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(args.threads)
    tf.config.threading.set_inter_op_parallelism_threads(args.threads)
    for model in args.model:
        root = pathlib.Path(tempfile.mkdtemp(prefix="zoo-serving-"))
        name, body, image = MODELS[model](root)
        baseline = in_process(root / name / "1", image)
        print(name, "in process, ms per image", baseline, flush=True)
        rows = {
            "no_batching": load_server(root, name, body, args, batching=False),
            "batching": load_server(root, name, body, args, batching=True),
        }
        record(
            f"serving_{model}_threads{args.threads}",
            {
                "command": "python benchmarks/serving.py " + " ".join(argv or sys.argv[1:]),
                "model": name,
                "request_bytes": len(body),
                "threads": args.threads,
                "in_process_ms_per_image_one_at_a_time": round(baseline["one_at_a_time"], 3),
                "in_process_ms_per_image_batch_32": round(baseline["batch_32"], 3),
                "in_process_images_per_s_one_at_a_time": round(1000 / baseline["one_at_a_time"], 1),
                "requests_per_concurrency_level": args.requests,
                "batch_timeout_ms": args.batch_timeout_ms,
                "by_concurrency": rows,
            },
        )


if __name__ == "__main__":
    main()
