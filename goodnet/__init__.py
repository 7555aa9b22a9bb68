"""goodnet: repair backdoored classifiers (BadNets) with fine-pruning, and build GoodNets."""

__version__ = "0.1.0"

import os as _os

# Before TensorFlow is imported anywhere: its C++ start-up chatter hides our messages.
_os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
