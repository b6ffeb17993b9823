"""Documented defaults: every "Defaults to X." in an `Args:` section is the signature's."""

import ast
import importlib
import inspect
import pkgutil
import re

import pytest

import zoo

_ARG = re.compile(r"^(\s+)(\*{0,2}\w+)(?: \([^)]*\))?: (.*)$")
_DEFAULT = re.compile(r"Defaults to (.+?)(?:\.\s|\.?$)", re.S)


def _modules():
    names = ["zoo"] + [m.name for m in pkgutil.walk_packages(zoo.__path__, "zoo.")]
    return [importlib.import_module(name) for name in names if name != "zoo.cli"]


def _documented():
    """(qualified name, object) of each public function and class zoo's modules define."""
    for module in _modules():
        for name, obj in vars(module).items():
            if name.startswith("_") or getattr(obj, "__module__", None) != module.__name__:
                continue
            if inspect.isfunction(obj) or inspect.isclass(obj):
                yield f"{module.__name__}.{name}", obj


def _arg_texts(doc):
    """{argument: its description} from a Google-style `Args:` section."""
    lines = inspect.cleandoc(doc).splitlines()
    if "Args:" not in lines:
        return {}
    texts, current, indent = {}, None, None
    for line in lines[lines.index("Args:") + 1 :]:
        if line and not line.startswith(" "):
            break  # the next section
        match = _ARG.match(line)
        if match and (indent is None or len(match.group(1)) == indent):
            indent, current = len(match.group(1)), match.group(2).lstrip("*")
            texts[current] = match.group(3)
        elif current is not None:
            texts[current] += " " + line.strip()
    return texts


def _literal(text):
    """`(value,)` for the Python value that "Defaults to TEXT" names (a tuple, so that a
    documented None is told apart), or None for prose or a condition ("0.1, or 0.01 for an
    RBM with Gaussian visibles")."""
    first, _, rest = text.partition(" ")
    if re.match(r"(or|if|when|unless|for)\b", rest):
        return None
    for candidate in (text, first.rstrip(",;")):
        try:
            return (ast.literal_eval(candidate.strip("`")),)
        except (ValueError, SyntaxError):
            continue
    return None


def _cases():
    for qualname, obj in _documented():
        try:
            signature = inspect.signature(obj)
        except (TypeError, ValueError):
            continue
        for arg, text in _arg_texts(obj.__doc__ or "").items():
            match = _DEFAULT.search(text)
            parameter = signature.parameters.get(arg)
            if match is None or parameter is None or parameter.default is inspect.Parameter.empty:
                continue
            value = _literal(match.group(1))
            if value is not None:
                yield pytest.param(parameter.default, value[0], id=f"{qualname}({arg})")


CASES = list(_cases())


def test_documented_defaults_are_found():
    assert len(CASES) > 30  # the parser still reads this codebase's docstrings


@pytest.mark.parametrize("actual, documented", CASES)
def test_documented_default_is_the_signatures(actual, documented):
    assert actual == documented
    assert isinstance(actual, bool) == isinstance(documented, bool)  # True is not 1
