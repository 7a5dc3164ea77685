"""A stand-in for ``transformers`` when the seed's examples run under `tiffin serve` in tests.

The real summarization example (with a tiny locally built model) is its own
example; here only the serving path is under test.
"""

from __future__ import annotations


class _Summarizer:
    def __init__(self, task: str) -> None:
        self.task = task

    def __call__(self, text: str) -> list[dict[str, str]]:
        return [{"summary_text": f"summary of {len(text)} characters"}]


def pipeline(task: str) -> _Summarizer:
    return _Summarizer(task)


class AutoTokenizer:
    """The chat-template part of a tokenizer (BentoSGLang's services use only that)."""

    @classmethod
    def from_pretrained(cls, path: str) -> AutoTokenizer:
        return cls()

    def apply_chat_template(self, messages: list[dict[str, str]], tokenize: bool = False) -> str:
        return "".join(f"<{m['role']}>{m['content']}" for m in messages)
