"""CDK constructs of amt-conductor. `TuningStudies` is the one an app uses (an L3 construct holding the rest)."""

from amt_conductor.cdk.tuning_studies import TuningStudies

__all__ = ["TuningStudies"]
