"""The `zoo` command and the recipes' command line: listing, errors, help, logs, startup."""

import ast
import configparser
import importlib
import os
import pathlib
import subprocess
import sys

import pytest

import zoo
from zoo import cli, registry

REPO = pathlib.Path(__file__).resolve().parents[1]
README = REPO / "README.md"
RECIPES = REPO / "recipes"
RECIPE_NAMES = sorted(p.stem for p in RECIPES.glob("*.py") if not p.name.startswith("_"))


def _recipe(name):
    return importlib.import_module(f"recipes.{name}")


def test_list_shows_every_registered_model(capsys):
    assert cli.main(["list"]) == 0
    listed = capsys.readouterr().out.split()
    assert listed == zoo.list_models()
    assert {"lenet5", "lenet5_modern", "ae/conv", "ae/ksparse"} <= set(listed)


def test_the_builtin_table_is_what_the_model_modules_register():
    for module in set(registry.BUILTIN_MODELS.values()):
        importlib.import_module(module)
    registered = {name: f.__module__ for name, f in registry._MODELS.items()}
    assert {n: registered[n] for n in registry.BUILTIN_MODELS} == registry.BUILTIN_MODELS
    assert set(registered) == set(registry.BUILTIN_MODELS)  # none missing from the table


def test_recipes_have_a_description(capsys):
    assert cli.main(["recipes"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert [line.split()[0] for line in lines] == RECIPE_NAMES  # every recipe, none other
    assert {"lenet5", "quickstart", "autoencoder", "ae_vs_pca", "anomaly"} <= set(RECIPE_NAMES)
    for line in lines:  # the first line of the recipe's docstring
        name, description = line.split(maxsplit=1)
        assert description == _recipe(name).__doc__.strip().splitlines()[0], name


def test_run_passes_arguments_to_the_recipe(in_tmp, capsys, monkeypatch):
    from zoo.recipes import lenet5

    with pytest.raises(SystemExit) as exit_info:
        cli.main(["run", "lenet5", "--help"])
    assert exit_info.value.code == 0
    assert "--augment" in capsys.readouterr().out  # the recipe's own parser answered
    seen = []
    monkeypatch.setattr(lenet5, "cli", seen.append)
    cli.main(["run", "lenet5", "--epochs", "3", "--smoke"])
    assert seen == [["--epochs", "3", "--smoke"]]  # unchanged, in order
    cli.main(["--debug", "run", "lenet5", "--smoke"])
    assert seen[-1] == ["--smoke", "--debug"]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["run", "nope"], "unknown recipe 'nope'. Recipes: adversarial, ae_vs_pca, anomaly"),
        (["list", "nothing*"], "no model matches 'nothing*'. Models: ae/contractive"),
        (["lust"], "invalid choice: 'lust'"),
    ],
)
def test_zoo_errors_are_one_line_listing_the_valid_names(argv, message, capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(argv)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("zoo: error: ") and message in err[-1]


def test_help_list_and_recipes_import_no_tensorflow():
    """The listing commands (`weights` too) answer without TensorFlow; TF stays unloaded."""
    code = (
        "import sys, contextlib, io\n"
        "from zoo import cli\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        "    cli.main(['list']); cli.main(['recipes']); cli.main(['exports', '.'])\n"
        "    cli.main(['weights'])\n"
        "    try:\n"
        "        cli.main(['--help'])\n"
        "    except SystemExit:\n"
        "        pass\n"
        "heavy = ('tensorflow', 'keras', 'tensorflow_datasets')\n"
        "print(sorted(m for m in heavy if m in sys.modules))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=REPO
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def test_zoo_run_works_from_any_folder(tmp_path):
    """The recipes are installed inside zoo (zoo.recipes), not only in the checkout."""
    out = subprocess.run(
        [sys.executable, "-m", "zoo.cli", "run", "quickstart", "--help"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": ""},
    )
    assert out.returncode == 0, out.stderr
    assert "usage: zoo run quickstart" in out.stdout and "(default: digits)" in out.stdout


def test_setup_cfg_installs_every_package_and_maps_the_recipes_into_zoo():
    config = configparser.ConfigParser()
    config.read(REPO / "setup.cfg")
    packages = config["options"]["packages"].split()
    on_disk = sorted(
        ".".join(p.parent.relative_to(REPO).parts) for p in (REPO / "zoo").rglob("__init__.py")
    )
    assert sorted(set(packages) - {"zoo.recipes"}) == on_disk
    assert config["options"]["package_dir"].split() == ["zoo.recipes", "=", "recipes"]
    assert config["metadata"]["name"] == "keras-zoo"  # `zoo` on PyPI is another project


# --- the recipes' command line ---------------------------------------------------------


@pytest.mark.parametrize("name", RECIPE_NAMES)
def test_every_recipe_option_has_help_showing_its_default(name):
    parser = _recipe(name).build_parser()
    text = parser.format_help()
    assert text.startswith(f"usage: zoo run {name}")
    for action in parser._actions:
        if action.dest == "help":
            continue
        assert action.help, f"{name}: {action.option_strings} has no help"
        if action.default not in (None, False, argparse_suppress()):
            assert f"(default: {action.default})" in " ".join(text.split()), (
                name,
                action.option_strings,
            )


def argparse_suppress():
    import argparse

    return argparse.SUPPRESS


@pytest.mark.parametrize(
    ("argv", "line"),
    [
        (["--epochs", "0"], "argument --epochs: expected an int >= 1, got '0'"),
        (["--learning-rate", "nan"], "argument --learning-rate: expected a finite number > 0"),
        (["--batch-size", "x"], "argument --batch-size: expected an int >= 1, got 'x'"),
        (["--dropout", "1"], "argument --dropout: expected a finite number >= 0 and < 1"),
        (["--dataset", "mnsit"], "Received: --dataset='mnsit'. Did you mean: mnist"),
    ],
)
def test_bad_options_are_one_argparse_line_with_status_2(argv, line, capsys):
    from recipes import lenet5

    with pytest.raises(SystemExit) as exit_info:
        lenet5.cli(argv)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert err.strip().splitlines()[-1].startswith("zoo run lenet5: error: ")
    assert line in err


def test_run_errors_are_one_line_unless_debugging(in_tmp, capsys, monkeypatch):
    from recipes import lenet5

    argv = ["--smoke", "--dataset", "digits", "--model", "lenet5", "--dropout", "0.3"]
    assert lenet5.cli([*argv, "--no-export"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("zoo run lenet5: error: --batch-norm and")
    with pytest.raises(ValueError, match="lenet5_modern only"):
        lenet5.cli([*argv, "--output-dir", "b", "--debug"])
    monkeypatch.setenv("ZOO_DEBUG", "1")
    with pytest.raises(ValueError, match="lenet5_modern only"):
        lenet5.cli([*argv, "--output-dir", "c"])


def test_parsed_options_are_read_only():
    from recipes import _common, lenet5

    options = _common.parse(lenet5.build_parser(), ["--epochs", "3"])
    assert options.epochs == 3
    with pytest.raises(AttributeError, match="read-only"):
        options.epochs = 4
    config = _common.training_config(options)
    assert (config.epochs, config.batch_size, config.export) == (3, 128, True)


def _imported_recipe_modules(tree):
    """The `recipes` modules a module's imports name (relative or absolute)."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "recipes" or alias.name.startswith("zoo.recipes"):
                    yield alias.name.rsplit(".", 1)[-1]
        elif isinstance(node, ast.ImportFrom):
            module = node.module or ""
            if node.level == 0 and not module.startswith(("recipes", "zoo.recipes")):
                continue
            if module in ("", "recipes", "zoo.recipes"):
                yield from (alias.name for alias in node.names)  # from . import x
            else:
                yield module.rsplit(".", 1)[-1]


def test_no_recipe_imports_another_or_rebuilds_a_namespace():
    for path in sorted(RECIPES.glob("*.py")):
        tree = ast.parse(path.read_text())
        imported = set(_imported_recipe_modules(tree))
        assert all(name.startswith("_") for name in imported), (path.name, imported)
        names = {n.attr for n in ast.walk(tree) if isinstance(n, ast.Attribute)}
        if path.name != "_common.py":  # which defines the read-only Options
            assert "Namespace" not in names, f"{path.name} builds an argparse.Namespace"
    # the check sees an import of a recipe
    assert set(_imported_recipe_modules(ast.parse("from recipes import lenet5"))) == {"lenet5"}
    assert set(_imported_recipe_modules(ast.parse("from .rbm import x"))) == {"rbm"}


def test_piped_output_is_one_line_per_epoch(in_tmp, capsys):
    from recipes import lenet5

    lenet5.main(["--smoke", "--dataset", "digits", "--no-export", "--output-dir", "run"])
    out = capsys.readouterr().out  # not a terminal: verbose 2
    assert "\r" not in out and "\x08" not in out and "\x1b" not in out
    assert sum("val_loss" in line for line in out.splitlines()) == 1  # one epoch, one line


@pytest.mark.parametrize(
    ("name", "defaults"),
    [
        ("quickstart", {"dataset": "digits", "augment": True, "export_name": "lenet5_digits"}),
        ("ae_vs_pca", {"variant": "deep", "code_size": 32, "loss": "mse"}),
        ("anomaly", {"variant": "conv", "probe_examples": -1, "epochs": 10}),
        ("dbn", {"mean_field_visible": True, "optimizer": "sgd", "hidden": [500, 500, 2000]}),
    ],
)
def test_recipes_built_on_shared_options_keep_their_own_defaults(name, defaults):
    from recipes import _common

    options = _common.parse(_recipe(name).build_parser(), [])
    assert {key: getattr(options, key) for key in defaults} == defaults


def test_exports_lists_complete_versions_with_dataset_metric_and_date(tmp_path, capsys):
    """`zoo exports` reads the layout without TensorFlow; a version being written is
    not listed."""
    import json

    for version, metrics in ((1, {"test_accuracy": 0.9}), (2, {"test_accuracy": 0.95})):
        folder = tmp_path / "lenet5_digits" / str(version)
        folder.mkdir(parents=True)
        (folder / "saved_model.pb").write_bytes(b"")
        metadata = {"dataset": "digits", "metrics": metrics, "created": f"2026-12-0{version}"}
        (folder / "metadata.json").write_text(json.dumps(metadata))
    (tmp_path / "lenet5_digits" / "3").mkdir()  # no saved_model.pb: not complete
    (tmp_path / "lenet5_digits" / ".claim-4").mkdir()  # being written
    assert cli.main(["exports", str(tmp_path)]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0].split() == ["model", "version", "dataset", "metric", "created"]
    assert [line.split() for line in lines[1:]] == [
        ["lenet5_digits", "1", "digits", "test_accuracy", "0.9", "2026-12-01"],
        ["lenet5_digits", "2", "digits", "test_accuracy", "0.95", "2026-12-02"],
    ]
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["exports", str(tmp_path / "nowhere")])
    assert exit_info.value.code == 2
    assert "root must be an export folder" in capsys.readouterr().err
