"""Ranking knowledge entries for a question as an agent types it (or as the other platform
asks). Pure but for building jieba's dictionary once.

The text is segmented by a private ``jieba`` tokenizer (jieba's global dictionary is never
touched) that also knows the hotlines' own words, and cut into character bigrams and
single characters as well, so a question worded differently from the entry's still finds
it (公积金怎么取 → 住房公积金怎么提取). Entries are ranked with BM25 over the question
(weighted higher) and the answer.
"""

from __future__ import annotations

import functools
import math
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import pairwise

import jieba

from knowledge.entries import Entry

BM25_K1 = 1.2
BM25_B = 0.5
FIELD_WEIGHTS = {"question": 2.0, "answer": 1.0}
KIND_WEIGHTS = {"word": 1.0, "bigram": 0.5, "char": 0.15}
# the hotlines' words, so they stay whole (the bigrams catch the rest)
WORDS = ("公积金", "社保", "医保", "不动产", "户籍", "户口", "身份证", "居住证", "出入境", "护照",
         "港澳通行证", "签注", "挪车", "违停", "派出所", "无犯罪记录证明", "退休", "养老保险", "失业", "低保",
         "营业执照", "不动产登记", "异地就医", "临时身份证明", "驾驶证", "交通违法", "燃气", "供水", "停水", "停电")
STOPWORDS = frozenset({"的", "了", "我", "你", "他", "她", "它", "我们", "是", "在", "有", "和", "就", "都", "也",
                       "还", "这", "那", "吗", "呢", "啊", "吧", "呀", "着", "要", "想", "能", "可以", "怎么",
                       "怎么办", "怎样", "如何", "什么", "哪里", "哪儿", "请问", "您好", "你好", "一下", "需要",
                       "办理", "问", "个", "去", "到", "给", "把", "被", "对", "与", "或", "及", "等"})
STOP_CHARS = frozenset("的了我你他她它是在有和就都也还这那吗呢啊吧呀着"
                       "么怎样何什哪里儿请问您好一下个去到给把被对与或及等"
                       "，。？！、；：,.?!;: ")


# what callers say -> the words the entries use (added to a query, never to an entry)
SYNONYMS = {"外地": ("异地",), "看病": ("就医",), "报销": ("结算",), "掉了": ("丢了", "遗失"),
            "丢失": ("遗失", "丢了"), "几点": ("时间",), "上班": ("工作日", "时间"), "户口": ("户籍",),
            "挡住": ("堵住", "挪车"), "堵了": ("堵住", "挪车"), "取": ("提取",), "拿出来": ("提取",),
            "买房": ("购房",), "房产证": ("不动产权证书",), "驾照": ("驾驶证",), "罚单": ("交通违法",)}


@functools.cache
def tokenizer() -> jieba.Tokenizer:
    """jieba's segmenter with a dictionary of its own (built once, about a second)."""
    own = jieba.Tokenizer()
    own.initialize()
    for word in WORDS:
        own.add_word(word, freq=max(own.suggest_freq(word), 1000))
    return own


def terms(text: str) -> Counter[str]:
    """Weighted terms of ``text``: jieba's words (stopwords out), the bigrams of each run
    of Chinese characters, and its characters (lightly)."""
    out: Counter[str] = Counter()
    lowered = text.lower()
    for word in tokenizer().lcut(lowered):
        word = word.strip()
        if word and word not in STOPWORDS and not all(c in STOP_CHARS for c in word):
            out[f"w:{word}"] += 1
    for run in re.findall(r"[\u4e00-\u9fff]+", lowered):
        for a, b in pairwise(run):
            if a not in STOP_CHARS or b not in STOP_CHARS:
                out[f"b:{a}{b}"] += 1
        for c in run:
            if c not in STOP_CHARS:
                out[f"c:{c}"] += 1
    return out


def query_terms(query: str) -> Counter[str]:
    """A query's terms, and the entries' words for what it says in its own (``SYNONYMS``)."""
    found = terms(query)
    for said, meant in SYNONYMS.items():
        if said in query:
            for word in meant:
                found[f"w:{word}"] += 1
    return found


def _weight(term: str) -> float:
    return KIND_WEIGHTS[{"w": "word", "b": "bigram", "c": "char"}[term[0]]]


@dataclass(frozen=True, slots=True)
class Hit:
    entry: Entry
    score: float


class Index:
    """BM25 over a set of entries; build once per set, search many times."""

    def __init__(self, entries: Iterable[Entry]) -> None:
        self.entries: tuple[Entry, ...] = tuple(entries)
        self._docs: list[dict[str, float]] = []
        for entry in self.entries:
            doc: defaultdict[str, float] = defaultdict(float)
            for name, text in (("question", entry.question), ("answer", entry.answer)):
                for term, count in terms(text).items():
                    doc[term] += FIELD_WEIGHTS[name] * count
            for term, count in terms(entry.category).items():
                doc[term] += count
            self._docs.append(dict(doc))
        self._lengths = [sum(d.values()) for d in self._docs]
        self._avg = (sum(self._lengths) / len(self._lengths)) if self._lengths else 1.0
        df: Counter[str] = Counter(t for d in self._docs for t in d)
        n = len(self._docs)
        self._idf = {t: math.log(1 + (n - f + 0.5) / (f + 0.5)) for t, f in df.items()}

    def search(self, query: str, *, limit: int = 10, keep: Sequence[bool] | None = None) -> list[Hit]:
        """The best ``limit`` entries for ``query`` (sharing a word or a bigram with it), best first; ``keep``
        (one flag per entry) leaves the others out (validity, category, platform, sharing)."""
        wanted = query_terms(query)
        if not wanted:
            return []
        hits: list[Hit] = []
        for i, (entry, doc) in enumerate(zip(self.entries, self._docs, strict=True)):
            if keep is not None and not keep[i]:
                continue
            norm = BM25_K1 * (1 - BM25_B + BM25_B * self._lengths[i] / self._avg)
            score, matched = 0.0, False
            for term in wanted:
                tf = doc.get(term)
                if tf:
                    score += _weight(term) * self._idf[term] * tf * (BM25_K1 + 1) / (tf + norm)
                    matched = matched or term[0] != "c"
            if matched:  # a word or a bigram in common: single characters only refine the order
                hits.append(Hit(entry, round(score, 4)))
        hits.sort(key=lambda h: (-h.score, h.entry.id))
        return hits[:limit]
