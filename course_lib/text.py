"""Captions as tokens and token ids: cleaning, the vocabulary, encoding and right-padding.

Cleaning choices (documented in ``data/README.md``):

* lower-case;
* punctuation is deleted, not replaced by a space (``"man's"`` → ``"mans"``), as in the
  widely copied Keras tutorial, so the two vocabularies can be compared;
* words that contain anything but letters (digits, ``"#"``…) are dropped;
* one-letter words are **kept** by default. The tutorial drops them, which removes every
  ``"a"`` and makes captions ungrammatical; :data:`TUTORIAL_CLEANING` reproduces it.

The vocabulary is built from the training split only; ``<pad>`` is id 0 (what
``mask_zero=True`` masks), then ``<unk>``, ``<start>`` and ``<end>``.
"""

from __future__ import annotations

import json
import os
import string
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import NamedTuple

import numpy as np

from course_lib.io import atomic_write_json

PAD, UNK, START, END = "<pad>", "<unk>", "<start>", "<end>"
RESERVED_TOKENS = (PAD, UNK, START, END)
#: The start and end words of the widely copied tutorial, stripped like ours before BLEU.
TUTORIAL_START, TUTORIAL_END = "startseq", "endseq"

_DELETE_PUNCTUATION = str.maketrans("", "", string.punctuation)
_VOCAB_FORMAT = "course_lib.vocabulary"


@dataclass(frozen=True)
class CleaningOptions:
    """How a raw caption becomes tokens."""

    lowercase: bool = True
    strip_punctuation: bool = True
    alphabetic_only: bool = True
    min_word_length: int = 1

    def to_dict(self) -> dict:
        """The options as a JSON-serialisable dict."""
        return asdict(self)


#: The course's cleaning: keeps "a" and other one-letter words.
COURSE_CLEANING = CleaningOptions()
#: The widely copied tutorial's cleaning: also drops one-letter words such as "a".
TUTORIAL_CLEANING = CleaningOptions(min_word_length=2)


def clean_caption(
    text: str, options: CleaningOptions = COURSE_CLEANING
) -> list[str]:
    """Turn one raw caption into a list of tokens (see the module docstring for the rules)."""
    if options.lowercase:
        text = text.lower()
    if options.strip_punctuation:
        text = text.translate(_DELETE_PUNCTUATION)
    tokens = text.split()
    if options.alphabetic_only:
        tokens = [t for t in tokens if t.isalpha()]
    return [t for t in tokens if len(t) >= options.min_word_length]


class Vocabulary:
    """A word ↔ id mapping with reserved ``<pad>`` (0), ``<unk>``, ``<start>`` and ``<end>``."""

    def __init__(
        self,
        words: Sequence[str],
        *,
        min_count: int = 1,
        cleaning: dict | None = None,
    ):
        """Make a vocabulary from ``words`` (without reserved tokens), in id order."""
        duplicates = [w for w, n in Counter(words).items() if n > 1]
        if duplicates:
            raise ValueError(
                f"duplicate words in vocabulary: {duplicates[:5]}"
            )
        reserved = [w for w in words if w in RESERVED_TOKENS]
        if reserved:
            raise ValueError(
                f"reserved tokens cannot be vocabulary words: {reserved}"
            )
        self.id_to_token: list[str] = [*RESERVED_TOKENS, *words]
        self.token_to_id: dict[str, int] = {
            t: i for i, t in enumerate(self.id_to_token)
        }
        self.min_count = min_count
        self.cleaning = cleaning or COURSE_CLEANING.to_dict()

    pad_id = 0
    unk_id = 1
    start_id = 2
    end_id = 3

    @classmethod
    def build(
        cls,
        token_lists: Iterable[Sequence[str]],
        *,
        min_count: int = 1,
        cleaning: CleaningOptions = COURSE_CLEANING,
    ) -> Vocabulary:
        """Build from tokenised captions (the training split): words seen ``min_count`` times
        or more, most frequent first, ties alphabetically (so the ids are deterministic)."""
        counts = Counter(t for tokens in token_lists for t in tokens)
        kept = [
            w
            for w, n in counts.items()
            if n >= min_count and w not in RESERVED_TOKENS
        ]
        kept.sort(key=lambda w: (-counts[w], w))
        return cls(kept, min_count=min_count, cleaning=cleaning.to_dict())

    def __len__(self) -> int:
        """Number of ids, reserved tokens included (the size of the softmax)."""
        return len(self.id_to_token)

    def __contains__(self, token: str) -> bool:
        return token in self.token_to_id

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, Vocabulary)
            and self.id_to_token == other.id_to_token
        )

    def __repr__(self) -> str:
        return f"Vocabulary({len(self)} ids, min_count={self.min_count})"

    @property
    def words(self) -> list[str]:
        """The vocabulary words, without the reserved tokens."""
        return self.id_to_token[len(RESERVED_TOKENS) :]

    def encode(
        self, tokens: Sequence[str], *, add_start_end: bool = True
    ) -> list[int]:
        """Token ids for ``tokens`` (unknown words → ``<unk>``), framed by start and end."""
        ids = [self.token_to_id.get(t, self.unk_id) for t in tokens]
        return [self.start_id, *ids, self.end_id] if add_start_end else ids

    def decode(self, ids: Iterable[int]) -> list[str]:
        """Tokens for ``ids``: stops at ``<end>``, drops ``<pad>`` and ``<start>``."""
        tokens = []
        for i in ids:
            i = int(i)
            if i == self.end_id:
                break
            if i in (self.pad_id, self.start_id):
                continue
            tokens.append(self.id_to_token[i])
        return tokens

    def to_dict(self) -> dict:
        """The vocabulary as a JSON-serialisable dict."""
        return {
            "format": _VOCAB_FORMAT,
            "version": 1,
            "min_count": self.min_count,
            "cleaning": self.cleaning,
            "tokens": self.id_to_token,
        }

    def save(self, path: str | os.PathLike) -> Path:
        """Write the vocabulary as JSON (atomically) and return the path."""
        return atomic_write_json(path, self.to_dict())

    @classmethod
    def load(cls, path: str | os.PathLike) -> Vocabulary:
        """Read a vocabulary written by :meth:`save`; errors name the file and the problem."""
        path = Path(path)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise FileNotFoundError(
                f"{path}: vocabulary file not found"
            ) from None
        except json.JSONDecodeError as err:
            raise ValueError(
                f"{path}: not a valid JSON vocabulary ({err})"
            ) from err
        if not isinstance(data, dict) or data.get("format") != _VOCAB_FORMAT:
            raise ValueError(
                f"{path}: not a course_lib vocabulary (missing 'format' field)"
            )
        tokens = data.get("tokens", [])
        if list(tokens[: len(RESERVED_TOKENS)]) != list(RESERVED_TOKENS):
            raise ValueError(
                f"{path}: the first tokens must be {list(RESERVED_TOKENS)}"
            )
        return cls(
            tokens[len(RESERVED_TOKENS) :],
            min_count=int(data.get("min_count", 1)),
            cleaning=data.get("cleaning"),
        )


