"""`zoo serve`: an ASGI app (Starlette, run by uvicorn) that speaks TensorFlow Serving's
REST API and the Open Inference Protocol (v2, KServe and Triton), over an export root.

TensorFlow Serving REST (https://www.tensorflow.org/tfx/serving/api_rest):

    GET  /v1/models/{name}[/versions/{v}|/labels/{l}]           model version status
    GET  /v1/models/{name}[/versions/{v}|/labels/{l}]/metadata  signature defs
    POST /v1/models/{name}[/versions/{v}|/labels/{l}]:predict   {"instances": [...]} (row) or
                                                                {"inputs": ...} (columnar),
                                                                "signature_name", {"b64": ...}

A label names a version through the model's `version_labels.json` (`{"stable": 1}`), as
TensorFlow Serving's model config `version_labels` does.

Open Inference Protocol (https://kserve.github.io/website/latest/modelserving/data_plane/v2_protocol/):

    GET  /v2/health/live, /v2/health/ready, /v2           server liveness, readiness, metadata
    GET  /v2/models/{name}[/versions/{v}][/ready]         model metadata, readiness
    POST /v2/models/{name}[/versions/{v}]/infer           typed tensors

Errors are `{"error": "..."}` with 400 (bad input), 404 (unknown model, version or
signature) or 413 (a body over `max_request_bytes`); a request never reaches TensorFlow
unchecked, so bad input never costs a 500 or the server.
"""

import asyncio
import base64
import collections
import json
import os
import re

import numpy as np
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.responses import JSONResponse
from starlette.routing import Route

from zoo.serving.repository import DTYPES, V2_DTYPES, BadRequest, NotFound, Repository, ServingError

DEFAULT_MAX_REQUEST_BYTES = 16 * 2**20
# Bodies up to this size are checked on the event loop under --batching (tens of
# microseconds, less than a hand-off to the thread pool); larger ones in the pool.
INLINE_BYTES = 64 * 2**10
_V1 = re.compile(
    r"(?P<name>[^/:]+)(?:/versions/(?P<version>[^/:]+)|/labels/(?P<label>[^/:]+))?"
    r"(?P<rest>/metadata|:predict)?"
)


class TooLarge(ServingError):
    status = 413


class Batcher:
    """Dynamic batching, as TensorFlow Serving's `--enable_batching`: while calls to a
    signature run, the requests that arrive wait, and the next call takes them together
    (at most `max_batch_size` examples; requests whose examples differ in shape go in
    separate calls), each getting its own rows of the answer. Up to `threads` calls per
    signature run at once (TF Serving's `num_batch_threads`), so a model whose calls use
    one core each still uses every core. A request that finds a call slot free is called
    at once (after `timeout` seconds, 0 by default, spent waiting for company), so
    batching costs nothing without load."""

    def __init__(self, max_batch_size=32, timeout=0.0, threads=None):
        self.max_batch_size = max_batch_size
        self.timeout = timeout
        self.threads = threads or os.cpu_count() or 1
        self._pending = {}
        self._running = collections.Counter()

    async def __call__(self, signature, inputs, *, inline=False):
        # bad input fails alone, before any merging; checking (JSON lists to arrays) is CPU
        # work: a small request's is cheaper than a hop to the thread pool, a large one's
        # runs there, off the event loop
        if inline:
            arrays = signature.check(inputs)
        else:
            arrays = await run_in_threadpool(signature.check, inputs)
        future = asyncio.get_running_loop().create_future()
        shapes = tuple((k, v.shape[1:], v.dtype.str) for k, v in sorted(arrays.items()))
        key = (id(signature), shapes)
        self._pending.setdefault(key, []).append((arrays, future))
        if self._running[key] < self.threads:
            self._running[key] += 1
            asyncio.ensure_future(self._drain(key, signature))
        return await future

    async def _drain(self, key, signature):
        try:
            while self._pending.get(key):
                if self.timeout:
                    await asyncio.sleep(self.timeout)
                items, size, queue = [], 0, self._pending[key]
                while queue and (not items or size + _rows(queue[0][0]) <= self.max_batch_size):
                    items.append(queue.pop(0))
                    size += _rows(items[-1][0])
                merged = {k: np.concatenate([a[k] for a, _ in items]) for k in items[0][0]}
                try:
                    outputs = await run_in_threadpool(signature.run, merged)
                except Exception as error:  # noqa: BLE001  (each waiting request gets it)
                    for _, future in items:
                        if not future.done():
                            future.set_exception(error)
                    continue
                start = 0
                for arrays, future in items:
                    rows = _rows(arrays)
                    if not future.done():
                        future.set_result({k: v[start : start + rows] for k, v in outputs.items()})
                    start += rows
        finally:
            self._running[key] -= 1
            if not self._running[key]:
                del self._running[key]
                if not self._pending.get(key):
                    self._pending.pop(key, None)


