"""The defs folder `dg.load_from_defs_folder` loads: one sub-package per domain.

Each holds that domain's assets, checks, sensors and jobs together; `pipelines/definitions.py` merges
them and binds the resources. Modules here refer to other domains' assets by key (`pipelines.keys`),
never by importing them.
"""
