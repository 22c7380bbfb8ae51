"""Importing exported public posts (Facebook page CSV, TikTok JSONL) into a real SQLite store."""

import csv
import json

from crawlers.importer import import_posts
from store.db import open_store
from store.models import Item
from store.profile import SourceConfig
from store.queries import sync_sources

POSTS = [
    {
        "permalink_url": "https://www.facebook.com/tintuctravinh/posts/1029384756?utm_source=share",
        "message": "Sáng nay đoàn công tác tỉnh Vĩnh Long kiểm tra công trình kè chống sạt lở "
        "bờ sông Cổ Chiên đoạn qua xã Long Hòa.",
        "page_name": "Tin tức Trà Vinh",
        "created_time": "2026-11-20T07:15:00+0700",
        "reactions": "154",
    },
    {
        "permalink_url": "https://www.facebook.com/tintuctravinh/posts/1029384757",
        "message": "Tra Vinh cu nghe noi sap mat dien ca tuan, ba con tich nuoc nha!!!",
        "page_name": "Tin tức Trà Vinh",
        "created_time": "2026-11-20T21:40:00+0700",
        "reactions": "",
    },
    {"permalink_url": "", "message": "Dòng không có địa chỉ", "page_name": "x", "created_time": ""},
]


def test_csv_and_jsonl_exports(tmp_path):
    factory = open_store(f"sqlite:///{tmp_path / 'kho.db'}")
    src = SourceConfig(
        name="facebook-export", title="Xuất dữ liệu Facebook", kind="social", type="import"
    )
    with factory() as session:
        source = sync_sources(session, "demo", [src])["facebook-export"]
        session.commit()

    path = tmp_path / "facebook.csv"
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(POSTS[0]))
        writer.writeheader()
        writer.writerows(POSTS)
    result = import_posts(factory, source, path)
    assert (result.rows, result.new) == (3, 2)
    assert len(result.errors) == 1 and "dòng 4" in result.errors[0]

    again = import_posts(factory, source, path)
    assert again.new == 0 and again.unchanged == 2

    tiktok = tmp_path / "tiktok.jsonl"
    tiktok.write_text(
        json.dumps(
            {
                "webVideoUrl": "https://www.tiktok.com/@dulichvinhlong/video/7301234567890",
                "desc": "Mùa nước nổi ở cù lao An Bình, Vĩnh Long đẹp ngỡ ngàng #dulich #vinhlong",
                "createTime": 1795200000,
                "authorMeta": {"name": "dulichvinhlong"},
                "diggCount": 3200,
            },
            ensure_ascii=False,
        )
        + "\n{hỏng\n",
        encoding="utf-8",
    )
    res = import_posts(factory, source, tiktok)
    assert res.new == 1 and len(res.errors) == 1 and "JSON" in res.errors[0]

    with factory() as session:
        items = {i.url: i for i in session.query(Item)}
    fb = items["https://www.facebook.com/tintuctravinh/posts/1029384756"]
    assert fb.author == "Tin tức Trà Vinh"
    assert fb.published_at.isoformat() == "2026-11-20T00:15:00+00:00"
    assert fb.extra["reactions"] == "154"
    tk = items["https://www.tiktok.com/@dulichvinhlong/video/7301234567890"]
    assert tk.author == "dulichvinhlong" and tk.extra["diggCount"] == 3200
    assert tk.title.startswith("Mùa nước nổi ở cù lao An Bình")
