"""Suggest the platform (110 or 12345) and the catalog entry for an agent's note.

The note (what the caller said, in Chinese) is segmented with a private ``jieba``
tokenizer that knows every catalog keyword, cue word and synonym. Catalog entries are
ranked with BM25 over their keywords, sub-category and matter text, and, at a lower
weight, over the character bigrams of that text, so a word neither the catalog nor the
tokenizer knows still meets catalog wording that shares its characters. A synonym table
(``data/synonyms.csv``) adds the catalog's own words for caller wording (顺走 means 被偷;
a bag nobody owns means 可疑包裹). Separately, danger cues (fire, violence, injury, a
person missing...) are added up, skipping the ones a negation in the same clause reaches
(没有人受伤). A note whose danger score reaches the threshold is an emergency and always
goes to 110; a weaker danger signal still tips a close call to 110, because a missed
emergency costs far more than a false alarm. A note naming an offence of the 110 list
(盗窃, 诈骗...) also leans to 110 when a 110 entry is close, urgent or not: a theft
reported the next day is still a police matter. A question about a procedure or about
who is in charge (需要什么材料, 归谁管) with no danger in it is a consultation and goes
to 12345, even when its topic is a police service.

Three more signals follow the seeds' duty split (110: 违法犯罪, 治安, 紧急危险; 12345:
non-emergency 咨询, 求助, 投诉, 建议). A caller who says they want to report to the police
(报案, 要报警) goes to 110 unless the note asks about paperwork (报案回执怎么补办). A
victim of an offence, 被 followed in its clause by a harm verb (被人打了, 被跟踪, 被他们骗
了), goes to 110 unless negated (没有被骗). Worry or prevention words (担心, 预防, 容易)
turn the danger cues they reach in their clause into a hazard: 担心着火, 容易掉下去
describe no event, so they are neither danger nor 110 matches.

Pure: the only I/O is reading the packaged data when a ``Recommender`` is built.
"""

from __future__ import annotations

import asyncio
import math
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from itertools import pairwise
from typing import Any

import jieba

from tickets.catalog import (
    Catalog,
    CatalogEntry,
    CueLexicon,
    SynonymTable,
    load_default_cues,
    load_default_synonyms,
    load_jurisdiction,
)

EMERGENCY_THRESHOLD = 1.0  # danger score at which a note is an emergency
LEAN_THRESHOLD = 0.5       # a weaker danger signal: prefer a close 110 match
LEAN_RATIO = 0.3           # ... when its score is at least this share of the best score
NEGATION_REACH = 3         # tokens after a negator that it negates
WORRY_REACH = 4            # tokens after a worry word that it makes a hazard
VICTIM_REACH = 4           # tokens after 被 in which a harm verb names a victim
# Question words that do not make a report or a victim's call a consultation: 请问我被骗
#了 is still a report; 报案回执怎么补办 (a procedure) is not.
GENERIC_QUESTIONS = frozenset({"请问", "问一下", "想问一下", "想问问", "咨询", "想了解"})
# Words holding a report word that name a device or a number, not an intent to report.
NOT_REPORTING = ("报警器", "报警装置", "报警系统", "报警电话", "报警按钮")
# Words starting like a victim's words that are none (被打扰 is noise, not 被打).
NOT_HARM = ("被打扰", "打扰", "被打折", "打折", "被打开", "打开", "被打断", "打断")
BM25_K1 = 1.2
BM25_B = 0.3
FIELD_WEIGHTS = {"keywords": 2.0, "sub_category": 1.5, "matter": 1.0}
NGRAM_WEIGHT = 0.3         # share of a character bigram's BM25 score against a whole word's
NGRAM_MARK = "\x02"        # prefix keeping bigram terms apart from words of the same text
OFFENCE_RATIO = 0.2        # an offence leans to 110 when its entry has this share of the best
SYNONYM_REACH = 3          # tokens a one-part synonym may span (偷/走 of 被人偷走)
# 110 entries whose words are no offence of their own: a generic plea, police conduct.
NOT_OFFENCE_CATEGORIES = ("其他", "涉警")
NEGATING_CHARS = frozenset("没不无未别")
CLAUSE_ENDS = frozenset("，。！？；,.!?;：:\n")
# Words containing 不/没 that do not negate what follows (有没有人受伤 is a question).
NOT_NEGATING = ("不知道", "不清楚", "不确定", "有没有", "是不是", "不得了", "不行了",
                "受不了", "来不及", "不停", "不断", "止不住", "拦不住", "劝不住")
