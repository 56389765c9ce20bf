"""The CodeDeploy simulator: ``api`` (the API surface), ``lifecycle`` (the engine), ``common``."""
