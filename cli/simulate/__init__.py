"""Local simulator: runs the synthesized state machine in moto with the real handlers."""
