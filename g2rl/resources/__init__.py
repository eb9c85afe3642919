"""Package data: the workflow config schema (``config.schema.yaml``) and the default demo config
(``config.yaml``). Read them through :mod:`g2rl.config`."""
