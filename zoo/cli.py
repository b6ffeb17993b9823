"""The `zoo` command.

zoo list [PATTERN] [--markdown]    registered models (glob PATTERN, e.g. "lenet*")
zoo recipes                        recipes with a one-line description each
zoo run RECIPE [ARGS...]           run a recipe, e.g. `zoo run quickstart`
"""

import argparse
import ast
import importlib
import importlib.util
import inspect
import os
import pkgutil
import sys


def recipe_names():
    """The runnable recipes: modules of the `recipes` package, without private ones."""
    import recipes

    return sorted(m.name for m in pkgutil.iter_modules(recipes.__path__) if not m.name[0] == "_")


def recipe_summary(name):
    """First line of a recipe's docstring, read without importing it (fast)."""
    spec = importlib.util.find_spec(f"recipes.{name}")
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
    parser = argparse.ArgumentParser(prog="zoo", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    listing = commands.add_parser("list", help="registered models")
    listing.add_argument("pattern", nargs="?", default="*", help='glob, e.g. "lenet*"')
    listing.add_argument("--markdown", action="store_true", help="the README's model table")
    commands.add_parser("recipes", help="recipes with a one-line description each")
    run = commands.add_parser("run", help="run a recipe: zoo run RECIPE [ARGS...]")
    run.add_argument("recipe")
    run.add_argument("args", nargs=argparse.REMAINDER, help="the recipe's own options")
    return parser


def main(argv=None):
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # TensorFlow's start-up chatter
    args = build_parser().parse_args(argv)
    if args.command == "recipes":
        names = recipe_names()
        width = max(map(len, names))
        for name in names:
            print(f"{name:<{width}}  {recipe_summary(name)}")
        return 0
    if args.command == "list":
        if args.markdown:
            print(model_table())
            return 0
        import zoo

        for name in zoo.list_models(args.pattern):
            print(name)
        return 0
    if args.recipe not in recipe_names():
        print(
            f"zoo: unknown recipe. Received: {args.recipe!r}. Recipes: {', '.join(recipe_names())}",
            file=sys.stderr,
        )
        return 2
    importlib.import_module(f"recipes.{args.recipe}").main(args.args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
