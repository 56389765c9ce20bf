"""The Amazon ECS simulator: ``api`` (the API surface), ``lifecycle`` (the engine), ``common``."""
