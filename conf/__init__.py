"""The runner's own Hydra configs, shipped inside the wheel as runner.conf (see pyproject.toml).

Hydra reads them through pkg://runner.conf; its package config source needs this file to be there."""
