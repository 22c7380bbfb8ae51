"""Build the labelled seed set from the hand-written bank.

    python classify/seed/build.py            # rewrite train/dev/test.jsonl and STATS.md
    python classify/seed/build.py --check    # exit 1 when the committed files differ
    python classify/seed/build.py --out DIR  # write somewhere else

The bank (``bank/*.yaml``) holds base items: a title and lead template with slots for places,
numbers, dates and names, and the labels. Each base item is expanded by label-preserving rules
(see GUIDE.md, "Cách sinh dữ liệu"):

* ``main``   the template filled with places of one of the four profiles (several provinces);
* ``cross``  the same template filled with another province's places: labelled for a profile
             it is not about, so ``relevant`` is false and every other label stays;
* ``social`` the item as a social-media post (a hand-written post or a share with a comment
             in the item's tone), some without diacritics;
* ``en``     the gist in English (foreign press unless the base says otherwise).

Sensitivity is derived from topics, tone, misleading and channel with one documented score
(``sensitivity``), plus a per-base adjustment for spread or scale. All variants of a base item
go to the same split; the split is chosen by a greedy stratification over the labels so that
every label value lands in train, dev and test. Everything is deterministic (fixed seed).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import re
import sys
import unicodedata
from collections import Counter
from pathlib import Path

import yaml

from store.taxonomy import KINDS, MISLEADING, SENSITIVITY, TONES, TOPICS

HERE = Path(__file__).resolve().parent
BANK = HERE / "bank"
SEED = 20250701

PROFILES = ("vinh_long", "ca_mau", "dong_nai", "khanh_hoa")
LANGUAGES = ("vi", "en")
SPLITS = ("train", "dev", "test")
SPLIT_RATIO = {"train": 0.70, "dev": 0.15, "test": 0.15}

# Sensitivity score (GUIDE.md, "sensitivity"): topic weight + tone + misleading + channel + adj.
TOPIC_WEIGHT_2 = {"chu_quyen_bien_dao", "dan_chu_nhan_quyen"}
TOPIC_WEIGHT_1 = {
    "bien_gioi",
    "ton_giao",
    "dan_toc",
    "iuu",
    "an_ninh_trat_tu",
    "tham_nhung_tieu_cuc",
    "dat_dai_khieu_kien",
    "tai_nan_thien_tai",
    "moi_truong",
}
TONE_POINTS = {"tich_cuc": -1, "trung_lap": 0, "tieu_cuc": 2}
MISLEADING_POINTS = {"khong": 0, "chua_kiem_chung": 2, "sai_lech": 4}
AMPLIFYING_KINDS = {"press_foreign", "social"}

# How many variants a base item gives unless it says otherwise.
DEFAULT_MAIN_WITH_PLACES = 4
DEFAULT_CROSS = 1
AUTO_SOCIAL_RATE = 0.35
UNACCENTED_RATE = 0.4
NFD_EVERY = 60  # item whose id hash % NFD_EVERY == 0 is stored decomposed (NFD)
ALT_TONE_EVERY = 60  # ... == 1 gets the other tone-mark placement (hoà/thuỷ)

COMMUNE_SLOTS = {
    "xa": None,
    "xa_nt": "!phuong",  # rural communes (xã), not wards
    "xa_bien": "bien",
    "xa_bg": "bg",
    "xa_dt": "dt",
    "phuong": "phuong",
}
SPECIAL_SLOTS = {"ong", "ba", "ten", "ngay", "gio", "tinh_tag"}
BASE_KEYS = {
    "id",
    "topics",
    "tone",
    "mis",
    "kind",
    "lang",
    "p",
    "rel",
    "t",
    "l",
    "ev",
    "n",
    "x",
    "so",
    "nso",
    "en",
    "ne",
    "en_kind",
    "adj",
    "auto_so",
    "unacc",
    "note",
    "mentions",
}
MONTHS_EN = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)
DEFAULT_UNVERIFIED = "Chưa có nguồn báo chí hay thông báo chính thức nào xác nhận thông tin này."


class BankError(ValueError):
    pass


def stable_int(text: str) -> int:
    return int(hashlib.sha256(text.encode("utf-8")).hexdigest()[:16], 16)


def strip_diacritics(text: str) -> str:
    text = text.replace("đ", "d").replace("Đ", "D").replace("\u00d0", "D")
    decomposed = unicodedata.normalize("NFD", text)
    return unicodedata.normalize(
        "NFC", "".join(c for c in decomposed if unicodedata.category(c) != "Mn")
    )


_ALT_TONE = re.compile(
    r"(?:([oO])([\u0300\u0301\u0303\u0309\u0323])([aAeE])|"
    r"(?<![qQ])([uU])([\u0300\u0301\u0303\u0309\u0323])([yY]))(?![\w])"
)


def alternate_tone_placement(text: str) -> str:
    """Move the tone mark of word-final oa/oe/uy from the first vowel to the second."""

    def swap(m: re.Match[str]) -> str:
        if m.group(1):
            return m.group(1) + m.group(3) + m.group(2)
        return m.group(4) + m.group(6) + m.group(5)

    return unicodedata.normalize("NFC", _ALT_TONE.sub(swap, unicodedata.normalize("NFD", text)))


def sensitivity(topics: list[str], tone: str, misleading: str, kind: str, adj: int = 0) -> str:
    score = 0
    if TOPIC_WEIGHT_2 & set(topics):
        score += 2
    elif TOPIC_WEIGHT_1 & set(topics):
        score += 1
    score += TONE_POINTS[tone] + MISLEADING_POINTS[misleading] + adj
    if kind in AMPLIFYING_KINDS:
        score += 1
    if score >= 4:
        return "nhay_cam"
    if score >= 2:
        return "can_chu_y"
    return "binh_thuong"


# ─────────────────────────────── places and slots ───────────────────────────────


def _pair(value: str) -> tuple[str, str]:
    vi, _, en = value.partition("|")
    return vi.strip(), (en.strip() or strip_diacritics(vi.strip()))


_UNIT_EN = (
    ("đặc khu ", "{} special zone"),
    ("phường ", "{} ward"),
    ("xã ", "{} commune"),
    ("thành phố ", "{} city"),
    ("thị xã ", "{} town"),
    ("huyện ", "{} district"),
    ("quận ", "district {}"),
)


def unit_en(vi: str) -> str:
    for prefix, pattern in _UNIT_EN:
        if vi.startswith(prefix):
            return pattern.format(strip_diacritics(vi[len(prefix) :]))
    return strip_diacritics(vi)


class Place:
    """One province's slot values."""

    def __init__(self, code: str, data: dict, profile: bool):
        self.code = code
        self.profile = profile
        self.lists: dict[str, list] = {}
        self.communes = []
        for raw in data.get("xa", []):
            name, old, district, tags = (raw.split(";") + ["", "", ""])[:4]
            self.communes.append(
                {
                    "name": name.strip(),
                    "cu": old.strip(),
                    "huyen": district.strip(),
                    "tags": set(tags.split()),
                }
            )
        for key, value in data.items():
            if key == "xa":
                continue
            values = value if isinstance(value, list) else [value]
            self.lists[key] = [_pair(v) for v in values]

    def communes_for(self, stem: str) -> list[dict]:
        tag = COMMUNE_SLOTS[stem]
        if tag is None:
            return list(self.communes)
        if tag.startswith("!"):
            return [c for c in self.communes if tag[1:] not in c["tags"]]
        return [c for c in self.communes if tag in c["tags"]]

    def supply(self, stem: str) -> int:
        if stem in COMMUNE_SLOTS:
            return len(self.communes_for(stem))
        return len(self.lists.get(stem, []))


