"""On PYTHONPATH, makes `import httpx` fail as it does where tiffin[test] is not installed."""

raise ModuleNotFoundError("No module named 'httpx'", name="httpx")
