"""From a real CreateHyperParameterTuningJob request (or Describe response) back to a spec."""
