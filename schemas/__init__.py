"""JSON Schemas of the run config, shipped inside the wheel as runner.schemas (see pyproject.toml)."""
