"""Kernels: string ops (StringNormalizer, RegexFullMatch, StringConcat, StringSplit) and
TfIdfVectorizer.

String tensors are object arrays of Python ``str``; per-string work is a comprehension over
the flattened array because numpy has no vectorised kernels for object strings.
"""

from __future__ import annotations

import re

import numpy as np

from tensorbridge.ir.string_math import check_normalizer_shape, normalize_words, normalized_shape
from tensorbridge.runtime.registry import kernel


def _strings(values: list[str], shape: tuple[int, ...]) -> np.ndarray:
    out = np.empty(len(values), dtype=object)
    out[:] = values
    return out.reshape(shape)


@kernel("StringNormalizer", since=10)
def string_normalizer(X: np.ndarray, *, case_change_action: str = "NONE",
                      is_case_sensitive: int = 0, locale: str | None = None,
                      stopwords: list[str] | None = None) -> np.ndarray:
    """StringNormalizer-10(X [C] or [1, C]) -> Y; drops stopwords, then changes case
    (ir/string_math.py).

    ``locale`` is accepted but Python's locale-independent str.lower/upper are used.
    """
    check_normalizer_shape(X.shape)
    words = normalize_words(X.reshape(-1).tolist(), case_change_action=case_change_action,
                            is_case_sensitive=is_case_sensitive, stopwords=stopwords)
    return _strings(words, normalized_shape(X.ndim, len(words)))


@kernel("RegexFullMatch", since=20)
def regex_full_match(X: np.ndarray, *, pattern: str) -> np.ndarray:
    """RegexFullMatch-20(X) -> Y bool; whole-string match of an RE2 pattern."""
    try:
        # ASCII: RE2's \\w, \\d, \\s and \\b are ASCII-only, Python's default is Unicode.
        rx = re.compile(pattern, re.ASCII)
    except re.error as e:
        raise ValueError(f"RegexFullMatch: invalid pattern {pattern!r}: {e}") from e
    hits = [rx.fullmatch(s) is not None for s in X.reshape(-1).tolist()]
    return np.array(hits, dtype=bool).reshape(X.shape)


@kernel("StringConcat", since=20)
def string_concat(X: np.ndarray, Y: np.ndarray) -> np.ndarray:
    """StringConcat-20(X, Y) -> Z; elementwise with numpy broadcasting."""
    # np.add on object arrays calls str.__add__ per element.
    return np.asarray(np.add(X, Y), dtype=object)


