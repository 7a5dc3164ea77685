"""On PYTHONPATH, makes `import httpx_ws` fail as it does where tiffin[test] is not installed."""

raise ModuleNotFoundError("No module named 'httpx_ws'", name="httpx_ws")
