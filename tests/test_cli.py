import pathlib

import pytest

import zoo
from zoo import cli

README = pathlib.Path(__file__).resolve().parents[1] / "README.md"


def test_list_shows_every_registered_model(capsys):
    assert cli.main(["list"]) == 0
    listed = capsys.readouterr().out.split()
    assert listed == zoo.list_models()
    assert {"lenet5", "lenet5_modern", "ae/conv", "ae/ksparse"} <= set(listed)


def test_recipes_have_a_description(capsys):
    assert cli.main(["recipes"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert {line.split()[0] for line in lines} >= {
        "lenet5",
        "quickstart",
        "autoencoder",
        "ae_vs_pca",
        "anomaly",
    }
    assert all(len(line.split(maxsplit=1)) == 2 for line in lines)


def test_run_passes_arguments_to_the_recipe(in_tmp, capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["run", "lenet5", "--help"])
    assert exit_info.value.code == 0
    assert "--augment" in capsys.readouterr().out


def test_unknown_recipe(capsys):
    assert cli.main(["run", "nope"]) == 2
    assert "Received: 'nope'" in capsys.readouterr().err


def test_readme_model_table_is_the_registrys():
    assert cli.model_table() in README.read_text()
