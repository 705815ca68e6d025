"""Config rooms: composing with Hydra, checking against schemas/, and checking command-line choices."""
from runner.config.validate import validate_config

__all__ = ["validate_config"]
