"""Runnable recipes: `zoo run <name> [ARGS...]`, or `python -m recipes.<name>` from a checkout.

Installed as `zoo.recipes`. TensorFlow's start-up logging is quiet unless the user set
`TF_CPP_MIN_LOG_LEVEL`.
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