class Bank:
    def __init__(self, root: Path = BANK):
        data = yaml.safe_load((root / "places.yaml").read_text(encoding="utf-8"))
        self.profiles = {k: Place(k, v, True) for k, v in data["profiles"].items()}
        self.others = {k: Place(k, v, False) for k, v in data["others"].items()}
        self.common = {k: [_pair(v) for v in vs] for k, vs in data["common"].items()}
        self.social = data["social"]
        if tuple(self.profiles) != PROFILES:
            raise BankError(f"profiles in places.yaml must be {PROFILES}")
        self.bases: list[dict] = []
        seen: set[str] = set()
        for path in sorted(root.glob("*.yaml")):
            if path.name == "places.yaml":
                continue
            for base in yaml.safe_load(path.read_text(encoding="utf-8")) or []:
                check_base(base, path.name)
                if base["id"] in seen:
                    raise BankError(f"duplicate base id {base['id']} ({path.name})")
                seen.add(base["id"])
                base["_file"] = path.name
                self.bases.append(base)


def check_base(base: dict, where: str) -> None:
    bid = base.get("id", "?")
    unknown = set(base) - BASE_KEYS
    if unknown:
        raise BankError(f"{where}:{bid}: unknown keys {sorted(unknown)}")
    for key in ("id", "topics", "tone", "t", "l"):
        if key not in base:
            raise BankError(f"{where}:{bid}: missing {key}")
    if not re.fullmatch(r"[a-z0-9_]+", base["id"]):
        raise BankError(f"{where}:{bid}: bad id")
    for topic in base["topics"]:
        if topic not in TOPICS:
            raise BankError(f"{where}:{bid}: unknown topic {topic}")
    if base["tone"] not in TONES:
        raise BankError(f"{where}:{bid}: unknown tone {base['tone']}")
    if base.get("mis", "khong") not in MISLEADING:
        raise BankError(f"{where}:{bid}: unknown misleading {base['mis']}")
    if base.get("kind", "press_local") not in KINDS:
        raise BankError(f"{where}:{bid}: unknown kind {base['kind']}")
    if base.get("lang", "vi") not in LANGUAGES:
        raise BankError(f"{where}:{bid}: unknown language {base['lang']}")
    for p in base.get("p", []) or []:
        if p not in PROFILES:
            raise BankError(f"{where}:{bid}: unknown profile {p}")
    if base.get("mis", "khong") == "sai_lech" and not base.get("ev"):
        raise BankError(f"{where}:{bid}: sai_lech needs its evidence (ev)")


