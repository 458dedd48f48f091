"""Example counts for the codec fuzz tests.

``HYPOTHESIS_PROFILE=ci`` (what ``./run.sh test`` uses) runs each codec fuzz test with
10,000 examples; ``long`` runs 200,000 (``./run.sh fuzz``); ``dev`` is a quick 500.
"""

import os

FUZZ_EXAMPLES = {"ci": 10_000, "long": 200_000}.get(os.environ.get("HYPOTHESIS_PROFILE", "dev"), 500)
