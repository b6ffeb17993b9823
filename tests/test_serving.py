"""`zoo serve` as a client sees it: a subprocess on a free loopback port, real HTTP in
TensorFlow Serving's REST API and the v2 protocol, answers compared with in-process
predictions, bad input answered with 4xx, and new versions picked up."""

import base64
import json
import math
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

import numpy as np
import pytest

pytest.importorskip("starlette")
pytest.importorskip("uvicorn")

MAX_BYTES = 20_000
pytestmark = pytest.mark.timeout(300)


def _request(url, body=None, method=None):
    data = body if isinstance(body, bytes) or body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method or ("POST" if data else "GET"))
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def _start(root, *options):
    """`zoo serve ROOT` on a free loopback port; returns (process, url) once ready."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    process = subprocess.Popen(
        [sys.executable, "-m", "zoo.cli", "serve", str(root), "--port", str(port), *options],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while True:
        try:
            if _request(f"{url}/v2/health/ready")[0] == 200:
                return process, url
        except OSError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise RuntimeError(f"the server did not start: {process.stdout.read()}")
        time.sleep(0.3)


def _stop(process):
    process.terminate()
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """A served root with LeNet-5 on digits (version 1), and the running server."""
    import zoo
    from zoo import data
    from zoo.export import export

    root = tmp_path_factory.mktemp("served")
    _, info = data.load("digits", "train", with_info=True, limit=32)
    model = zoo.create_model("lenet5", input_shape=info.input_shape)
    export(model, "lenet5_digits", base_dir=root, info=info)
    process, url = _start(root, "--max-request-bytes", str(MAX_BYTES))
    try:
        yield {"url": url, "root": root, "model": model, "info": info}
    finally:
        _stop(process)


@pytest.fixture(scope="module")
def images():
    from zoo import data

    raw, _ = data.as_numpy(data.load("digits", "test", normalize=None, limit=3, shuffle=False))
    return raw


def _expected(server, images, version=1):
    from zoo.export import load_export

    return load_export(server["root"] / "lenet5_digits" / str(version))(images)


def test_tf_serving_status_and_metadata(server):
    status, body = _request(f"{server['url']}/v1/models/lenet5_digits")
    assert status == 200
    assert body["model_version_status"][0] == {
        "version": "1",
        "state": "AVAILABLE",
        "status": {"error_code": "OK", "error_message": ""},
    }
    status, body = _request(f"{server['url']}/v1/models/lenet5_digits/versions/1/metadata")
    signature = body["metadata"]["signature_def"]["signature_def"]["serving_default"]
    assert signature["inputs"]["images"]["dtype"] == "DT_FLOAT"
    dims = [d["size"] for d in signature["inputs"]["images"]["tensor_shape"]["dim"]]
    assert dims == ["-1", "8", "8", "1"]
    assert set(signature["outputs"]) == {"probabilities", "class_id"}


def test_tf_serving_predict_row_columnar_uint8_and_b64(server, images):
    expected = _expected(server, images)
    url = f"{server['url']}/v1/models/lenet5_digits:predict"
    status, rows = _request(url, {"instances": images.tolist()})
    assert status == 200 and len(rows["predictions"]) == 3
    got = np.array([p["probabilities"] for p in rows["predictions"]])
    np.testing.assert_allclose(got, expected["probabilities"], atol=1e-5)
    assert [p["class_id"] for p in rows["predictions"]] == expected["class_id"].tolist()
    status, columns = _request(url, {"inputs": images.tolist()})
    np.testing.assert_allclose(
        columns["outputs"]["probabilities"], expected["probabilities"], atol=1e-5
    )
    status, uint8 = _request(
        url, {"signature_name": "serve_uint8", "instances": images.astype("uint8").tolist()}
    )
    assert status == 200
    np.testing.assert_allclose(
        [p["probabilities"] for p in uint8["predictions"]], expected["probabilities"], atol=1e-5
    )
    import tensorflow as tf

    png = tf.io.encode_png(images[0].astype("uint8")).numpy()
    status, b64 = _request(url, {"instances": [{"b64": base64.b64encode(png).decode()}]})
    assert status == 200
    np.testing.assert_allclose(
        b64["predictions"][0]["probabilities"], expected["probabilities"][0], atol=1e-5
    )


def test_v2_protocol_ready_metadata_and_infer(server, images):
    url = server["url"]
    assert _request(f"{url}/v2/health/live") == (200, {"live": True})
    assert _request(f"{url}/v2/models/lenet5_digits/ready")[1]["ready"] is True
    status, metadata = _request(f"{url}/v2/models/lenet5_digits")
    assert metadata["inputs"] == [{"name": "images", "datatype": "FP32", "shape": [-1, 8, 8, 1]}]
    body = {
        "inputs": [
            {"name": "images", "shape": list(images.shape), "datatype": "FP32",
             "data": images.ravel().tolist()}
        ]
    }  # fmt: skip
    status, answer = _request(f"{url}/v2/models/lenet5_digits/versions/1/infer", body)
    assert status == 200 and answer["model_version"] == "1"
    outputs = {o["name"]: o for o in answer["outputs"]}
    assert outputs["probabilities"]["shape"] == [3, 10]
    assert outputs["class_id"]["datatype"] == "INT32"
    np.testing.assert_allclose(
        np.reshape(outputs["probabilities"]["data"], (3, 10)),
        _expected(server, images)["probabilities"],
        atol=1e-5,
    )


BAD = [
    ("v1", b"{not json", 400, "not valid JSON"),
    ("v1", {"instances": [[1, 2, 3]]}, 400, "must have shape (None, 8, 8, 1)"),
    ("v1", {"instances": [[[["a"]] * 8] * 8]}, 400, "list of numbers"),
    ("v1", {"instances": [[[[math.nan]] * 8] * 8]}, 400, "non-finite"),
    ("v1", {"instances": [{"b64": base64.b64encode(b"not an image").decode()}]}, 400, "b64"),
    ("v1", {"signature_name": "nope", "instances": [[[[0]] * 8] * 8]}, 404, "no signature"),
    ("v1", {"instances": [[[[0]] * 8] * 8], "inputs": []}, 400, "exactly one of"),
    ("v1", b"x" * (MAX_BYTES + 1), 413, "over the limit"),
    (
        "v2",
        {
            "inputs": [
                {"name": "images", "shape": [1, 8, 8, 1], "datatype": "INT64", "data": [0] * 64}
            ]
        },
        400,
        "must be FP32",
    ),  # fmt: skip
    (
        "v2",
        {
            "inputs": [
                {"name": "images", "shape": [1, 8, 8, 1], "datatype": "FP32", "data": [0] * 63}
            ]
        },
        400,
        "fill shape",
    ),  # fmt: skip
]


@pytest.mark.parametrize(("protocol", "body", "status", "message"), BAD)
def test_bad_input_is_a_4xx_naming_it_and_the_server_carries_on(
    server, images, protocol, body, status, message
):
    url = server["url"] + (
        "/v1/models/lenet5_digits:predict" if protocol == "v1" else "/v2/models/lenet5_digits/infer"
    )
    got_status, answer = _request(url, body)
    assert got_status == status and message in answer["error"], answer
    ok, good = _request(
        f"{server['url']}/v1/models/lenet5_digits:predict", {"instances": images[:1].tolist()}
    )
    assert ok == 200 and len(good["predictions"]) == 1


@pytest.mark.parametrize(
    "path",
    [
        "/v1/models/nope",
        "/v1/models/lenet5_digits/versions/9",
        "/v1/models/lenet5_digits/versions/9/metadata",
        "/v1/models/..%2F..%2Fetc/metadata",
        "/v2/models/nope",
        "/v2/models/lenet5_digits/versions/x/ready",
        "/nowhere",
    ],
)
def test_unknown_models_versions_and_paths_are_404(server, path):
    status, answer = _request(server["url"] + path)
    assert status == 404 and answer["error"]


def test_a_new_version_is_served_without_a_restart(server, images):
    """Exported while the server runs: it becomes the default; version 1 stays pinnable."""
    import keras

    from zoo.export import export

    model = keras.models.clone_model(server["model"])  # other weights: other outputs
    export(model, "lenet5_digits", base_dir=server["root"], info=server["info"])
    status, body = _request(f"{server['url']}/v1/models/lenet5_digits")
    assert [v["version"] for v in body["model_version_status"]] == ["2", "1"]
    v2 = {"inputs": [{"name": "images", "shape": list(images.shape), "datatype": "FP32",
                      "data": images.ravel().tolist()}]}  # fmt: skip
    status, answer = _request(f"{server['url']}/v2/models/lenet5_digits/infer", v2)
    assert answer["model_version"] == "2"
    outputs = {o["name"]: o["data"] for o in answer["outputs"]}
    probabilities = np.reshape(outputs["probabilities"], (3, 10))
    np.testing.assert_allclose(
        probabilities, _expected(server, images, 2)["probabilities"], atol=1e-5
    )
    status, pinned = _request(f"{server['url']}/v1/models/lenet5_digits/versions/1:predict",
                              {"instances": images.tolist()})  # fmt: skip
    np.testing.assert_allclose(
        [p["probabilities"] for p in pinned["predictions"]],
        _expected(server, images, 1)["probabilities"],
        atol=1e-5,
    )


def test_version_labels_name_versions_as_tf_serving_model_config_does(server, images):
    """`version_labels.json` beside the versions: `/labels/{l}` in status, metadata and
    predict; an unknown label, a label of a missing version and an unreadable file are
    404s naming them; relabelling needs no restart."""
    url, labels = f"{server['url']}/v1/models/lenet5_digits", server["root"] / "lenet5_digits"
    labels = labels / "version_labels.json"
    try:
        labels.write_text(json.dumps({"stable": 1, "gone": 7}))
        status, body = _request(f"{url}/labels/stable")
        assert status == 200 and body["model_version_status"][0]["version"] == "1"
        status, body = _request(f"{url}/labels/stable/metadata")
        assert status == 200 and body["model_spec"]["version"] == "1"
        status, body = _request(f"{url}/labels/stable:predict", {"instances": images.tolist()})
        np.testing.assert_allclose(
            [p["probabilities"] for p in body["predictions"]],
            _expected(server, images, 1)["probabilities"],
            atol=1e-5,
        )
        status, body = _request(f"{url}/labels/canary:predict", {"instances": images.tolist()})
        assert status == 404 and "'canary'" in body["error"]
        assert "['gone', 'stable']" in body["error"]
        for path in ("/labels/gone", "/labels/gone:predict"):
            body = {"instances": images.tolist()} if ":" in path else None
            status, body = _request(url + path, body)
            assert status == 404 and "'gone'" in body["error"], body
        labels.write_text("{not json")
        status, body = _request(f"{url}/labels/stable")
        assert status == 404 and "version_labels.json" in body["error"]
    finally:
        labels.unlink(missing_ok=True)
    status, body = _request(f"{url}/labels/stable")
    assert status == 404 and "stable" in body["error"]


def test_a_loaded_model_is_kept_out_of_full_garbage_collections(server):
    """A SavedModel's long-lived objects are frozen once loaded: left to the collector,
    every full collection walked them and stalled all requests for 50-500 ms."""
    import gc

    from zoo.serving.repository import Repository

    gc.unfreeze()
    try:
        Repository(server["root"]).get("lenet5_digits")
        assert gc.get_freeze_count() > 10_000
    finally:
        gc.unfreeze()


@pytest.mark.parametrize(
    ("option", "value"),
    [("--intra-op-parallelism", "-1"), ("--inter-op-parallelism", "-2"), ("--port", "0")],
)
def test_bad_server_options_are_one_line_errors(tmp_path, option, value):
    result = subprocess.run(
        [sys.executable, "-m", "zoo.cli", "serve", str(tmp_path), option, value],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2 and f"{option} must be" in result.stderr
    assert f"Received: {value}" in result.stderr and "Traceback" not in result.stderr


def test_batching_merges_concurrent_requests_and_answers_each_its_own(server, images):
    """`zoo serve --batching`: 24 requests at once, of 1 to 3 images, each answered with
    its own rows, equal to in-process predictions; a bad request fails alone."""
    import concurrent.futures

    process, url = _start(server["root"], "--batching", "--max-batch-size", "8")
    try:
        expected = _expected(server, images, version=1)
        bodies = [images[: 1 + i % 3] for i in range(24)]

        def ask(batch):
            return _request(f"{url}/v1/models/lenet5_digits/versions/1:predict",
                            {"instances": batch.tolist()})  # fmt: skip

        with concurrent.futures.ThreadPoolExecutor(24) as pool:
            answers = list(pool.map(ask, bodies))
            bad = pool.submit(_request, f"{url}/v1/models/lenet5_digits:predict",
                              {"instances": [[1, 2]]})  # fmt: skip
        for batch, (status, answer) in zip(bodies, answers, strict=True):
            assert status == 200 and len(answer["predictions"]) == len(batch)
            got = [p["probabilities"] for p in answer["predictions"]]
            np.testing.assert_allclose(got, expected["probabilities"][: len(batch)], atol=1e-5)
        assert bad.result()[0] == 400
    finally:
        _stop(process)
