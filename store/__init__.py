"""The DuckDB kernel every stage shares: schema, migrations, the one writer connection."""

from store.db import Store, StoreBusyError, StoreError, open_store

__all__ = ["Store", "StoreBusyError", "StoreError", "open_store"]