# ─────────────────────────────── rendering ───────────────────────────────

_TOKEN = re.compile(r"\{([^{}]+)\}")
_SLOT = re.compile(r"([a-z_]+?)(\d*)(?:\.([a-z_]+))?")


def slot_stems(*templates: str) -> set[tuple[str, str]]:
    """The (stem, index) of every place or name slot used; named values are left out."""
    tokens = [tok for template in templates for tok in _TOKEN.findall(template)]
    defined = {tok.split("=", 1)[0] for tok in tokens if re.match(r"[a-z_]\w*=", tok)}
    stems = set()
    for tok in tokens:
        expr = tok.split("=", 1)[1] if re.match(r"[a-z_]\w*=", tok) else tok
        m = _SLOT.fullmatch(expr)
        if m and (m.group(1) + m.group(2)) not in defined:
            stems.add((m.group(1), m.group(2)))
    return stems


class Context:
    """The values picked for one variant; rendered in Vietnamese or English."""

    def __init__(self, bank: Bank, place: Place, rng: random.Random):
        self.bank = bank
        self.place = place
        self.rng = rng
        self.cache: dict[str, object] = {}
        self.used: set[str] = set()

    def render(self, template: str, lang: str) -> str:
        def repl(m: re.Match[str]) -> str:
            return self.resolve(m.group(1), lang)

        text = _TOKEN.sub(repl, template)
        if "{" in text or "}" in text:
            raise BankError(f"unrendered slot in {template!r}")
        return unicodedata.normalize("NFC", re.sub(r"\s+", " ", text).strip())

    def resolve(self, tok: str, lang: str) -> str:
        named = re.fullmatch(r"([a-z_]\w*)=(.+)", tok)
        if named:
            name, expr = named.groups()
            if name not in self.cache:
                self.cache[name] = self.evaluate(expr)
            return self.format(self.cache[name], lang, None)
        m = _SLOT.fullmatch(tok)
        if m:
            stem, idx, attr = m.groups()
            key = stem + idx
            if key in self.cache:
                return self.format(self.cache[key], lang, attr)
            self.cache[key] = self.pick(stem)
            return self.format(self.cache[key], lang, attr)
        return self.format(self.evaluate(tok), lang, None)

    def evaluate(self, expr: str) -> object:
        rng = self.rng
        num = re.fullmatch(r"([nfy]):(\d+(?:\.\d+)?)-(\d+(?:\.\d+)?)(?::(\d+))?", expr)
        if num:
            lo, hi = float(num.group(2)), float(num.group(3))
            if num.group(1) == "y":
                return ("text", str(rng.randint(int(lo), int(hi))))
            if num.group(1) == "n":
                step = int(num.group(4) or 1)
                return ("int", rng.randrange(int(lo), int(hi) + 1, step))
            return ("float", round(rng.uniform(lo, hi), 1))
        if "|" in expr:
            return ("text", rng.choice(expr.split("|")))
        m = _SLOT.fullmatch(expr)
        if m:
            return self.pick(m.group(1))
        raise BankError(f"cannot evaluate {{{expr}}}")

    def pick(self, stem: str) -> object:
        rng = self.rng
        place = self.place
        if stem in COMMUNE_SLOTS:
            options = [c for c in place.communes_for(stem) if c["name"] not in self.used]
            if not options:
                raise BankError(f"{place.code}: no commune left for {{{stem}}}")
            chosen = rng.choice(options)
            self.used.add(chosen["name"])
            return ("commune", chosen)
        if stem in ("ong", "ba", "ten"):
            common = self.bank.common
            female = stem == "ba" or (stem == "ten" and rng.random() < 0.4)
            parts = [
                rng.choice(common["ho"])[0],
                rng.choice(common["dem_nu" if female else "dem_nam"])[0],
                rng.choice(common["ten_nu" if female else "ten_nam"])[0],
            ]
            title = {"ong": "ông ", "ba": "bà "}.get(stem, "")
            return ("name", (title, " ".join(parts)))
        if stem == "ngay":
            return ("date", (rng.randint(1, 28), rng.randint(1, 12)))
        if stem == "gio":
            return ("time", (rng.randint(5, 22), rng.choice((0, 15, 30, 45))))
        if stem == "tinh_tag":
            tag = strip_diacritics(place.lists["tinh"][0][0])
            return ("text", tag.replace(" ", "").replace(".", ""))
        values = place.lists.get(stem) or self.bank.common.get(stem)
        if not values:
            raise BankError(f"{place.code}: no values for {{{stem}}}")
        options = [v for v in values if v[0] not in self.used] or values
        chosen = rng.choice(options)
        self.used.add(chosen[0])
        return ("pair", chosen)

    @staticmethod
    def format(value: object, lang: str, attr: str | None) -> str:
        kind, data = value  # type: ignore[misc]
        en = lang == "en"
        if kind == "int":
            return f"{data:,}".replace(",", "," if en else ".")
        if kind == "float":
            return f"{data:.1f}" if en else f"{data:.1f}".replace(".", ",")
        if kind == "text":
            return data
        if kind == "pair":
            return data[1] if en else data[0]
        if kind == "commune":
            if attr == "cu":
                return strip_diacritics(data["cu"]) if en else data["cu"]
            if attr == "huyen":
                return unit_en(data["huyen"]) if en else data["huyen"]
            if attr:
                raise BankError(f"unknown commune attribute {attr}")
            return unit_en(data["name"]) if en else data["name"]
        if kind == "name":
            title, full = data
            return strip_diacritics(full) if en else title + full
        if kind == "date":
            day, month = data
            return f"{MONTHS_EN[month - 1]} {day}" if en else f"{day}/{month}"
        if kind == "time":
            hour, minute = data
            if en:
                return f"{hour}:{minute:02d}"
            return f"{hour}h{minute:02d}" if minute else f"{hour}h"
        raise BankError(f"unknown value kind {kind}")


