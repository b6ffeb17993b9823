"""The `zoo` command.

zoo list [PATTERN] [--markdown]    registered models (glob PATTERN, e.g. "lenet*")
zoo recipes                        recipes with a one-line description each
zoo run RECIPE [ARGS...]           run a recipe, e.g. `zoo run quickstart`
zoo weights                        checkpoints shipped with zoo (`weights="mnist"`, ...)
zoo exports [ROOT]                 exported models: versions, dataset, metric, date
zoo serve [ROOT] [--port 8501]     serve them: TF Serving REST and KServe v2 (".[serve]")
zoo launch --workers N -- CMD...   N local multi-worker processes of CMD, TF_CONFIG set

`zoo --help`, `zoo list`, `zoo recipes` and `zoo weights` start without importing
TensorFlow. Errors are
one line and exit with status 2; `--debug` (or `ZOO_DEBUG=1`) shows the traceback.
"""

import argparse
import ast
import importlib
import importlib.util
import inspect
import os
import pkgutil
import sys

RECIPES_PACKAGE = "zoo.recipes"  # the repository's recipes/ folder, installed in zoo
# zoo serve's TensorFlow threads per pool: TensorFlow's default pools (a thread per core)
# spin for work and take the cores the event loop needs (docs/RESULTS.md, "Serving")
SERVE_THREADS = 1


def recipe_names():
    """The runnable recipes: modules of `zoo.recipes`, without private ones."""
    package = importlib.import_module(RECIPES_PACKAGE)
    return sorted(m.name for m in pkgutil.iter_modules(package.__path__) if m.name[0] != "_")


def recipe_summary(name):
    """First line of a recipe's docstring, read without importing it (fast)."""
    spec = importlib.util.find_spec(f"{RECIPES_PACKAGE}.{name}")
    with open(spec.origin) as f:
        doc = ast.get_docstring(ast.parse(f.read())) or ""
    return doc.splitlines()[0] if doc else ""


def model_table():
    """The registry as a markdown table: name, summary, parameters with default arguments."""
    import zoo
    from zoo.registry import describe_model, get_model_factory

    rows = ["| model | description | parameters |", "| --- | --- | --- |"]
    for name in zoo.list_models():
        # Counted with the default arguments; without pretrained weights (same count).
        takes_weights = "weights" in inspect.signature(get_model_factory(name)).parameters
        params = zoo.create_model(name, **({"weights": None} if takes_weights else {}))
        params = params.count_params()
        rows.append(f"| `{name}` | {describe_model(name)} | {params:,} |")
    return "\n".join(rows)


def build_parser():
    parser = argparse.ArgumentParser(
        prog="zoo",
        description=__doc__.splitlines()[0],
        epilog="zoo run RECIPE --help shows a recipe's options and their defaults.",
    )
    parser.add_argument("--debug", action="store_true", help="show tracebacks (or set ZOO_DEBUG=1)")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    listing = commands.add_parser("list", help="registered models")
    listing.add_argument("pattern", nargs="?", default="*", help='glob, e.g. "lenet*"')
    listing.add_argument("--markdown", action="store_true", help="the README's model table")
    commands.add_parser("recipes", help="recipes with a one-line description each")
    commands.add_parser(
        "weights", help='checkpoints shipped with zoo: create_model(MODEL, weights="NAME")'
    )
    exports = commands.add_parser(
        "exports", help="exported models under ROOT: versions, dataset, metric, date"
    )
    exports.add_argument(
        "root", nargs="?", default="saved_models", help="export root (default: saved_models)"
    )
    serving = commands.add_parser(
        "serve", help="serve the exports under ROOT (TF Serving REST and KServe v2 protocols)"
    )
    serving.add_argument(
        "root", nargs="?", default="saved_models", help="export root (default: saved_models)"
    )
    serving.add_argument(
        "--host", default="127.0.0.1", help="address to bind (default: loopback only)"
    )
    serving.add_argument("--port", type=int, default=8501, help="port (default: 8501)")
    serving.add_argument(
        "--max-request-bytes",
        type=int,
        default=16 * 2**20,
        help="larger request bodies get 413 (default: 16 MiB)",
    )
    serving.add_argument(
        "--batching",
        action="store_true",
        help="merge concurrent requests into one call (as TF Serving's --enable_batching)",
    )
    serving.add_argument(
        "--max-batch-size", type=int, default=32, help="--batching: examples per call"
    )
    serving.add_argument(
        "--num-batch-threads",
        type=int,
        default=os.cpu_count() or 1,
        help="--batching: calls per model at once (default: one per core)",
    )
    serving.add_argument(
        "--batch-timeout-ms",
        type=float,
        default=0.0,
        help="--batching: how long a call waits for more requests (default 0: batches "
        "form while the previous call runs)",
    )
    for kind, within in (("intra", "within one op"), ("inter", "running ops side by side")):
        serving.add_argument(
            f"--{kind}-op-parallelism",
            type=int,
            default=SERVE_THREADS,
            help=f"TensorFlow's threads {within}, as TF Serving's "
            f"--tensorflow_{kind}_op_parallelism; 0 lets TensorFlow choose (default: "
            f"{SERVE_THREADS})",
        )
    launch = commands.add_parser(
        "launch",
        help="run N local workers of a command, each with its TF_CONFIG (loopback ports)",
        description="e.g. zoo launch --workers 2 -- python -m recipes.lenet5 --strategy "
        "multiworker",
    )
    launch.add_argument("--workers", type=int, required=True, help="worker processes")
    launch.add_argument("--timeout", type=float, help="seconds before the workers are stopped")
    launch.add_argument(
        "worker_command", nargs=argparse.REMAINDER, metavar="-- COMMAND", help="what each runs"
    )
    run = commands.add_parser("run", help="run a recipe: zoo run RECIPE [ARGS...]", add_help=False)
    run.add_argument("recipe", help="a recipe name, as `zoo recipes` lists them")
    run.add_argument("args", nargs=argparse.REMAINDER, help="the recipe's own options")
    return parser


