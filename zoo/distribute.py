"""Training on several devices or machines with `tf.distribute`: strategies, `TF_CONFIG`,
worker roles, and local multi-worker launches.

Three strategies, by name (`make_strategy`):

- `"default"`: TensorFlow's default strategy, one device.
- `"mirrored"`: `tf.distribute.MirroredStrategy` on one machine: a replica on every
  visible GPU; without GPUs, a replica on every logical CPU device when the CPU has been
  split into several (`logical_cpus`, or `ZOO_LOGICAL_CPUS=N` in the environment, for
  trying data parallelism on a laptop), else one replica on the CPU.
- `"multiworker"`: `tf.distribute.MultiWorkerMirroredStrategy` across processes or
  machines, configured by the `TF_CONFIG` environment variable (as Kubeflow's TFJob sets
  it), with the workaround Keras 3 needs (`zoo/_keras_multiworker.py`). Each worker runs
  the same program; `worker_role()` says which one this is. It must be made before
  TensorFlow runs anything.

Batch size and learning rate: the batch size a user sets is the GLOBAL batch, the
examples of one optimizer step over all replicas; each replica computes the gradient of
`batch_size / replicas(strategy)` of them (`per_replica_batch_size`), and the gradients
are averaged. So the same settings give the same training (up to the order of floating
point sums) on 1 or 8 replicas. The learning rate is never scaled automatically. To keep
the per-replica batch when adding replicas, multiply the batch size by the replicas and,
as advice, the learning rate by the same factor (the linear scaling rule, Goyal et al.
2017, "Accurate, Large Minibatch SGD"), with a few epochs of warm-up for large factors.

A `TF_CONFIG` for two machines, the same on both but for `task.index`:

    {"cluster": {"worker": ["host1:12345", "host2:12345"]},
     "task": {"type": "worker", "index": 0}}

On one machine, `launch(2, ["python", "-m", "recipes.lenet5", "--strategy",
"multiworker"])` (or `zoo launch --workers 2 -- ...`) runs both workers on loopback
ports with generated `TF_CONFIG`s.
"""

import dataclasses
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time

from zoo._checks import check_choice, check_float, check_int

STRATEGIES = ("default", "mirrored", "multiworker")
LOGICAL_CPUS_ENV = "ZOO_LOGICAL_CPUS"  # `mirrored` splits the CPU into this many devices
MAX_LOGICAL_CPUS = 64
MAX_LOCAL_WORKERS = 32  # `launch`: each worker is a whole TensorFlow process
LOOPBACK = "127.0.0.1"
GRACE_SECONDS = 10.0  # `launch`: from SIGTERM to SIGKILL for the workers left running
TIMEOUT_STATUS = 124  # `launch`'s exit status after `timeout`, as coreutils' timeout
_TRAINING_TASKS = ("chief", "worker")


def make_strategy(name="default"):
    """The `tf.distribute` strategy called `name`.

    Args:
        name: One of `STRATEGIES`: "default" (one device), "mirrored" (the GPUs of this
            machine, or its logical CPU devices, see `logical_cpus`) or "multiworker"
            (the cluster in `TF_CONFIG`). Defaults to "default".

    Returns:
        A `tf.distribute.Strategy`: build and compile the model in its `scope()`.

    Raises:
        ValueError: an unknown name; "multiworker" without `TF_CONFIG`, or with a
            malformed one.
        RuntimeError: "multiworker" after TensorFlow has started running operations, or
            `ZOO_LOGICAL_CPUS` set after TensorFlow initialised its devices.

    Example:

    >>> strategy = make_strategy("mirrored")
    >>> with strategy.scope():
    ...     model = zoo.create_model("lenet5")
    ...     model.compile(...)
    """
    check_choice("strategy", name, STRATEGIES)
    if name == "multiworker":
        if not os.environ.get("TF_CONFIG", "").strip():
            raise ValueError(
                "strategy='multiworker' needs the TF_CONFIG environment variable (the cluster "
                "and this worker's task); set it, or run `zoo launch --workers N -- COMMAND`"
            )
        worker_role()  # a malformed TF_CONFIG: one line saying what is wrong
    import tensorflow as tf

    if name == "default":
        return tf.distribute.get_strategy()
    if name == "mirrored":
        if os.environ.get(LOGICAL_CPUS_ENV):
            logical_cpus(_env_logical_cpus())
        if tf.config.list_physical_devices("GPU"):
            return tf.distribute.MirroredStrategy()
        cpus = [device.name for device in tf.config.list_logical_devices("CPU")]
        return tf.distribute.MirroredStrategy(cpus)
    from zoo import _keras_multiworker

    try:
        return _keras_multiworker.strategy()
    except RuntimeError as error:
        if "startup" not in str(error):
            raise
        raise RuntimeError(
            "strategy='multiworker' must be made before TensorFlow runs any operation "
            "(before data, models or seeds): call make_strategy first"
        ) from None


