"""Config rooms: composing with Hydra, checking against schemas/, and checking command-line choices."""

from runner.config.checked import CheckedRun, check_run, validate_config

__all__ = ["CheckedRun", "check_run", "validate_config"]
