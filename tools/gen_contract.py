"""Regenerate the MQTT contract (JSON Schemas + AsyncAPI 3.0) under gateway/publishing/schemas/.

Run after changing a payload model: ``.venv/bin/python tools/gen_contract.py``.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from gateway.publishing.contract import write

if __name__ == "__main__":
    for path in write():
        print(path)