def main(argv=None):
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # TensorFlow's start-up chatter
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command == "recipes":
        names = recipe_names()
        width = max(map(len, names))
        for name in names:
            print(f"{name:<{width}}  {recipe_summary(name)}")
        return 0
    if args.command == "weights":
        from zoo.pretrained import table

        print_table(table())
        return 0
    if args.command == "serve":
        return serve(parser, args)
    if args.command == "exports":
        return print_exports(parser, args.root)
    if args.command == "launch":
        return launch(parser, args)
    if args.command == "list":
        from zoo.registry import list_models

        names = list_models(args.pattern)
        if not names:
            parser.error(f"no model matches {args.pattern!r}. Models: {', '.join(list_models())}")
        if args.markdown:
            if args.pattern != "*":
                parser.error("--markdown lists every model; give no PATTERN with it")
            print(model_table())
            return 0
        print("\n".join(names))
        return 0
    names = recipe_names()
    if args.recipe not in names:
        parser.error(f"unknown recipe {args.recipe!r}. Recipes: {', '.join(names)}")
    recipe = importlib.import_module(f"{RECIPES_PACKAGE}.{args.recipe}")
    recipe_argv = [*args.args, *(["--debug"] if args.debug else [])]
    return recipe.cli(recipe_argv)


def serve(parser, args):
    """`zoo serve`: the ASGI server (needs the serve extra: starlette, uvicorn)."""
    if not 0 < args.port < 65536:
        parser.error(f"--port must be in [1, 65535]. Received: {args.port}")
    if args.max_batch_size < 1 or args.num_batch_threads < 1 or not args.batch_timeout_ms >= 0:
        parser.error(
            "--max-batch-size and --num-batch-threads must be >= 1 and --batch-timeout-ms "
            f">= 0. Received: {args.max_batch_size}, {args.num_batch_threads}, "
            f"{args.batch_timeout_ms}"
        )
    if args.max_request_bytes < 1:
        parser.error(f"--max-request-bytes must be >= 1. Received: {args.max_request_bytes}")
    for kind in ("intra", "inter"):
        threads = getattr(args, f"{kind}_op_parallelism")
        if threads < 0:
            parser.error(f"--{kind}-op-parallelism must be >= 0. Received: {threads}")
    try:
        from zoo.serving.app import serve as run
    except ImportError as error:
        parser.error(f'zoo serve needs the serve extra: pip install "keras-zoo[serve]" ({error})')
    try:
        run(
            args.root,
            host=args.host,
            port=args.port,
            max_request_bytes=args.max_request_bytes,
            batching=args.batching,
            max_batch_size=args.max_batch_size,
            batch_timeout_ms=args.batch_timeout_ms,
            num_batch_threads=args.num_batch_threads,
            intra_op_parallelism=args.intra_op_parallelism,
            inter_op_parallelism=args.inter_op_parallelism,
        )
    except FileNotFoundError as error:
        parser.error(str(error))
    return 0


def launch(parser, args):
    """`zoo launch`: `zoo.distribute.launch` (TensorFlow loads in the workers only)."""
    from zoo import _checks, distribute

    command = args.worker_command[1:] if args.worker_command[:1] == ["--"] else args.worker_command
    if not command:
        parser.error("zoo launch needs the command to run after --")
    try:
        _checks.check_int("--workers", args.workers, low=1, high=distribute.MAX_LOCAL_WORKERS)
        if args.timeout is not None:
            _checks.check_float("--timeout", args.timeout, low=0, low_open=True)
        return distribute.launch(args.workers, command, timeout=args.timeout)
    except ValueError as error:
        parser.error(str(error))
    except FileNotFoundError:
        parser.error(f"no such program: {command[0]!r}")
    except KeyboardInterrupt:  # the workers are stopped by then
        return 130


def print_exports(parser, root):
    """`zoo exports`: one line per complete version, as a table."""
    from zoo.serving.layout import list_exports

    try:
        rows = list_exports(root)
    except FileNotFoundError as error:
        parser.error(str(error))
    if not rows:
        print(f"no exported model under {root}")
        return 0
    table = [("model", "version", "dataset", "metric", "created")]
    for row in rows:
        metric = f"{row['metric'][0]} {row['metric'][1]:.4g}" if row["metric"] else "-"
        dataset = row["dataset"] or "-"
        if row["smoke"]:
            dataset += " (smoke)"
        table.append((row["name"], str(row["version"]), dataset, metric, row["created"] or "-"))
    print_table(table)
    return 0


def print_table(rows):
    """Prints rows of strings as left-aligned columns."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        cells = (cell.ljust(width) for cell, width in zip(row, widths, strict=True))
        print("  ".join(cells).rstrip())


if __name__ == "__main__":
    sys.exit(main())