def logical_cpus(n):
    """Splits the CPU into `n` logical devices, so `"mirrored"` gets `n` replicas on it.

    For trying data parallelism without GPUs: the replicas share the same cores, so it
    shows the mechanics, not a speed-up. Must run before TensorFlow initialises its
    devices (before any operation, model or dataset); in a process started by someone
    else (a recipe, a test), set `ZOO_LOGICAL_CPUS=n` instead, which
    `make_strategy("mirrored")` applies.

    Args:
        n: Logical CPU devices, 1 to `MAX_LOGICAL_CPUS`.

    Raises:
        RuntimeError: TensorFlow already initialised its devices with another number of
            CPU devices (calling it again with the same `n` is fine).
    """
    n = check_int("n", n, low=1, high=MAX_LOGICAL_CPUS)
    import tensorflow as tf

    cpu = tf.config.list_physical_devices("CPU")[0]
    try:
        tf.config.set_logical_device_configuration(
            cpu, [tf.config.LogicalDeviceConfiguration() for _ in range(n)]
        )
    except RuntimeError:  # "Virtual devices cannot be modified after being initialized"
        have = len(tf.config.list_logical_devices("CPU"))
        if have != n:
            raise RuntimeError(
                f"logical_cpus({n}) must run before TensorFlow initialises its devices "
                f"(before any operation, model or dataset); this process already has {have} "
                f"CPU device(s). Call it first, or set {LOGICAL_CPUS_ENV}={n} in the "
                "environment"
            ) from None


def _env_logical_cpus():
    value = os.environ[LOGICAL_CPUS_ENV]
    try:
        n = int(value)
    except ValueError:
        n = None
    if n is None or not 1 <= n <= MAX_LOGICAL_CPUS:
        raise ValueError(
            f"{LOGICAL_CPUS_ENV} must be an int >= 1 and <= {MAX_LOGICAL_CPUS}. "
            f"Received: {LOGICAL_CPUS_ENV}={value!r}"
        )
    return n


@dataclasses.dataclass(frozen=True)
class WorkerRole:
    """Which process of a training cluster this is (from `TF_CONFIG`, see `worker_role`).

    Attributes:
        task_type: "chief", "worker", or another `TF_CONFIG` task type ("evaluator").
        index: The task's index among those of its type.
        num_workers: The processes that train: chief and workers together.
        is_chief: Whether this process writes what a run leaves behind (run folder, best
            model, figures, export): the chief, or worker 0 of a cluster without one.
    """

    task_type: str = "chief"
    index: int = 0
    num_workers: int = 1
    is_chief: bool = True

    @property
    def name(self):
        """`"worker-1"`: unique in the cluster, for per-worker folders."""
        return f"{self.task_type}-{self.index}"