def _rows(arrays):
    return len(next(iter(arrays.values())))


def create_app(root="saved_models", *, max_request_bytes=DEFAULT_MAX_REQUEST_BYTES, batching=None):
    """The ASGI app serving every export under `root`; `batching` is an optional `Batcher`."""
    repository = Repository(root)

    async def predict(signature, inputs, size):
        if batching is not None:
            return await batching(signature, inputs, inline=size <= INLINE_BYTES)
        return await run_in_threadpool(signature, inputs)

    async def load(name, version=None, label=None):
        # a loaded version answers at once; loading one (seconds) runs off the event loop
        loaded = repository.get(name, version, label, load=False)
        if loaded is None:
            loaded = await run_in_threadpool(repository.get, name, version, label)
        return loaded

    async def body_json(request):
        declared = request.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > max_request_bytes:
            raise TooLarge(f"the request body is over the limit of {max_request_bytes} bytes")
        body = bytearray()
        async for chunk in request.stream():
            body.extend(chunk)
            if len(body) > max_request_bytes:
                raise TooLarge(f"the request body is over the limit of {max_request_bytes} bytes")
        try:
            return json.loads(body), len(body)
        except (ValueError, UnicodeDecodeError) as error:
            raise BadRequest(f"the body is not valid JSON: {error}") from None

    def handle(endpoint):
        async def wrapped(request):
            try:
                return JSONResponse(await endpoint(request))
            except ServingError as error:
                return JSONResponse({"error": str(error)}, status_code=error.status)

        return wrapped

    # --- TensorFlow Serving REST -------------------------------------------------------

    def v1_parts(request):
        match = _V1.fullmatch(request.path_params["rest"])
        if match is None:
            raise NotFound(f"no such path: {request.url.path}")
        return match["name"], match["version"], match["label"], match["rest"]

    async def v1_get(request):
        name, version, label, rest = v1_parts(request)
        if rest == ":predict":
            raise NotFound(":predict takes POST")
        if rest == "/metadata":
            loaded = await load(name, version, label)
            return {
                "model_spec": {"name": name, "signature_name": "", "version": str(loaded.number)},
                "metadata": {"signature_def": {"signature_def": _v1_signature_defs(loaded)}},
            }
        numbers = repository.versions(name)
        if label is not None:
            labels = repository.labels(name)
            if label not in labels or labels[label] not in numbers:
                raise NotFound(f"model {name!r} has no served version labelled {label!r}")
            version = str(labels[label])
        if version is not None:
            if not version.isdigit() or int(version) not in numbers:
                raise NotFound(f"model {name!r} has no version {version!r}; versions: {numbers}")
            numbers = [int(version)]
        return {
            "model_version_status": [
                {
                    "version": str(number),
                    "state": "AVAILABLE",
                    "status": {"error_code": "OK", "error_message": ""},
                }
                for number in sorted(numbers, reverse=True)
            ]
        }

    async def v1_post(request):
        name, version, label, rest = v1_parts(request)
        if rest != ":predict":
            raise NotFound(f"POST {request.url.path}: only :predict takes POST")
        payload, size = await body_json(request)
        if not isinstance(payload, dict):
            raise BadRequest("the body must be a JSON object with 'instances' or 'inputs'")
        loaded = await load(name, version, label)
        signature = loaded.signature(payload.get("signature_name"))
        if ("instances" in payload) == ("inputs" in payload):
            raise BadRequest(
                "the body must hold exactly one of 'instances' (row format) or "
                "'inputs' (columnar format)"
            )
        if "instances" in payload:
            inputs = _rows_to_inputs(payload["instances"], signature)
            outputs = await predict(signature, inputs, size)
            if len(outputs) == 1:
                return {"predictions": next(iter(outputs.values())).tolist()}
            count = len(next(iter(outputs.values())))
            return {
                "predictions": [
                    {k: v[i].tolist() for k, v in outputs.items()} for i in range(count)
                ]
            }
        inputs = payload["inputs"]
        if not isinstance(inputs, dict):
            inputs = {_only_input(signature): inputs}
        inputs = {k: _decode_b64_tree(v, signature.inputs.get(k)) for k, v in inputs.items()}
        outputs = await predict(signature, inputs, size)
        if len(outputs) == 1:
            return {"outputs": next(iter(outputs.values())).tolist()}
        return {"outputs": {k: v.tolist() for k, v in outputs.items()}}

    # --- Open Inference Protocol (v2) --------------------------------------------------

    async def v2_live(request):
        return {"live": True}

    async def v2_ready(request):
        return {"ready": True}

    async def v2_server(request):
        import zoo

        return {"name": "zoo", "version": zoo.__version__, "extensions": []}

    async def v2_model(request):
        name, version = request.path_params["name"], request.path_params.get("version")
        loaded = await load(name, version)
        signature = loaded.signature()
        return {
            "name": name,
            "versions": [str(v) for v in repository.versions(name)],
            "platform": "tensorflow_savedmodel",
            "inputs": [_v2_tensor(k, spec) for k, spec in signature.inputs.items()],
            "outputs": [_v2_tensor(k, spec) for k, spec in signature.outputs.items()],
        }

    async def v2_model_ready(request):
        name, version = request.path_params["name"], request.path_params.get("version")
        loaded = await load(name, version)
        return {"name": name, "version": str(loaded.number), "ready": True}

    async def v2_infer(request):
        name, version = request.path_params["name"], request.path_params.get("version")
        payload, size = await body_json(request)
        if not isinstance(payload, dict) or not isinstance(payload.get("inputs"), list):
            raise BadRequest("the body must be a JSON object with a list of 'inputs'")
        loaded = await load(name, version)
        signature = loaded.signature()
        inputs = {}
        for tensor in payload["inputs"]:
            if not isinstance(tensor, dict) or not {"name", "shape", "datatype", "data"} <= set(
                tensor
            ):
                raise BadRequest("each input must have 'name', 'shape', 'datatype' and 'data'")
            if tensor["datatype"] not in V2_DTYPES:
                raise BadRequest(
                    f"input {tensor['name']!r}: datatype must be one of {sorted(V2_DTYPES)}. "
                    f"Received: {tensor['datatype']!r}"
                )
            expected = signature.inputs.get(tensor["name"])
            if expected is not None and V2_DTYPES[tensor["datatype"]] != expected[0]:
                raise BadRequest(
                    f"input {tensor['name']!r} must be {DTYPES[expected[0]][2]}. Received: "
                    f"{tensor['datatype']}"
                )
            try:
                data = np.asarray(tensor["data"], dtype="float64")
                inputs[tensor["name"]] = data.reshape(tensor["shape"])
            except (TypeError, ValueError):
                raise BadRequest(
                    f"input {tensor['name']!r}: data must be numbers that fill shape "
                    f"{tensor['shape']}"
                ) from None
        outputs = await predict(signature, inputs, size)
        wanted = [o.get("name") for o in payload.get("outputs") or [] if isinstance(o, dict)]
        unknown = sorted(set(wanted) - set(outputs))
        if unknown:
            raise BadRequest(f"unknown outputs {unknown}; the model has {sorted(outputs)}")
        return {
            "model_name": name,
            "model_version": str(loaded.number),
            "id": payload.get("id", ""),
            "outputs": [
                {
                    "name": key,
                    "datatype": DTYPES[value.dtype.name][2],
                    "shape": list(value.shape),
                    "data": value.ravel().tolist(),
                }
                for key, value in outputs.items()
                if not wanted or key in wanted
            ],
        }

    routes = [
        Route("/v1/models/{rest:path}", handle(v1_get), methods=["GET"]),
        Route("/v1/models/{rest:path}", handle(v1_post), methods=["POST"]),
        Route("/v2/health/live", handle(v2_live), methods=["GET"]),
        Route("/v2/health/ready", handle(v2_ready), methods=["GET"]),
        Route("/v2", handle(v2_server), methods=["GET"]),
        Route("/v2/models/{name}", handle(v2_model), methods=["GET"]),
        Route("/v2/models/{name}/versions/{version}", handle(v2_model), methods=["GET"]),
        Route("/v2/models/{name}/ready", handle(v2_model_ready), methods=["GET"]),
        Route(
            "/v2/models/{name}/versions/{version}/ready", handle(v2_model_ready), methods=["GET"]
        ),
        Route("/v2/models/{name}/infer", handle(v2_infer), methods=["POST"]),
        Route("/v2/models/{name}/versions/{version}/infer", handle(v2_infer), methods=["POST"]),
    ]

    async def not_found(request, exc):
        return JSONResponse({"error": f"no such path: {request.url.path}"}, status_code=404)

    async def not_allowed(request, exc):
        return JSONResponse(
            {"error": f"{request.method} is not allowed on {request.url.path}"}, status_code=405
        )

    async def server_error(request, exc):
        return JSONResponse({"error": f"internal error: {type(exc).__name__}"}, status_code=500)

    return Starlette(
        routes=routes,
        exception_handlers={404: not_found, 405: not_allowed, 500: server_error},
    )