_BAD_RENDER = re.compile(r"tỉnh (TP\b|TP\.|Cần Thơ|Đà Nẵng|Hà Nội|Huế|Hải Phòng)|province province")


# ─────────────────────────────── expansion ───────────────────────────────


def templates_of(base: dict) -> list[str]:
    out = [base["t"], base["l"], base.get("ev", "")]
    for extra in ("so", "en"):
        value = base.get(extra)
        if isinstance(value, dict):
            out += [value.get("t", ""), value.get("l", "")]
        elif isinstance(value, list):
            for v in value:
                out += [v.get("t", ""), v.get("l", "")]
    return out


def eligible(places: list[Place], stems: set[tuple[str, str]]) -> list[Place]:
    need = Counter(stem for stem, _ in stems if stem not in SPECIAL_SLOTS)
    out = []
    for place in places:
        ok = True
        for stem, count in need.items():
            if stem in COMMUNE_SLOTS or stem in place.lists:
                if place.supply(stem) < count:
                    ok = False
            elif stem not in ("nuoc", "bao_tw", "tk"):
                ok = False
        if ok:
            out.append(place)
    return out


PLACE_FREE = {"nuoc", "bao_tw", "tk"} | SPECIAL_SLOTS


def expand(bank: Bank, base: dict) -> list[dict]:
    bid = base["id"]
    rng = random.Random(stable_int(f"{SEED}:{bid}"))
    stems = slot_stems(*templates_of(base))
    has_places = any(stem not in PLACE_FREE for stem, _ in stems)
    wanted = base.get("p") or list(PROFILES)
    profiles = eligible([bank.profiles[p] for p in wanted], stems)
    if not profiles:
        raise BankError(f"{bid}: no profile has every slot {sorted(stems)}")
    rng.shuffle(profiles)
    kind = base.get("kind", "press_local")
    lang = base.get("lang", "vi")
    topics = list(base["topics"])
    tone = base["tone"]
    mis = base.get("mis", "khong")
    relevant = bool(base.get("rel", True))
    adj = int(base.get("adj", 0))
    unacc_rate = float(base.get("unacc", UNACCENTED_RATE))
    items: list[dict] = []

    def make(
        variant: str,
        place: Place,
        profile: str,
        rel: bool,
        ikind: str,
        ilang: str,
        tpl: dict,
        unaccent: bool = False,
    ) -> None:
        ctx = Context(bank, place, rng)
        title = ctx.render(tpl["t"], ilang)
        lead = ctx.render(tpl["l"], ilang)
        evidence = None
        if mis != "khong":
            evidence = ctx.render(base.get("ev") or DEFAULT_UNVERIFIED, "vi")
        for text in (title, lead):
            if _BAD_RENDER.search(text):
                raise BankError(f"{bid}: bad rendering {text!r}")
        if unaccent:
            title, lead = strip_diacritics(title), strip_diacritics(lead)
            if rng.random() < 0.5:
                title, lead = title.lower(), lead.lower()
        item = {
            "id": f"{bid}-{len(items) + 1:02d}",
            "title": title,
            "lead": lead,
            "kind": ikind,
            "language": ilang,
            "province": profile,
            "relevant": rel,
            "topics": topics,
            "tone": tone,
            "sensitivity": sensitivity(topics, tone, mis, ikind, adj),
            "misleading": mis,
            "split": None,
            "base": bid,
            "variant": variant,
        }
        if evidence:
            item["evidence"] = evidence
        items.append(item)

    main = {"t": base["t"], "l": base["l"]}
    n_main = int(base.get("n", DEFAULT_MAIN_WITH_PLACES if has_places else 1))
    for i in range(n_main):
        place = profiles[i % len(profiles)]
        unaccent = kind == "social" and lang == "vi" and rng.random() < unacc_rate
        make("main", place, place.code, relevant, kind, lang, main, unaccent)

    n_cross = int(base.get("x", DEFAULT_CROSS if (has_places and relevant) else 0))
    if n_cross:
        others = eligible(list(bank.others.values()), stems)
        if not others and "x" in base:
            raise BankError(f"{bid}: no other province has every slot for cross variants")
        for _ in range(n_cross if others else 0):
            other = rng.choice(others)
            profile = rng.choice(profiles).code
            unaccent = kind == "social" and lang == "vi" and rng.random() < unacc_rate
            make("cross", other, profile, False, kind, lang, main, unaccent)

    if kind != "social":
        social = base.get("so")
        socials = social if isinstance(social, list) else ([social] if social else [])
        auto = base.get("auto_so")
        auto_ok = lang == "vi" and relevant
        if not socials and (auto or (auto is None and auto_ok and rng.random() < AUTO_SOCIAL_RATE)):
            socials = [wrap_social(bank, base, rng)]
        n_social = int(base.get("nso", len(socials)))
        for i in range(n_social):
            place = profiles[(i + 1) % len(profiles)]
            unaccent = rng.random() < unacc_rate
            make(
                "social",
                place,
                place.code,
                relevant,
                "social",
                "vi",
                socials[i % len(socials)],
                unaccent,
            )

    english = base.get("en")
    if english:
        n_en = int(base.get("ne", 1))
        for i in range(n_en):
            place = profiles[(i + 2) % len(profiles)]
            make(
                "en",
                place,
                place.code,
                relevant,
                base.get("en_kind", "press_foreign"),
                "en",
                english,
            )
    return items


