"""How a study runs: the workflow's steps, the registry, SageMaker calls, reports and notifications."""
