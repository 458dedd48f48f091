"""The passage history (:mod:`.store`) and what late data does with it (:mod:`.late`)."""
