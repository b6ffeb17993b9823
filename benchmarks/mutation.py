"""Mutation testing of zoo's core algorithms with mutmut (docs/TESTING.md).

Runs `mutmut` with the configuration in pyproject.toml ([tool.mutmut]: which modules are
mutated and which fast tests judge them), after one fix that Keras needs: mutmut wraps
every mutated function in a `*args, **kwargs` trampoline, and Keras' `Operation.__new__`
reads `inspect.getfullargspec(cls.__init__)` of every layer, which then has no arguments
(IndexError in every test that builds a zoo layer). A trampolined `__init__` gets the
original's `__signature__`, which `getfullargspec` honours, so Keras sees the layer's real
arguments. (Other methods need nothing: `inspect.signature` follows `__wrapped__`, and a
`__signature__` in their `__dict__` would leak into Keras' `functools.wraps` of bound
methods.) And it runs each mutant's tests fastest first (see `_fastest_tests_first`).

    pip install -e ".[dev]"
    ZOO_DATA_DIR=../shared/data python benchmarks/mutation.py run --max-children 2
    python benchmarks/mutation.py results      # survivors; `mutmut show NAME` for one

Arguments are mutmut's own. By hand, not in CI: a full run takes about 2 hours on 2 cores.
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


def _fastest_tests_first():
    """Runs each mutant's tests in order of their measured duration, fastest first.

    mutmut stops at a mutant's first failing test (`-x`) but hands pytest its tests in set
    order, so a mutant that a 0.1 s test kills may first wait for a 10 s one.
    """
    from mutmut.runners.harness import PytestRunner
    from mutmut.state import state

    original = PytestRunner.run_tests

    @functools.wraps(original)
    def run_tests(self, *, mutant_name, tests):
        durations = state().duration_by_test
        ordered = sorted(tests, key=lambda test: (durations.get(test, 0.0), test))
        return original(self, mutant_name=mutant_name, tests=ordered)

    PytestRunner.run_tests = run_tests


def main():
    _keep_signatures()
    _fastest_tests_first()
    from mutmut.__main__ import cli

    sys.argv[0] = "mutmut"
    cli()


if __name__ == "__main__":
    main()
