"""Model rooms: loading and placement (loading.py), tiny offline builds (the tiny/ package)."""
