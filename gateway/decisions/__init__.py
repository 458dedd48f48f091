"""Central decisions: what the pre-clearance system decided, and what the lane does about it.

* :mod:`gateway.decisions.model` - the ``bx.decision.v1`` intake contract (one outcome for one
  declaration, movement or passage) and the intake / acknowledgement topics.
"""