@kernel("StringSplit", since=20)
def string_split(X: np.ndarray, *, delimiter: str | None = None,
                 maxsplit: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """StringSplit-20(X) -> (Y, Z); Y = X.shape + [max parts] padded with "", Z = counts.

    No / empty delimiter splits on runs of whitespace, ignoring leading and trailing ones,
    which is Python's ``str.split(None)``.
    """
    sep = delimiter or None
    limit = -1 if maxsplit is None else maxsplit
    # An empty string has no substrings (Python would give [""] for an explicit delimiter).
    parts = [s.split(sep, limit) if s else [] for s in X.reshape(-1).tolist()]
    counts = np.array([len(p) for p in parts], dtype=np.int64)
    width = int(counts.max(initial=0))
    padded = [p + [""] * (width - len(p)) for p in parts]
    out = np.empty((len(parts), width), dtype=object)
    if width:
        out[:] = padded
    return out.reshape(X.shape + (width,)), counts.reshape(X.shape)


def _level_ranges(ngram_counts: list[int], pool_size: int) -> list[tuple[int, int]]:
    """Pool slice [start, end) holding the n-grams of each length n = 1, 2, ..."""
    ends = ngram_counts[1:] + [pool_size]
    return list(zip(ngram_counts, ends, strict=True))


def _encode(codes: np.ndarray, base: int) -> np.ndarray:
    """One integer per n-gram (last axis) in positional base ``base``."""
    key = np.zeros(codes.shape[:-1], dtype=codes.dtype)
    for j in range(codes.shape[-1]):
        key = key * base + codes[..., j]
    return key


def _tfidf_counts(tokens: np.ndarray, pool: np.ndarray, ngram_counts: list[int],
                  ngram_indexes: list[int], n_min: int, n_max: int,
                  max_skip: int) -> np.ndarray:
    """counts[row, output index] of every pooled n-gram of length n_min..n_max."""
    counts = np.zeros((tokens.shape[0], max(ngram_indexes, default=-1) + 1), dtype=np.float32)
    vocab = np.unique(pool)
    if vocab.size == 0:
        return counts
    base = len(vocab) + 1  # code len(vocab) marks a token outside the pool
    # Python-int (object) keys when int64 could overflow: exact, only slower.
    key_dtype = np.int64 if base ** max(n_max, 1) < 2 ** 62 else object
    pos = np.searchsorted(vocab, tokens).clip(0, len(vocab) - 1)
    codes = np.where(vocab[pos] == tokens, pos, len(vocab)).astype(key_dtype)
    pool_codes = np.searchsorted(vocab, pool).astype(key_dtype)
    n_rows, n_tok = codes.shape
    first = 0  # ordinal of the level's first n-gram in ngram_indexes
    for n, (start, end) in enumerate(_level_ranges(ngram_counts, len(pool)), start=1):
        grams = pool_codes[start:end].reshape(-1, n)
        out_idx = np.asarray(ngram_indexes[first:first + len(grams)], dtype=np.int64)
        first += len(grams)
        if not n_min <= n <= n_max or len(grams) == 0:
            continue
        keys = _encode(grams, base)
        order = np.argsort(keys)
        keys, out_idx = keys[order], out_idx[order]
        # Skips only matter from bigrams on: a unigram is counted once per position.
        for skip in range(max_skip + 1 if n > 1 else 1):
            dist = skip + 1
            n_win = n_tok - (n - 1) * dist
            if n_win <= 0:
                break
            offsets = np.arange(n_win)[:, None] + dist * np.arange(n)
            win = _encode(codes[:, offsets], base)  # [rows, windows]
            at = np.searchsorted(keys, win).clip(0, len(keys) - 1)
            hit = keys[at] == win
            rows = np.broadcast_to(np.arange(n_rows)[:, None], win.shape)
            np.add.at(counts, (rows[hit], out_idx[at[hit]]), 1.0)
    return counts


@kernel("TfIdfVectorizer", since=9)
def tf_idf_vectorizer(X: np.ndarray, *, max_gram_length: int, max_skip_count: int,
                      min_gram_length: int, mode: str, ngram_counts: list[int],
                      ngram_indexes: list[int], pool_int64s: list[int] | None = None,
                      pool_strings: list[str] | None = None,
                      weights: list[float] | None = None) -> np.ndarray:
    """TfIdfVectorizer-9(X [C] or [N, C]) -> Y float32 [max(ngram_indexes)+1] or [N, ...]."""
    if pool_strings is not None:
        pool = np.array(pool_strings, dtype=object)
        tokens = X.astype(object)
    elif pool_int64s is not None:
        pool, tokens = np.asarray(pool_int64s, dtype=np.int64), X.astype(np.int64)
    else:
        raise ValueError("TfIdfVectorizer needs pool_int64s or pool_strings")
    if X.ndim not in (1, 2):
        raise ValueError(f"TfIdfVectorizer: input must be [C] or [N, C], got {X.shape}")
    counts = _tfidf_counts(tokens.reshape(1, -1) if X.ndim == 1 else tokens, pool,
                           list(ngram_counts), list(ngram_indexes), min_gram_length,
                           max_gram_length, max_skip_count)
    # weights[i] belongs to the i-th pooled n-gram, whose output column is ngram_indexes[i].
    w = np.ones(counts.shape[1], dtype=np.float32)
    if weights is not None:
        w[np.asarray(ngram_indexes, dtype=np.int64)] = weights
    if mode == "TF":
        out = counts
    elif mode == "IDF":
        out = (counts > 0) * w
    elif mode == "TFIDF":
        out = counts * w
    else:
        raise ValueError(f"TfIdfVectorizer: unknown mode {mode!r} (TF, IDF or TFIDF)")
    out = out.astype(np.float32, copy=False)
    return out.reshape(-1) if X.ndim == 1 else out