def worker_role(tf_config=None):
    """This process's `WorkerRole`, read from `TF_CONFIG`.

    Args:
        tf_config: The JSON text (or the parsed dict) to read; None (default) reads the
            `TF_CONFIG` environment variable. Without one (unset or empty) this is a
            single process: the chief of a one-worker cluster.

    Returns:
        A `WorkerRole`.

    Raises:
        ValueError: a malformed `TF_CONFIG`, in one line saying what is wrong.

    Example:

    >>> worker_role('{"cluster": {"worker": ["a:1", "b:1"]}, "task": {"type": "worker", '
    ...             '"index": 1}}')
    WorkerRole(task_type='worker', index=1, num_workers=2, is_chief=False)
    """
    if tf_config is None:
        tf_config = os.environ.get("TF_CONFIG", "")
    if isinstance(tf_config, str):
        if not tf_config.strip():
            return WorkerRole()
        try:
            tf_config = json.loads(tf_config)
        except json.JSONDecodeError as error:
            raise _bad_tf_config(f"is not valid JSON ({error})", tf_config) from None
    if not isinstance(tf_config, dict):
        raise _bad_tf_config("must be a JSON object with 'cluster' and 'task'", tf_config)
    cluster, task = tf_config.get("cluster"), tf_config.get("task")
    if not isinstance(cluster, dict) or not cluster:
        raise _bad_tf_config("needs 'cluster', an object of task type -> addresses", tf_config)
    for task_type, addresses in cluster.items():
        if not isinstance(addresses, list) or not all(isinstance(a, str) for a in addresses):
            raise _bad_tf_config(f"cluster[{task_type!r}] must be a list of 'host:port'", tf_config)
    if len(cluster.get("chief", [])) > 1:
        raise _bad_tf_config("cluster['chief'] must hold one address at most", tf_config)
    num_workers = sum(len(cluster.get(t, [])) for t in _TRAINING_TASKS)
    if not num_workers:
        raise _bad_tf_config("cluster has no 'chief' or 'worker' task", tf_config)
    if not isinstance(task, dict) or not isinstance(task.get("type"), str):
        raise _bad_tf_config("needs 'task', an object with 'type' and 'index'", tf_config)
    task_type, index = task["type"], task.get("index", 0)
    if isinstance(index, bool) or not isinstance(index, int) or index < 0:
        raise _bad_tf_config(f"task index must be an int >= 0, not {index!r}", tf_config)
    if task_type != "evaluator" and index >= len(cluster.get(task_type, [])):
        raise _bad_tf_config(
            f"task {task_type!r} {index} is not in the cluster "
            f"({len(cluster.get(task_type, []))} {task_type!r} address(es))",
            tf_config,
        )
    is_chief = task_type == "chief" or (
        task_type == "worker" and index == 0 and "chief" not in cluster
    )
    return WorkerRole(task_type, index, num_workers, is_chief)


def _bad_tf_config(problem, value):
    text = value if isinstance(value, str) else json.dumps(value, default=repr)
    text = " ".join(text.split())
    if len(text) > 200:
        text = text[:197] + "..."
    return ValueError(f"TF_CONFIG {problem}. Received: TF_CONFIG={text!r}")


def replicas(strategy):
    """The replicas a step is split over: `strategy.num_replicas_in_sync`.

    The batch size a user sets is the global one (all replicas); see the module's
    docstring for the batch-size and learning-rate rules.
    """
    return int(strategy.num_replicas_in_sync)


def per_replica_batch_size(batch_size, strategy):
    """The examples each replica sees of a global batch of `batch_size`.

    Args:
        batch_size: The global batch size: examples per optimizer step, all replicas.
        strategy: A `tf.distribute.Strategy` (or the number of replicas, an int).

    Returns:
        `batch_size // replicas`.

    Raises:
        ValueError: `batch_size` is not a multiple of the replicas (they would get
            different numbers of examples); the message names the nearest multiples.
    """
    n = strategy if isinstance(strategy, int) else replicas(strategy)
    batch_size = check_int("batch_size", batch_size, low=1)
    if batch_size % n:
        lower, upper = batch_size // n * n, (batch_size // n + 1) * n
        suggestion = f"{lower} or {upper}" if lower else f"{upper}"
        raise ValueError(
            f"batch_size is the global batch and must be a multiple of the {n} replicas "
            f"(e.g. {suggestion}). Received: batch_size={batch_size}"
        )
    return batch_size // n


def free_ports(n, host=LOOPBACK):
    """`n` distinct TCP ports free on `host` at the time of the call."""
    sockets = []
    try:
        for _ in range(n):
            s = socket.socket()
            sockets.append(s)
            s.bind((host, 0))
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def local_tf_configs(workers, host=LOOPBACK):
    """The `TF_CONFIG` (a dict) of each of `workers` local workers on free `host` ports."""
    workers = check_int("workers", workers, low=1, high=MAX_LOCAL_WORKERS)
    cluster = {"worker": [f"{host}:{port}" for port in free_ports(workers, host)]}
    return [{"cluster": cluster, "task": {"type": "worker", "index": i}} for i in range(workers)]


