"""A stand-in for the parts of ``vllm`` OpenLLM's templates import: no engine, no weights."""