def wrap_social(bank: Bank, base: dict, rng: random.Random) -> dict:
    tone = base["tone"]
    prefix = rng.choice(bank.social["prefix"][tone])
    suffix = rng.choice(bank.social["suffix"][tone])
    return {"t": f"{prefix} {base['t']}", "l": f"{base['l']} {suffix}"}


# ─────────────────────────────── splits ───────────────────────────────


def label_keys(item: dict) -> list[str]:
    keys = [f"topic:{t}" for t in item["topics"]] or ["topic:none"]
    keys += [
        f"tone:{item['tone']}",
        f"sensitivity:{item['sensitivity']}",
        f"misleading:{item['misleading']}",
        f"kind:{item['kind']}",
        f"language:{item['language']}",
        f"relevant:{item['relevant']}",
        f"province:{item['province']}",
    ]
    return keys


def assign_splits(groups: dict[str, list[dict]]) -> dict[str, str]:
    """Greedy stratification of base items (groups) over train/dev/test."""
    totals: Counter[str] = Counter()
    counts = {}
    for bid, items in groups.items():
        c: Counter[str] = Counter()
        for item in items:
            c.update(label_keys(item))
        counts[bid] = c
        totals.update(c)
    n_items = sum(len(v) for v in groups.values())
    current = {s: Counter() for s in SPLITS}
    size = dict.fromkeys(SPLITS, 0)

    def rarity(bid: str) -> tuple:
        return (min(totals[k] for k in counts[bid]), stable_int(f"{SEED}:split:{bid}"))

    assignment = {}
    for bid in sorted(groups, key=rarity):
        best, best_score = None, None
        for split in SPLITS:
            ratio = SPLIT_RATIO[split]
            need = 0.0
            for key, c in counts[bid].items():
                want = totals[key] * ratio
                # relative shortfall of this split for this label, weighted towards rare labels
                need += c * (want - current[split][key]) / want / totals[key] ** 0.5
            need += (n_items * ratio - size[split]) / (n_items * ratio)
            if best_score is None or need > best_score:
                best, best_score = split, need
        assignment[bid] = best
        current[best].update(counts[bid])
        size[best] += len(groups[bid])
    return assignment