def _only_input(signature):
    if len(signature.inputs) != 1:
        raise BadRequest(
            f"signature {signature.name!r} has inputs {sorted(signature.inputs)}: name them"
        )
    return next(iter(signature.inputs))


def _rows_to_inputs(instances, signature):
    if not isinstance(instances, list) or not instances:
        raise BadRequest("'instances' must be a non-empty list")
    if all(isinstance(i, dict) and "b64" not in i for i in instances):
        keys = set(signature.inputs)
        if any(set(i) != keys for i in instances):
            raise BadRequest(f"each instance must have the inputs {sorted(keys)}")
        return {k: [_decode_b64_tree(i[k], signature.inputs[k]) for i in instances] for k in keys}
    key = _only_input(signature)
    return {key: [_decode_b64_tree(i, signature.inputs[key]) for i in instances]}


def _decode_b64_tree(value, spec):
    """`{"b64": ...}` as an image (JPEG, PNG, BMP, GIF) of the input's channels."""
    if isinstance(value, list):
        try:  # plain numbers, the common case: one pass in C
            return np.asarray(value, dtype="float64")
        except (TypeError, ValueError):
            return [_decode_b64_tree(v, spec) for v in value]
    if not (isinstance(value, dict) and set(value) == {"b64"}):
        return value
    import tensorflow as tf

    try:
        data = base64.b64decode(value["b64"], validate=True)
        channels = spec[1][-1] if spec and spec[1] and spec[1][-1] in (1, 3, 4) else 0
        image = tf.io.decode_image(data, channels=channels or 0, expand_animations=False)
    except Exception:  # noqa: BLE001  (any undecodable input is the client's)
        raise BadRequest("a 'b64' value is not an encoded JPEG, PNG, BMP or GIF image") from None
    return image.numpy()


