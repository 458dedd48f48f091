"""Building blocks shared by the configuration sections."""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict

_SEGMENT = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")


def check_topic_segment(value: str) -> str:
    """Ids that end up in MQTT topics: no ``+``, ``#``, ``/``, spaces or empty strings."""
    if not _SEGMENT.fullmatch(value):
        raise ValueError(
            f"{value!r} is not a valid id: use 1-64 letters, digits, '_', '-' or '.', starting "
            "with a letter or digit (it becomes an MQTT topic segment: no '+', '#', '/' or spaces)"
        )
    return value


TopicSegment = Annotated[str, AfterValidator(check_topic_segment)]


class Section(BaseModel):
    """Every config section rejects unknown keys: a typo must not be silently ignored."""

    model_config = ConfigDict(extra="forbid", frozen=True)