# ─────────────────────────────── build ───────────────────────────────


# Names that tie a text to a profile besides the province's own and former names.
EXTRA_MARKERS = {
    "vinh_long": ["Cổ Chiên", "Ba Tri", "Cầu Ngang"],
    "ca_mau": ["Hòn Khoai", "Sông Đốc", "U Minh Hạ", "Đất Mũi"],
    "dong_nai": ["Biên Hòa", "Long Thành", "Đồng Xoài", "Hoa Lư"],
    "khanh_hoa": ["đặc khu Trường Sa", "Nha Trang", "Cam Ranh", "Phan Rang"],
}


def profile_markers(bank: Bank) -> dict[str, re.Pattern[str]]:
    out = {}
    for code, place in bank.profiles.items():
        names = [v[0] for v in place.lists["tinh"]] + [v[0] for v in place.lists.get("tinh_cu", [])]
        names += EXTRA_MARKERS[code]
        names += [strip_diacritics(n) for n in names]
        out[code] = re.compile(r"\b(" + "|".join(map(re.escape, names)) + r")\b")
    return out


def check_mentions(bank: Bank, base: dict, items: list[dict]) -> None:
    """A cross item must name no profile; a relevant item no profile but its own."""
    markers = profile_markers(bank)
    allowed = set(base.get("mentions", []))
    for item in items:
        text = item["title"] + " " + item["lead"]
        for code, pattern in markers.items():
            if code in allowed:
                continue
            if item["variant"] == "cross" or (item["relevant"] and code != item["province"]):
                m = pattern.search(text)
                if m:
                    raise BankError(
                        f"{base['id']}: {item['variant']} item for {item['province']} names "
                        f"{m.group(0)!r} ({code}); set x: 0 or list it under mentions"
                    )


