"""Shared by the examples' tests: their READMEs replayed as tests, and a tiny summarization model.

Every ```console block of an example's README holds `$ curl ...` lines, each
followed by what curl prints. ``readme`` parses them; ``Transcript.replay(client)``
sends each request through any httpx client (the in-process ``tiffin_client``, or
one pointed at ``tiffin serve``) and compares what curl would print.
"""

from __future__ import annotations

import os
import re
import shlex
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

# `.venv-bentoml/bin/python -m pytest examples/bentoml_user` runs it (BentoML is not
# installed for the main run); naming the directory still collects it.
collect_ignore = ["bentoml_user"]

# Set before anything imports huggingface_hub, which reads it once. A model that is not
# on disk fails at once instead of being retried from the network for ~23 s.
os.environ["HF_HUB_OFFLINE"] = "1"

SUMMARIZATION_MODEL_ENV = "SUMMARIZATION_MODEL"


# --- README transcripts ---------------------------------------------------------------------


@dataclass(frozen=True)
class Exchange:
    """One ``$ curl ...`` line of a README and the output printed under it."""

    command: str
    method: str
    target: str  # path and query
    headers: dict[str, str]
    body: bytes | None
    write_out: str | None  # curl -w
    show_body: bool  # false with -o /dev/null
    printed: str

    @classmethod
    def parse(cls, command: str, printed: str) -> Exchange:
        words = shlex.split(command)
        if words[0] != "curl":
            raise ValueError(f"not a curl command: {command!r}")
        method, url, body, write_out, show_body = None, None, None, None, True
        headers: dict[str, str] = {}
        rest = iter(words[1:])
        for word in rest:
            if word in ("-s", "--silent"):
                continue
            if word in ("-X", "--request"):
                method = next(rest)
            elif word in ("-H", "--header"):
                name, _, value = next(rest).partition(":")
                headers[name.strip().lower()] = value.strip()
            elif word in ("-d", "--data", "--data-raw"):
                body = next(rest).encode()
            elif word in ("-w", "--write-out"):
                write_out = next(rest)
            elif word in ("-o", "--output") and next(rest) == "/dev/null":
                show_body = False
            elif word.startswith("http") and url is None:
                url = word
            else:
                raise ValueError(f"curl option {word!r} is not replayed by the tests: {command!r}")
        if url is None:
            raise ValueError(f"no URL in {command!r}")
        parts = urlsplit(url)
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        method = method or ("POST" if body is not None else "GET")
        return cls(command, method, target, headers, body, write_out, show_body, printed)

    def output(self, response: httpx.Response) -> str:
        """What curl prints for ``response``."""
        printed = response.text if self.show_body else ""
        if self.write_out is not None:
            printed += self.write_out.replace("%{http_code}", str(response.status_code)).replace(
                "\\n", "\n"
            )
        return printed.removesuffix("\n")


@dataclass
class Transcript:
    """The curl exchanges of one README, in order."""

    readme: Path
    exchanges: list[Exchange] = field(default_factory=list)

    @classmethod
    def read(cls, readme: Path) -> Transcript:
        blocks = re.findall(r"^```console\n(.*?)^```", readme.read_text(), re.M | re.S)
        transcript = cls(readme)
        for block in blocks:
            for chunk in re.split(r"^\$ ", block, flags=re.M)[1:]:
                command, _, printed = chunk.partition("\n")
                transcript.exchanges.append(Exchange.parse(command, printed.removesuffix("\n")))
        return transcript

    async def replay(self, client: httpx.AsyncClient) -> None:
        """Send every request through ``client``; each must print what the README shows."""
        assert self.exchanges, f"{self.readme} shows no `$ curl` exchange"
        answers, expected = [], []
        for exchange in self.exchanges:
            request = client.build_request(
                exchange.method, exchange.target, headers=exchange.headers, content=exchange.body
            )
            answers.append((exchange.command, exchange.output(await client.send(request))))
            expected.append((exchange.command, exchange.printed))
        assert answers == expected


@pytest.fixture
def readme(request: pytest.FixtureRequest) -> Transcript:
    """The curl transcript of the README beside the test file."""
    return Transcript.read(request.path.parent / "README.md")


# --- a tiny summarization model -------------------------------------------------------------


@pytest.fixture(scope="session")
def summarization_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A random BART (d_model 16, one layer each side) and its BPE tokenizer, saved to disk.

    It loads through ``pipeline("summarization", model=directory)`` like any model of the
    Hub. Its generation settings live in its config, as real summarization models keep
    theirs (``task_specific_params``): greedy, at most 8 new tokens. Its text is random.
    """
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import BartConfig, BartForConditionalGeneration, BartTokenizerFast

    torch.set_num_threads(1)
    torch.manual_seed(0)
    directory = tmp_path_factory.mktemp("tiny-bart")
    special = ["<s>", "<pad>", "</s>", "<unk>", "<mask>"]
    bpe = Tokenizer(models.BPE(unk_token="<unk>"))
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    bpe.train_from_iterator(
        [
            "Breaking News: a cat jumped twenty feet into the air to catch a fly.",
            "Scientists investigate the leap; the town plans a festival.",
        ],
        trainers.BpeTrainer(
            vocab_size=300,
            special_tokens=special,
            initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
            show_progress=False,
        ),
    )
    bpe.post_processor = processors.RobertaProcessing(
        ("</s>", bpe.token_to_id("</s>")), ("<s>", bpe.token_to_id("<s>"))
    )
    tokenizer = BartTokenizerFast(
        tokenizer_object=bpe,
        bos_token="<s>",
        pad_token="<pad>",
        eos_token="</s>",
        sep_token="</s>",
        cls_token="<s>",
        unk_token="<unk>",
        mask_token="<mask>",
        model_max_length=64,  # with truncation=True, longer texts are cut to the position table
    )
    config = BartConfig(
        vocab_size=len(tokenizer),
        d_model=16,
        encoder_layers=1,
        decoder_layers=1,
        encoder_attention_heads=2,
        decoder_attention_heads=2,
        encoder_ffn_dim=32,
        decoder_ffn_dim=32,
        max_position_embeddings=64,
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        decoder_start_token_id=tokenizer.eos_token_id,
        forced_bos_token_id=None,
        forced_eos_token_id=None,
        # The pipeline's own defaults (4 beams, 256 new tokens) would run past the
        # 64 positions; a model states its summarization settings here.
        task_specific_params={
            "summarization": {"num_beams": 1, "max_new_tokens": 8, "min_new_tokens": 4}
        },
    )
    BartForConditionalGeneration(config).save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    return directory


@pytest.fixture(scope="session")
def summarize(summarization_model: Path) -> Callable[[str], str]:
    """The tiny model's summary of a text, from the pipeline called directly (no service)."""
    from transformers import pipeline

    summarizer = pipeline("summarization", model=str(summarization_model))

    def summary(text: str) -> str:
        return str(summarizer(text, truncation=True)[0]["summary_text"])

    return summary


@pytest.fixture(scope="session")
def summarization_environment(summarization_model: Path) -> dict[str, str]:
    """The environment that points a summarization example at the tiny model."""
    return {
        SUMMARIZATION_MODEL_ENV: str(summarization_model),
        "HF_HUB_OFFLINE": "1",
        "OMP_NUM_THREADS": "1",
    }


@pytest.fixture(scope="module")
def anyio_backend() -> str:
    """Under anyio's plugin (tox's anyio environment) the suite runs on asyncio, as tiffin
    serves; with trio installed (the dev extra, for the harness's trio test, which picks
    trio itself) anyio would otherwise run every async test on both."""
    return "asyncio"
