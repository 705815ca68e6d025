"""engine=ray: the same validated plan executed on Ray Data (docs/cluster.md).

    source (one read task: runner.sources through the engine's RowReader, in chunks)
      -> one map_batches stage per step (an actor pool; each actor loads its step's model once and
         runs each chunk with the local engine's RowLoop, so records are made by the same code)
      -> the driver, in input order: predictions.jsonl, errors.jsonl, metrics.json

Nothing here imports ray at module level except the modules only engine=ray reaches
(cluster.py, reader.py, driver.py): a config error never imports it (settings.py).

- settings.py  the `engine` config and its checks (the [ray] extra, keys Ray cannot honour)
- chunk.py     what travels between stages: a chunk of rows, its records, failure and figures
- stage.py     the actor class of a stage, and the fault hook the tests use to kill one
- reader.py    the Ray datasource that reads the plan's rows in chunks
- cluster.py   start a local cluster or join one; shut down only what we started
- driver.py    execute(): the dataset, the records written in order, a resent chunk dropped
- metrics.py   metrics.json: the local keys plus an `engine` block with per-actor figures
"""
