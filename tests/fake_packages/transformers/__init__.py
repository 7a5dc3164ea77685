"""A stand-in for ``transformers`` when the seed's examples run under `tiffin serve` in tests.

The real summarization example (with a tiny locally built model) is its own
example; here only the serving path is under test.
"""


class _Summarizer:
    def __init__(self, task: str) -> None:
        self.task = task

    def __call__(self, text: str) -> list[dict[str, str]]:
        return [{"summary_text": f"summary of {len(text)} characters"}]


def pipeline(task: str) -> _Summarizer:
    return _Summarizer(task)