STOPWORDS = frozenset({"的", "了", "我", "你", "他", "她", "它", "我们", "他们", "她们",
                       "是", "在", "有", "和", "就", "都", "也", "还", "这", "那", "这个",
                       "那个", "一个", "吗", "呢", "啊", "吧", "呀", "着", "说", "到", "去",
                       "给", "被", "把", "让", "从", "对", "等", "与", "或", "人", "们",
                       "我家", "家里", "已经", "什么", "一下", "一直", "现在", "今天",
                       "昨天", "晚上", "这里", "那里", "这边", "那边", "请问", "您好", "你好",
                       "有人", "路上", "地上", "怎么", "怎么办", "区里", "不到", "里面",
                       "一条", "发现", "觉得", "出门", "门口", "好像", "问一下"})


@dataclass(frozen=True, slots=True)
class Recommendation:
    platform: str
    category: str
    sub_category: str
    matter: str
    entry_id: str
    responsible_unit: str
    confidence: float
    emergency: bool
    reasons: tuple[str, ...]

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["reasons"] = list(self.reasons)
        return data


@dataclass(frozen=True, slots=True)
class _Token:
    text: str
    negated: bool
    hazard: bool = False  # reached by a worry word (担心着火): no event


@dataclass(frozen=True, slots=True)
class _Danger:
    score: float
    cues: tuple[str, ...]
    negated: tuple[str, ...]


