"""Enrichment: pre-arrival declarations, product and party master data, matching a closed passage
to declarations, discrepancy flags and agency routing.

* :mod:`.declaration`, :mod:`.product`, :mod:`.party` — the input models (pydantic, camelCase on the
  wire, unknown fields rejected, check digits validated);
* :mod:`.store` — the SQLite store with an index on every linking key;
* :mod:`.importer` / :mod:`.mqtt_intake` — file and MQTT intake;
* :mod:`.linking`, :mod:`.flags`, :mod:`.routing` — matching, flags and agency routing;
* :mod:`.enricher` — ``Enricher(store, config).enrich(passage, now)`` -> :class:`.result.EnrichmentResult`.
"""