def launch(workers, command, *, timeout=None, grace=GRACE_SECONDS, env=None, output=None):
    """Runs `workers` local processes of `command`, a multi-worker cluster on loopback.

    Each process gets a `TF_CONFIG` naming all of them (free ports on 127.0.0.1, nothing
    listens beyond this machine) and its own task index. Their output (stdout and stderr
    together) is printed line by line, each line prefixed `[worker I] `. When one exits
    with a failure, the others are stopped (SIGTERM, then SIGKILL after `grace`
    seconds): a multi-worker cluster cannot go on without it. The workers are always
    stopped before this returns or raises (Ctrl-C included).

    Args:
        workers: The number of processes, 1 to `MAX_LOCAL_WORKERS`.
        command: The program and its arguments, a list of strings, e.g.
            `["python", "-m", "recipes.lenet5", "--strategy", "multiworker"]`.
        timeout: Seconds to wait for the workers before stopping them; None (default)
            waits for as long as they run.
        grace: Seconds between SIGTERM and SIGKILL. Defaults to `GRACE_SECONDS`.
        env: Extra environment variables for the workers (the rest is inherited).
        output: A text stream for the workers' lines; defaults to `sys.stdout`.

    Returns:
        The exit status: 0 when every worker succeeded, else the first failure's (a
        worker killed by signal S gives 128 + S), or `TIMEOUT_STATUS` after `timeout`.

    Raises:
        FileNotFoundError: the program does not exist (no worker is left running).
    """
    if isinstance(command, str) or not isinstance(command, (list, tuple)):
        raise TypeError(
            "command must be a list of strings (program and arguments). "
            f"Received: command={command!r} of type {type(command).__name__}"
        )
    if not command or not all(isinstance(arg, str) for arg in command):
        raise ValueError(
            f"command must be a non-empty list of strings. Received: command={command!r}"
        )
    if timeout is not None:
        timeout = check_float("timeout", timeout, low=0, low_open=True)
    grace = check_float("grace", grace, low=0)
    configs = local_tf_configs(workers)
    output = output or sys.stdout
    lock = threading.Lock()
    procs, readers = [], []
    try:
        for index, tf_config in enumerate(configs):
            child_env = {**os.environ, **(env or {}), "TF_CONFIG": json.dumps(tf_config)}
            child_env["PYTHONUNBUFFERED"] = "1"  # lines as they come, not at exit
            proc = subprocess.Popen(
                list(command),
                env=child_env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
                errors="replace",
                start_new_session=True,  # its own process group: stopped with its children
            )
            procs.append(proc)
            reader = threading.Thread(
                target=_copy_lines, args=(proc.stdout, f"[worker {index}] ", output, lock)
            )
            reader.daemon = True
            reader.start()
            readers.append(reader)
        status = _wait(procs, timeout, output, lock)
    finally:
        _stop(procs, grace)
        for reader in readers:
            reader.join(timeout=5)
    return status


def _copy_lines(stream, prefix, output, lock):
    with stream:
        for line in stream:
            with lock:
                output.write(prefix + line if line.endswith("\n") else f"{prefix}{line}\n")
                output.flush()


def _say(output, lock, message):
    with lock:
        output.write(f"[launch] {message}\n")
        output.flush()


def _wait(procs, timeout, output, lock):
    """Waits until all succeed, one fails or time runs out; returns the exit status."""
    deadline = None if timeout is None else time.monotonic() + timeout
    while True:
        codes = [proc.poll() for proc in procs]
        for index, code in enumerate(codes):
            if code not in (None, 0):
                status = 128 - code if code < 0 else code
                running = sum(c is None for c in codes)
                message = f"worker {index} exited with status {status}"
                _say(output, lock, f"{message}; stopping the {running} still running")
                return status
        if all(code == 0 for code in codes):
            return 0
        if deadline is not None and time.monotonic() > deadline:
            _say(output, lock, f"timeout after {timeout:g} s; stopping the workers")
            return TIMEOUT_STATUS
        time.sleep(0.05)


def _stop(procs, grace):
    """SIGTERM to each running worker's process group, SIGKILL after `grace` seconds."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        running = [proc for proc in procs if proc.poll() is None]
        for proc in running:
            try:
                os.killpg(proc.pid, sig)  # the group is the worker's: start_new_session
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + (grace if sig == signal.SIGTERM else 30)
        for proc in running:
            try:
                proc.wait(timeout=max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                pass
