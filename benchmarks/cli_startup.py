"""Start-up time of the `zoo` command against `python -c pass`.

Each command runs `--repeats` times in a fresh process (the median is recorded, and the
minimum, which is what the machine can do when nothing else runs). `zoo --help`,
`zoo list` and `zoo recipes` import no TensorFlow; `zoo run quickstart --help` builds a
recipe's parser, which imports TensorFlow (Keras and tensorflow-datasets) for the model
and dataset choices it lists.

    python benchmarks/cli_startup.py --repeats 7
"""

import argparse
import statistics
import subprocess
import sys
import time

from _common import record

COMMANDS = {
    "python -c pass": [sys.executable, "-c", "pass"],
    "zoo --help": [sys.executable, "-m", "zoo.cli", "--help"],
    "zoo list": [sys.executable, "-m", "zoo.cli", "list"],
    "zoo recipes": [sys.executable, "-m", "zoo.cli", "recipes"],
    "zoo run quickstart --help": [sys.executable, "-m", "zoo.cli", "run", "quickstart", "--help"],
}


def seconds(command):
    start = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True)
    return time.perf_counter() - start


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=7, help="runs of each command")
    args = parser.parse_args(argv)
    times = {
        name: [seconds(command) for _ in range(args.repeats)] for name, command in COMMANDS.items()
    }
    baseline = statistics.median(times["python -c pass"])
    rows = {
        name: {
            "median_s": round(statistics.median(ts), 3),
            "min_s": round(min(ts), 3),
            "over_python_s": round(statistics.median(ts) - baseline, 3),
        }
        for name, ts in times.items()
    }
    for name, row in rows.items():
        print(f"{name:<28} median {row['median_s']:.2f} s  min {row['min_s']:.2f} s")
    return record(
        "cli_startup",
        {"command": "python benchmarks/cli_startup.py " + " ".join(sys.argv[1:]), "rows": rows},
    )


if __name__ == "__main__":
    main()
