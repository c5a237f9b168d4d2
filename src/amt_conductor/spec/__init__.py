"""amt: the spec library shared by the `amt` CLI, synth-time validation and the Lambda handlers."""