def build(root: Path = BANK) -> dict[str, list[dict]]:
    bank = Bank(root)
    groups: dict[str, list[dict]] = {}
    for base in bank.bases:
        groups[base["id"]] = expand(bank, base)
        check_mentions(bank, base, groups[base["id"]])
    seen: dict[tuple[str, str], str] = {}
    for bid, items in groups.items():
        unique = []
        for item in items:
            key = (item["title"], item["lead"])
            if key in seen:
                if seen[key] != bid:
                    raise BankError(f"{bid}: same text as an item of {seen[key]}")
                continue
            seen[key] = bid
            unique.append(item)
        for i, item in enumerate(unique, 1):
            item["id"] = f"{bid}-{i:02d}"
            h = stable_int(f"{SEED}:form:{item['id']}")
            if item["language"] == "vi" and strip_diacritics(item["title"]) != item["title"]:
                if h % NFD_EVERY == 0:
                    item["title"] = unicodedata.normalize("NFD", item["title"])
                    item["lead"] = unicodedata.normalize("NFD", item["lead"])
                    item["nfd"] = True
                elif h % ALT_TONE_EVERY == 1:
                    item["title"] = alternate_tone_placement(item["title"])
                    item["lead"] = alternate_tone_placement(item["lead"])
        groups[bid] = unique
    assignment = assign_splits(groups)
    out = {s: [] for s in SPLITS}
    for bid, items in groups.items():
        for item in items:
            item["split"] = assignment[bid]
            out[assignment[bid]].append(item)
    return out


def to_jsonl(items: list[dict]) -> str:
    return "".join(json.dumps(item, ensure_ascii=False) + "\n" for item in items)


def has_diacritics(text: str) -> bool:
    text = unicodedata.normalize("NFC", text)
    return strip_diacritics(text) != text


_SECOND_VOWEL_MARK = re.compile(r"(?i)(oà|oá|oả|oã|oạ|oè|oé|oẻ|uỳ|uý|uỷ|uỹ|uỵ)(?!\w)")


