from __future__ import annotations

from collections.abc import Iterator

import pytest

from gateway.config.enrichment import EnrichmentConfig
from gateway.enrichment.enricher import Enricher
from gateway.enrichment.store import Store
from tests.enrichment.helpers import OFFICE


@pytest.fixture
def store() -> Iterator[Store]:
    with Store(":memory:") as s:
        yield s


@pytest.fixture
def enricher(store: Store) -> Enricher:
    return Enricher(store, EnrichmentConfig(border_office=OFFICE))
