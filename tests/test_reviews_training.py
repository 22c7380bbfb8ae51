"""Officers' decisions in the store become training rows (`classify train --with-reviews`)."""

import datetime as dt

from classify.reviews import REVIEW_WEIGHT, review_rows
from classify.train import SEED_DIR, load_rows, train, validate_row
from store.db import open_store
from store.models import Classification, Decision, Item, Source

VN = dt.timezone(dt.timedelta(hours=7))


def test_decisions_become_weighted_training_rows(tmp_path):
    factory = open_store(f"sqlite:///{tmp_path / 'kho.db'}")
    with factory() as s:
        src = Source(
            name="tinnongmientay",
            title="Tin Nóng Miền Tây",
            profile="demo",
            kind="social",
            language="vi",
            fetch_type="telegram",
            urls=[],
        )
        s.add(src)
        s.flush()
        post = Item(
            url="https://t.me/tinnongmientay/812",
            source_id=src.id,
            kind="social",
            language="vi",
            title="Nghe nói sắp cắt nước cả tuần ở phường Trà Vinh",
            text="Nghe nói sắp cắt nước cả tuần ở phường Trà Vinh, bà con trữ nước gấp.",
            published_at=dt.datetime(2026, 11, 20, 21, 0, tzinfo=VN),
            content_hash="a",
            title_key="a",
        )
        fair = Item(
            url="https://t.me/tinnongmientay/813",
            source_id=src.id,
            kind="social",
            language="vi",
            title="Chợ nổi Cái Bè mùa nước nổi",
            text="Chợ nổi đông vui, ghe xuồng tấp nập từ sáng sớm.",
            published_at=dt.datetime(2026, 11, 20, 6, 0, tzinfo=VN),
            content_hash="b",
            title_key="b",
        )
        s.add_all([post, fair])
        s.flush()
        s.add_all(
            [
                Classification(
                    item_id=post.id,
                    relevant=True,
                    relevance=0.9,
                    topics={"xa_hoi": 0.8},
                    tone="tieu_cuc",
                    sensitivity="can_chu_y",
                    misleading="chua_kiem_chung",
                    model_version="m",
                ),
                Classification(
                    item_id=fair.id,
                    relevant=True,
                    relevance=0.7,
                    topics={"du_lich_van_hoa": 0.9},
                    tone="tich_cuc",
                    sensitivity="binh_thuong",
                    misleading="khong",
                    model_version="m",
                ),
                # An earlier decision, then the one in force: the newest wins.
                Decision(item_id=post.id, user="canbo1", action="confirm"),
                Decision(
                    item_id=post.id,
                    user="canbo2",
                    action="correct",
                    misleading="sai_lech",
                    sensitivity="nhay_cam",
                    handling="Cung cấp thông tin chính thống",
                ),
                Decision(item_id=fair.id, user="canbo1", action="exclude"),
            ]
        )
        s.commit()
        rows = review_rows(s, province="vinh_long")
    assert len(rows) == 1  # an exclusion from the digest says nothing about labels
    row = rows[0]
    assert row["misleading"] == "sai_lech" and row["sensitivity"] == "nhay_cam"
    assert row["topics"] == ["xa_hoi"] and row["tone"] == "tieu_cuc"
    assert row["weight"] == REVIEW_WEIGHT and row["title"].startswith("Nghe nói")
    assert validate_row(row) == []

    seed = load_rows(SEED_DIR / "train.jsonl")[:300]
    result = train(seed, [], None, out_dir=None, extra_rows=rows)
    assert result.sizes == {"train": 300, "extra": 1, "dev": 0}


def test_decisions_made_in_the_review_app_are_training_rows(tmp_path):
    """What an officer records on the item page (review.decisions) is what training reads:
    corrections win, and a decision that only assigns or annotates teaches nothing."""
    from reviewkit import make_world

    from review.decisions import record_decision

    world = make_world(f"sqlite:///{tmp_path / 'kho.db'}", tmp_path)
    ids = world.ids
    with world.factory() as s:
        record_decision(
            s,
            ids["sovereignty"],
            user="canbo",
            action="correct",
            changes={"misleading": "sai_lech", "topics": ["chu_quyen_bien_dao"]},
        )
        record_decision(s, ids["foreign"], user="canbo", action="dismiss")
        record_decision(s, ids["ordinary"], user="canbo", changes={"assignee": "canbo2"})
        s.commit()
        rows = {r["title"]: r for r in review_rows(s, "Vĩnh Long")}
    assert len(rows) == 2
    sovereignty = rows["Bản đồ du lịch biển Vĩnh Long thiếu Hoàng Sa, Trường Sa?"]
    assert sovereignty["misleading"] == "sai_lech"
    assert sovereignty["topics"] == ["chu_quyen_bien_dao"]
    assert sovereignty["sensitivity"] == "nhay_cam"  # kept as classified, not corrected
    foreign = rows["Vinh Long farmers protest land compensation for coastal wind farm"]
    assert foreign["sensitivity"] == "binh_thuong" and foreign["misleading"] == "khong"
    assert all(r["weight"] == REVIEW_WEIGHT for r in rows.values())