def text_form(item: dict, form: str) -> bool:
    text = unicodedata.normalize("NFC", item["title"] + " " + item["lead"])
    if form.startswith("social"):
        return item["kind"] == "social" and item["language"] == "vi" and not has_diacritics(text)
    if form.startswith("NFD"):
        return bool(item.get("nfd", False))
    return bool(_SECOND_VOWEL_MARK.search(text))


def stats(splits: dict[str, list[dict]]) -> str:
    everything = [i for s in SPLITS for i in splits[s]]
    lines = [
        "# Seed set — counts per label and split",
        "",
        "Generated by `python classify/seed/build.py`; do not edit by hand.",
        "",
        f"Items: {len(everything)}; base items: {len({i['base'] for i in everything})}.",
        "",
    ]

    def table(title: str, values: list[str], get) -> None:
        lines.append(f"## {title}")
        lines.append("")
        lines.append("| value | " + " | ".join(SPLITS) + " | total |")
        lines.append("|---|" + "---:|" * (len(SPLITS) + 1))
        for value in values:
            row = [sum(1 for i in splits[s] if get(i, value)) for s in SPLITS]
            lines.append(f"| `{value}` | " + " | ".join(map(str, row)) + f" | {sum(row)} |")
        lines.append("")

    bases = {s: len({i["base"] for i in splits[s]}) for s in SPLITS}
    lines.append("## Split sizes")
    lines.append("")
    lines.append("| split | items | base items |")
    lines.append("|---|---:|---:|")
    for s in SPLITS:
        lines.append(f"| {s} | {len(splits[s])} | {bases[s]} |")
    lines.append("")
    table("topics (multi-label)", list(TOPICS), lambda i, v: v in i["topics"])
    table(
        "topics: how many per item",
        ["0", "1", "2", "3+"],
        lambda i, v: str(min(len(i["topics"]), 3)).replace("3", "3+") == v,
    )
    table("tone", list(TONES), lambda i, v: i["tone"] == v)
    table("sensitivity", list(SENSITIVITY), lambda i, v: i["sensitivity"] == v)
    table("misleading", list(MISLEADING), lambda i, v: i["misleading"] == v)
    table("kind", list(KINDS), lambda i, v: i["kind"] == v)
    table("language", list(LANGUAGES), lambda i, v: i["language"] == v)
    table("province (profile labelled for)", list(PROFILES), lambda i, v: i["province"] == v)
    table("relevant", ["true", "false"], lambda i, v: str(i["relevant"]).lower() == v)
    table(
        "variant (how the item was made)",
        ["main", "cross", "social", "en"],
        lambda i, v: i["variant"] == v,
    )
    table(
        "text form",
        ["social without diacritics", "NFD (nfd: true)", "tone mark on 2nd vowel (hoà/thuỷ)"],
        text_form,
    )
    table(
        "sensitivity by kind",
        [f"{k} / {s}" for k in KINDS for s in SENSITIVITY],
        lambda i, v: v == f"{i['kind']} / {i['sensitivity']}",
    )
    return "\n".join(lines).rstrip() + "\n"


def outputs(root: Path = BANK) -> dict[str, str]:
    splits = build(root)
    files = {f"{s}.jsonl": to_jsonl(splits[s]) for s in SPLITS}
    files["STATS.md"] = stats(splits)
    return files


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=HERE)
    parser.add_argument("--check", action="store_true", help="compare instead of writing")
    args = parser.parse_args(argv)
    files = outputs()
    if args.check:
        stale = [
            name
            for name, text in files.items()
            if not (args.out / name).exists()
            or (args.out / name).read_bytes() != text.encode("utf-8")
        ]
        if stale:
            print("out of date: " + ", ".join(stale), file=sys.stderr)
            return 1
        return 0
    args.out.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (args.out / name).write_bytes(text.encode("utf-8"))
    counts = {s: files[f"{s}.jsonl"].count("\n") for s in SPLITS}
    print(f"wrote {sum(counts.values())} items ({counts}) to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