def pad_sequences_right(
    sequences: Sequence[Sequence[int]], length: int
) -> np.ndarray:
    """Right-pad (and never truncate) id sequences with 0 → int32 array of shape (N, length).

    Right padding keeps every caption's words at the same time steps whatever its length,
    which is what lets Keras use the fast cuDNN LSTM kernel with a mask.
    """
    out = np.zeros((len(sequences), length), dtype=np.int32)
    for row, seq in enumerate(sequences):
        if len(seq) > length:
            raise ValueError(
                f"sequence {row} has {len(seq)} ids, more than length={length}"
            )
        out[row, : len(seq)] = seq
    return out


def tokenize_captions(
    captions: dict[str, list[str]], options: CleaningOptions = COURSE_CLEANING
) -> dict[str, list[list[str]]]:
    """Clean every caption of every image: ``{image id: [tokens, …]}``."""
    return {
        image: [clean_caption(c, options) for c in caps]
        for image, caps in captions.items()
    }


def caption_length_stats(
    token_lists: Iterable[Sequence[str]],
) -> dict[str, float]:
    """Lengths of encoded captions (with start and end): max, mean and 95th percentile."""
    lengths = np.array([len(t) + 2 for t in token_lists])
    if lengths.size == 0:
        return {"max": 0, "mean": 0.0, "p95": 0.0}
    return {
        "max": int(lengths.max()),
        "mean": float(lengths.mean()),
        "p95": float(np.percentile(lengths, 95)),
    }


class Coverage(NamedTuple):
    """What one ``min_count`` keeps (:func:`vocabulary_coverage`)."""

    words: int  # words with an id of their own
    ids: int  # the softmax's size: the words and the reserved tokens
    covered: float  # share of the training tokens that have an id
    unknown: float  # share of the other tokens that become <unk>


def vocabulary_coverage(
    train_tokens: Sequence[Sequence[str]],
    other_tokens: Sequence[Sequence[str]],
    min_count: int,
) -> Coverage:
    """The vocabulary of ``train_tokens`` (token lists) at ``min_count``:
    its size, the training text it covers, the ``<unk>`` it makes of
    ``other_tokens`` (e.g. the dev split's token lists)."""
    vocab = Vocabulary.build(train_tokens, min_count=min_count)
    train = [t for tokens in train_tokens for t in tokens]
    other = [t for tokens in other_tokens for t in tokens]
    if not train or not other:
        raise ValueError(
            "vocabulary_coverage: both token lists need at least one token"
        )
    covered = sum(t in vocab for t in train) / len(train)
    unknown = sum(t not in vocab for t in other) / len(other)
    return Coverage(len(vocab.words), len(vocab), covered, unknown)
