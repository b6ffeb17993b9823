import pytest

import zoo
from zoo import registry


def test_list_models_is_sorted_and_globbed():
    names = zoo.list_models()
    assert names == sorted(names)
    assert {"lenet5", "lenet5_modern"} <= set(names)
    assert zoo.list_models("lenet5_*") == ["lenet5_modern"]
    assert zoo.list_models("nothing*") == []


def test_create_model_returns_an_uncompiled_model():
    model = zoo.create_model("lenet5", classes=3)
    assert model.output_shape == (None, 3)
    assert not model.compiled


def test_unknown_name_lists_the_closest_names():
    with pytest.raises(ValueError, match=r"name='lenet'.*Did you mean: lenet5"):
        zoo.create_model("lenet")


def test_registering_a_taken_name_raises():
    with pytest.raises(ValueError, match="already registered"):
        registry.register_model(lambda: None, name="lenet5")


def test_register_model_under_a_name(monkeypatch):
    monkeypatch.setattr(registry, "_MODELS", dict(registry._MODELS))

    @registry.register_model(name="family/variant")
    def factory():
        return "built"

    assert zoo.list_models("family/*") == ["family/variant"]
    assert zoo.create_model("family/variant") == "built"