class Recommender:
    """Ranks the entries of one catalog for a free-text note; build once, reuse."""

    def __init__(self, catalog: Catalog, cues: CueLexicon | None = None,
                 emergency_threshold: float = EMERGENCY_THRESHOLD,
                 synonyms: SynonymTable | None = None) -> None:
        self.catalog = catalog
        self.cues = cues if cues is not None else load_default_cues()
        self.synonyms = synonyms if synonyms is not None else load_default_synonyms()
        self.emergency_threshold = emergency_threshold
        self._danger = self.cues.terms("danger")
        self._negators = self.cues.terms("negator")
        self._urgent = self.cues.terms("urgent")
        self._breakers = self.cues.terms("breaker")
        self._consult = tuple(self.cues.terms("consult"))
        self._report = frozenset(self.cues.terms("report"))
        self._harm = frozenset(self.cues.terms("harm"))
        self._worry = frozenset(self.cues.terms("worry"))
        self._word_synonyms: dict[str, tuple[str, ...]] = {}
        for synonym in self.synonyms.synonyms:
            if len(synonym.groups) == 1:
                for word in synonym.groups[0]:
                    self._word_synonyms[word] = self._word_synonyms.get(word, ()) + synonym.means
        self._joint_synonyms = [(s.groups, s.means) for s in self.synonyms.synonyms if len(s.groups) > 1]
        self._singles = frozenset({k for e in catalog.entries for k in e.keywords if len(k) == 1}
                                  | {t for t in self._danger if len(t) == 1})
        self._keywords = frozenset(k for e in catalog.entries for k in e.keywords if len(k) > 1)
        self._tokenizer = self._build_tokenizer()
        self._docs = [self._document(e) for e in catalog.entries]
        self._alarm_words = frozenset(t for e, d in zip(catalog.entries, self._docs, strict=True)
                                      if e.platform == "110" for t in d)
        self._avg_len = sum(sum(d.values()) for d in self._docs) / len(self._docs)
        self._idf = self._inverse_document_frequency()
        self._offences = [self._offence_words(e) for e in catalog.entries]

    @classmethod
    def for_jurisdiction(cls, name: str = "default") -> Recommender:
        return cls(load_jurisdiction(name))

    # --- set-up -----------------------------------------------------------------------

    def _build_tokenizer(self) -> jieba.Tokenizer:
        tokenizer = jieba.Tokenizer()
        tokenizer.initialize()
        words = {k for e in self.catalog.entries for k in e.keywords}
        words.update(c.term for c in self.cues.cues)
        words.update(self._word_synonyms)
        words.update(NOT_NEGATING)
        words.update(NOT_REPORTING)
        words.update(NOT_HARM)
        for word in sorted(words):
            if len(word) > 1 and " " not in word:
                tokenizer.add_word(word, freq=max(tokenizer.suggest_freq(word), 1000))
        return tokenizer

    def _document(self, entry: CatalogEntry) -> dict[str, float]:
        doc: defaultdict[str, float] = defaultdict(float)  # weighted term counts
        fields = {"sub_category": entry.sub_category, "matter": entry.matter}
        for name, text in fields.items():
            for term in self._terms(self._tokenize(text), keep_negated=True):
                doc[term] += FIELD_WEIGHTS[name]
        for keyword in entry.keywords:  # whole keywords, not their parts: 抢手机 is no 手机
            doc[keyword] += FIELD_WEIGHTS["keywords"]
        texts = {"sub_category": [entry.sub_category], "matter": [entry.matter], "keywords": entry.keywords}
        for name, parts in texts.items():
            for part in parts:
                for gram in _bigrams(part):
                    doc[gram] += FIELD_WEIGHTS[name]
        return doc

    def _offence_words(self, entry: CatalogEntry) -> frozenset[str]:
        """The words naming an offence of a 110 entry: its keywords and its sub-category."""
        if entry.platform != "110" or any(c in entry.category for c in NOT_OFFENCE_CATEGORIES):
            return frozenset()
        return frozenset(k for k in (*entry.keywords, entry.sub_category) if len(k) > 1)

    def _inverse_document_frequency(self) -> dict[str, float]:
        df: Counter[str] = Counter(t for d in self._docs for t in d)
        n = len(self._docs)
        return {t: math.log(1 + (n - f + 0.5) / (f + 0.5)) for t, f in df.items()}

    # --- text ---------------------------------------------------------------------------

    def _tokenize(self, text: str) -> list[_Token]:
        """Segment ``text`` and mark the tokens a negator or a worry word reaches in its
        clause."""
        tokens: list[_Token] = []
        reach = worry = 0
        for word in self._tokenizer.lcut(text.strip()):
            if word in CLAUSE_ENDS or not word.strip():
                reach = worry = 0
                continue
            if word in self._breakers or word == "的":
                reach = 0
                continue
            if word in self._negators:
                reach = NEGATION_REACH
                tokens.append(_Token(word, False, worry > 0))
                continue
            if word in self._worry:
                worry = WORRY_REACH + 1
            tokens.append(_Token(word, reach > 0, worry > 0 and word not in self._worry))
            reach = max(reach - 1, 0)
            worry = max(worry - 1, 0)
        return tokens

    def _expand(self, word: str) -> Iterable[str]:
        """The word and the dictionary words of two or three characters inside it."""
        yield word
        if word in NOT_HARM:
            return  # 被打扰 holds no 被打
        freq = self._tokenizer.FREQ
        for size in (2, 3):
            if len(word) > size:
                for i in range(len(word) - size + 1):
                    part = word[i:i + size]
                    if freq.get(part):
                        yield part

    def _terms(self, tokens: list[_Token], keep_negated: bool = False) -> list[str]:
        terms: list[str] = []
        for token in tokens:
            if (token.negated or token.hazard) and not keep_negated and (
                    self._cue_words(token) or token.text in self._alarm_words):
                continue  # 没有人受伤, 没有伤人 must not match the 110 entries
            for term in self._expand(token.text):
                if term in STOPWORDS or term in self._negators:
                    continue
                if len(term) == 1 and term not in self._singles:
                    continue
                terms.append(term)
        return terms

    def _synonyms(self, text: str, tokens: list[_Token]) -> list[_Token]:
        """The catalog words the note's wording stands for, as tokens: a one-part synonym
        found in up to ``SYNONYM_REACH`` tokens in a row is negated when one of them is
        (unless the synonym holds the negator itself); a synonym of several parts needs
        each part somewhere in the note."""
        found: list[_Token] = []
        for i in range(len(tokens)):
            for span in range(1, SYNONYM_REACH + 1):
                window = tokens[i:i + span]
                if len(window) < span:
                    break
                joined = "".join(t.text for t in window)
                for word, means in self._word_synonyms.items():
                    at = joined.find(word)
                    if at < 0 or at >= len(window[0].text) or at + len(word) <= len(joined) - len(window[-1].text):
                        continue  # starts in the first token and ends in the last, once
                    negated = (any(t.negated for t in window)
                               and not any(n in word for n in self._negators))
                    hazard = any(t.hazard for t in window)
                    found.extend(_Token(m, negated, hazard) for m in means)
        for groups, means in self._joint_synonyms:
            if all(any(w in text for w in group) for group in groups):
                found.extend(_Token(m, False) for m in means)
        return found

    def _ngrams(self, tokens: list[_Token]) -> list[str]:
        """Character bigrams of the note's words and across neighbouring words, skipping
        negated words, negators and stopwords."""
        grams: list[str] = []
        kept = [t.text if not t.negated and not t.hazard and t.text not in self._negators and t.text not in STOPWORDS
                else "" for t in tokens]
        for left, right in zip(["", *kept], kept, strict=False):
            grams.extend(_bigrams(right))
            if left and right:
                grams.extend(_bigrams(left[-1] + right[0]))
        return grams

    def _straddling(self, tokens: list[_Token]) -> list[str]:
        """Catalog keywords that jieba split across two tokens (路/灯不亮 holds 路灯)."""
        found: list[str] = []
        for left, right in pairwise(tokens):
            joined = left.text + right.text
            for keyword in self._keywords:
                if (keyword in joined and keyword not in left.text and keyword not in right.text
                        and not ((left.negated or right.negated or left.hazard or right.hazard)
                                 and keyword in self._alarm_words)):
                    found.append(keyword)
        return found

    # --- scoring --------------------------------------------------------------------------

    def _bm25(self, query: Counter[str]) -> list[float]:
        scores = []
        for doc in self._docs:
            length = sum(doc.values())
            norm = BM25_K1 * (1 - BM25_B + BM25_B * length / self._avg_len)
            score = 0.0
            for term in query:
                tf = doc.get(term, 0.0)
                if tf:
                    share = NGRAM_WEIGHT if term[0] == NGRAM_MARK else 1.0
                    score += share * self._idf[term] * tf * (BM25_K1 + 1) / (tf + norm)
            scores.append(score)
        return scores

    def _cue_words(self, token: _Token) -> list[str]:
        """Danger cues in a token: the token itself, else cue words inside it (出车祸 has
        车祸) unless the token starts with a negating character (没受伤)."""
        if token.text in self._danger:
            return [token.text]
        if token.text[:1] in NEGATING_CHARS:
            return []
        return [w for w in self._expand(token.text) if w in self._danger]

    def _danger_score(self, tokens: list[_Token], meant: list[_Token]) -> _Danger:
        """Sum of the cues found (times the strongest urgency word) less half the negated
        ones; a single strong cue is never cancelled by a negated other one."""
        found: dict[str, float] = {}
        negated: dict[str, float] = {}
        for token in tokens:
            if token.hazard:
                continue  # 担心着火: a hazard, not an event
            for word in self._cue_words(token):
                (negated if token.negated else found)[word] = self._danger[word]
        for token in meant:  # a synonym counts as the cue word it means, never its parts
            if token.text in self._danger and not token.hazard:
                (negated if token.negated else found)[token.text] = self._danger[token.text]
        urgency = max([self._urgent[t.text] for t in tokens if t.text in self._urgent] or [1.0])
        total = sum(found.values()) * urgency - 0.5 * sum(negated.values())
        strong = [w * urgency for w in found.values() if w * urgency >= self.emergency_threshold]
        strongest = max(strong, default=0.0)
        return _Danger(max(total, strongest, 0.0), tuple(found), tuple(negated))

    # --- the answer -------------------------------------------------------------------

    def recommend(self, text: str) -> Recommendation:
        """The suggested platform and entry for one note."""
        tokens = self._tokenize(text)
        meant = self._synonyms(text, tokens)
        words = (self._terms(tokens) + self._straddling(tokens)
                 + [t.text for t in meant if not t.negated and not t.hazard])
        query = Counter(words + self._ngrams(tokens))
        scores = self._bm25(query)
        danger = self._danger_score(tokens, meant)
        emergency = danger.score >= self.emergency_threshold
        consult = [w for w in self._consult if w in text]
        police = self._reporting(tokens) + self._victim(tokens)
        index, reasons = self._choose(scores, danger, emergency, set(words), consult, police)
        entry = self.catalog.entries[index]
        if not emergency and entry.emergency and danger.score >= LEAN_THRESHOLD:
            emergency = True
            reasons = ["危险迹象且事项属紧急类，转110"]
        matched = sorted(t for t in query if self._docs[index].get(t) and t[0] != NGRAM_MARK)
        reasons = self._explain(reasons, danger, matched, entry)
        return Recommendation(
            platform="110" if emergency else entry.platform,
            category=entry.category, sub_category=entry.sub_category, matter=entry.matter,
            entry_id=entry.id, responsible_unit=entry.responsible_unit,
            confidence=self._confidence(scores, index, danger, emergency),
            emergency=emergency, reasons=tuple(reasons))

    def entry_for(self, text: str, platform: str) -> CatalogEntry | None:
        """The catalog entry of ``platform`` that best matches ``text``, whatever platform
        the note itself belongs to: a platform dispatches to its own handling units, so a
        12345 ticket's units come from 12345's entries even when the note sounds urgent."""
        tokens = self._tokenize(text)
        meant = self._synonyms(text, tokens)
        words = self._terms(tokens) + self._straddling(tokens) + [t.text for t in meant if not t.negated]
        best = self._best(self._bm25(Counter(words + self._ngrams(tokens))), platform)
        return None if best is None else self.catalog.entries[best]

    def _best(self, scores: list[float], platform: str | None = None,
              prefer_emergency: bool = False) -> int | None:
        best: int | None = None
        best_key = (-1.0, False)
        for i, (entry, score) in enumerate(zip(self.catalog.entries, scores, strict=True)):
            if platform and entry.platform != platform:
                continue
            key = (score * (1.25 if prefer_emergency and entry.emergency else 1.0), entry.emergency)
            if score > 0 and key > best_key:
                best, best_key = i, key
        return best

    def _fallback(self, platform: str, emergency: bool) -> int:
        """The catch-all entry of a platform (其他...), else its first entry."""
        candidates = [i for i, e in enumerate(self.catalog.entries)
                      if e.platform == platform and (e.emergency or not emergency)]
        if not candidates:
            candidates = [i for i, e in enumerate(self.catalog.entries) if e.platform == platform]
        for i in candidates:
            entry = self.catalog.entries[i]
            if "其他" in entry.category or "其他" in entry.sub_category:
                return i
        return candidates[0]

    def _reporting(self, tokens: list[_Token]) -> list[str]:
        """The words saying the caller wants to report to the police (要报警, 想报案)."""
        return [t.text for t in tokens if t.text in self._report and not t.negated and not t.hazard]

    def _victim(self, tokens: list[_Token]) -> list[str]:
        """被 and a harm verb after it in its clause (被人打了, 被跟踪, 被骗): the caller or
        someone else suffered an offence. Negated (没有被骗) or feared (担心被骗) ones are not."""
        harm = self._harm | self._danger.keys()
        found: list[str] = []
        for i, token in enumerate(tokens):
            if token.negated or token.hazard or not token.text.startswith("被"):
                continue
            if token.text != "被":
                if token.text[1:] in harm:
                    found.append(token.text)
                continue
            for later in tokens[i + 1:i + 1 + VICTIM_REACH]:
                if later.text in harm and not later.negated and not later.hazard:
                    found.append("被" + later.text)
                    break
        return found

    def _choose(self, scores: list[float], danger: _Danger, emergency: bool, words: set[str],
                consult: list[str], police: list[str]) -> tuple[int, list[str]]:
        if emergency:
            best = self._best(scores, "110", prefer_emergency=True)
            return (best if best is not None else self._fallback("110", True)), ["紧急情况转110"]
        if police and not (set(consult) - GENERIC_QUESTIONS):
            best110 = self._best([s if self._offences[i] else 0.0 for i, s in enumerate(scores)])
            if best110 is None:
                best110 = self._best(scores, "110")
            reason = "报警或受到侵害（" + "、".join(police[:3]) + "），转110"
            return (best110 if best110 is not None else self._crime_entry()), [reason]
        if consult and danger.score < LEAN_THRESHOLD:
            best12345 = self._best(scores, "12345")
            reason = "咨询类诉求（" + "、".join(consult[:3]) + "），转12345"
            return (best12345 if best12345 is not None else self._consultation()), [reason]
        best = self._best(scores)
        if best is None and danger.score >= LEAN_THRESHOLD:
            return self._fallback("110", False), ["未匹配到具体事项但有危险迹象，转110"]
        if best is None:
            return self._fallback("12345", False), ["未匹配到具体事项，按非紧急诉求处理"]
        best110 = self._best(scores, "110")
        if (danger.score >= LEAN_THRESHOLD and best110 is not None and best110 != best
                and scores[best110] >= LEAN_RATIO * scores[best]):
            return best110, ["有危险迹象，相近时优先110"]
        if self.catalog.entries[best].platform != "110":
            offence = self._best([s if words & self._offences[i] else 0.0 for i, s in enumerate(scores)])
            if offence is not None and scores[offence] >= OFFENCE_RATIO * scores[best]:
                named = sorted(words & self._offences[offence])
                return offence, ["涉及违法犯罪（" + "、".join(named[:3]) + "），转110"]
        return best, []

    def _crime_entry(self) -> int:
        """The 110 entry for crime reports (its sub-category says 犯罪), else the catch-all."""
        for i, entry in enumerate(self.catalog.entries):
            if entry.platform == "110" and "犯罪" in entry.sub_category:
                return i
        return self._fallback("110", False)

    def _consultation(self) -> int:
        """The 12345 entry for questions (its sub-category says 咨询), else the catch-all."""
        for i, entry in enumerate(self.catalog.entries):
            if entry.platform == "12345" and "咨询" in entry.sub_category:
                return i
        return self._fallback("12345", False)

    def _explain(self, reasons: list[str], danger: _Danger, matched: list[str],
                 entry: CatalogEntry) -> list[str]:
        out = list(reasons)
        if danger.cues:
            out.append("危险线索: " + "、".join(danger.cues))
        if danger.negated:
            out.append("已否定: " + "、".join(danger.negated))
        if matched:
            out.append("匹配词: " + "、".join(matched[:6]))
        out.append(f"清单事项: {entry.id} {entry.category}/{entry.sub_category}")
        return out

    def _confidence(self, scores: list[float], index: int, danger: _Danger, emergency: bool) -> float:
        ranked = sorted(scores, reverse=True)
        top = scores[index]
        second = next((s for s in ranked if s < top), 0.0) if top > 0 else 0.0
        strength = 1 - math.exp(-top / 4) if top > 0 else 0.0
        margin = (top - second) / top if top > 0 else 0.0
        lexical = strength * (0.6 + 0.4 * margin)
        if emergency:
            lexical = max(lexical, min(0.95, 0.5 + danger.score / 4))
        elif top <= 0:
            lexical = 0.15
        return round(min(max(lexical, 0.0), 1.0), 3)


def _bigrams(text: str) -> list[str]:
    """The character bigrams of the Han characters runs in ``text``, marked as such."""
    grams: list[str] = []
    run = ""
    for char in text + " ":
        if "\u4e00" <= char <= "\u9fff":
            run += char
            continue
        grams.extend(NGRAM_MARK + run[i:i + 2] for i in range(len(run) - 1))
        run = ""
    return grams


class RecommenderSource:
    """The jurisdiction's recommender, built once on first use, off the event loop (jieba
    loads its dictionary)."""

    def __init__(self, jurisdiction: str = "default") -> None:
        self.jurisdiction = jurisdiction
        self._built: asyncio.Future[Recommender] | None = None

    async def get(self) -> Recommender:
        if self._built is None:
            self._built = asyncio.ensure_future(asyncio.to_thread(Recommender.for_jurisdiction, self.jurisdiction))
        return await self._built