def _v1_signature_defs(loaded):
    def tensor(name, spec):
        dtype, shape = spec
        return {
            "dtype": DTYPES.get(dtype, (None, "DT_INVALID"))[1],
            "tensor_shape": {
                "dim": [{"size": str(-1 if d is None else d), "name": ""} for d in shape],
                "unknown_rank": False,
            },
            "name": name,
        }

    return {
        key: {
            "inputs": {k: tensor(k, s) for k, s in sig.inputs.items()},
            "outputs": {k: tensor(k, s) for k, s in sig.outputs.items()},
            "method_name": "tensorflow/serving/predict",
        }
        for key, sig in loaded.signatures.items()
    }


def _v2_tensor(name, spec):
    dtype, shape = spec
    return {
        "name": name,
        "datatype": DTYPES.get(dtype, (None, None, "BYTES"))[2],
        "shape": [-1 if d is None else d for d in shape],
    }


def serve(
    root="saved_models",
    *,
    host="127.0.0.1",
    port=8501,
    max_request_bytes=None,
    batching=False,
    max_batch_size=32,
    batch_timeout_ms=0.0,
    num_batch_threads=None,
    intra_op_parallelism=0,
    inter_op_parallelism=0,
):
    """Runs the server until interrupted (uvicorn). The parallelism arguments set
    TensorFlow's thread pools (0: TensorFlow's default, a thread per core each)."""
    import tensorflow as tf
    import uvicorn

    tf.config.threading.set_intra_op_parallelism_threads(intra_op_parallelism)
    tf.config.threading.set_inter_op_parallelism_threads(inter_op_parallelism)

    batcher = (
        Batcher(max_batch_size, batch_timeout_ms / 1000, num_batch_threads) if batching else None
    )
    app = create_app(
        root, max_request_bytes=max_request_bytes or DEFAULT_MAX_REQUEST_BYTES, batching=batcher
    )
    uvicorn.run(app, host=host, port=port, log_level="warning")
