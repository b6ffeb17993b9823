"""Mutation testing of zoo's core algorithms with mutmut (docs/TESTING.md).

Runs `mutmut` with the configuration in pyproject.toml ([tool.mutmut]: which modules are
mutated and which fast tests judge them), after one fix that Keras needs: mutmut wraps
every mutated function in a `*args, **kwargs` trampoline, and Keras' `Operation.__new__`
reads `inspect.getfullargspec(cls.__init__)` of every layer, which then has no arguments
(IndexError in every test that builds a zoo layer). A trampolined `__init__` gets the
original's `__signature__`, which `getfullargspec` honours, so Keras sees the layer's real
arguments. (Other methods need nothing: `inspect.signature` follows `__wrapped__`, and a
`__signature__` in their `__dict__` would leak into Keras' `functools.wraps` of bound
methods.)

    pip install -e ".[dev]"
    ZOO_DATA_DIR=../shared/data python benchmarks/mutation.py run --max-children 2
    python benchmarks/mutation.py results      # survivors; `mutmut show NAME` for one

Arguments are mutmut's own. By hand, not in CI: a full run takes hours on 2 cores.
"""

import functools
import inspect
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def _keep_signatures():
    from mutmut.mutation import trampoline

    original = trampoline.wrap_in_trampoline

    @functools.wraps(original)
    def wrap_in_trampoline(mutants_dict, is_classmethod=False):
        decorate = original(mutants_dict, is_classmethod)

        def with_signature(func):
            wrapped = decorate(func)
            if func.__name__ == "__init__":
                wrapped.__signature__ = inspect.signature(func)
            return wrapped

        return with_signature

    trampoline.wrap_in_trampoline = wrap_in_trampoline


def main():
    _keep_signatures()
    from mutmut.__main__ import cli

    sys.argv[0] = "mutmut"
    cli()


if __name__ == "__main__":
    main()
