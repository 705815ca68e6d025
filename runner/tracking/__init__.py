"""Experiment tracking: each run, and each sweep with its points, logged into an MLflow store.

    settings.py  the `tracking` config (conf/tracking/): where the store is, the experiment, the run
                 name and tags; the config error when the `[mlflow]` extra is missing (no mlflow import)
    callback.py  the Hydra callback (conf/config.yaml: hydra.callbacks.tracking): a run per job, a
                 parent run per multirun, handed to jobs in other processes through the sweep dir
    store.py     what is logged, over MlflowClient: params from run.json's config, metrics from
                 metrics.json, the run dir's files and the sweep report as artifacts

The callback reads only the files a job wrote (run.json, metrics.json, the sweep report), the way the
sweep report does, so a job run by joblib or submitit in another process is tracked the same way.
"""
