"""BentoML's prebuilt LLM services, their structure kept, only the model code replaced.

Each module follows one public service line by line (the source is named in its
docstring): the same imports but ``import tiffin as bentoml``, the same
``@bentoml.service`` arguments, class attributes, hooks, APIs and mounts. What
is replaced is the model: ``bentoml.models.HuggingFaceModel`` (a model store,
out of tiffin's scope) by ``model_store.HuggingFaceModel``, and the engines
(vLLM, SGLang, torch) by the stand-ins under ``tests/fake_packages``.
"""
