import importlib
import pathlib

import pytest

import zoo
from zoo import cli

README = pathlib.Path(__file__).resolve().parents[1] / "README.md"
RECIPES = README.parent / "recipes"


def test_list_shows_every_registered_model(capsys):
    assert cli.main(["list"]) == 0
    listed = capsys.readouterr().out.split()
    assert listed == zoo.list_models()
    assert {"lenet5", "lenet5_modern", "ae/conv", "ae/ksparse"} <= set(listed)


def test_recipes_have_a_description(capsys):
    assert cli.main(["recipes"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    on_disk = sorted(p.stem for p in RECIPES.glob("*.py") if not p.name.startswith("_"))
    assert [line.split()[0] for line in lines] == on_disk  # every recipe, none other
    assert {"lenet5", "quickstart", "autoencoder", "ae_vs_pca", "anomaly"} <= set(on_disk)
    for line in lines:  # the first line of the recipe's docstring
        name, description = line.split(maxsplit=1)
        doc = importlib.import_module(f"recipes.{name}").__doc__
        assert description == doc.strip().splitlines()[0], name


def test_run_passes_arguments_to_the_recipe(in_tmp, capsys, monkeypatch):
    from recipes import lenet5

    with pytest.raises(SystemExit) as exit_info:
        cli.main(["run", "lenet5", "--help"])
    assert exit_info.value.code == 0
    assert "--augment" in capsys.readouterr().out  # the recipe's own parser answered
    seen = []
    monkeypatch.setattr(lenet5, "main", seen.append)
    assert cli.main(["run", "lenet5", "--epochs", "3", "--smoke"]) == 0
    assert seen == [["--epochs", "3", "--smoke"]]  # unchanged, in order


def test_unknown_recipe(capsys):
    assert cli.main(["run", "nope"]) == 2
    assert "Received: 'nope'" in capsys.readouterr().err


def test_readme_model_table_is_the_registrys():
    assert cli.model_table() in README.read_text()
