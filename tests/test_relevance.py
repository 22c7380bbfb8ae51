"""Relevance to a province: about it, or only in passing? (sentences written for the tests)"""

from __future__ import annotations

import unicodedata

import pytest

from classify.gazetteer import Gazetteer
from classify.relevance import Relevance, relevance

PROVINCES_34 = (
    "Hà Nội, Huế, Lai Châu, Điện Biên, Sơn La, Lạng Sơn, Quảng Ninh, Thanh Hóa, Nghệ An, Hà Tĩnh, "
    "Cao Bằng, Tuyên Quang, Lào Cai, Thái Nguyên, Phú Thọ, Bắc Ninh, Hưng Yên, Hải Phòng, Ninh "
    "Bình, Quảng Trị, Đà Nẵng, Quảng Ngãi, Gia Lai, Khánh Hòa, Lâm Đồng, Đắk Lắk, TP.HCM, Đồng "
    "Nai, Tây Ninh, Cần Thơ, Vĩnh Long, Đồng Tháp, Cà Mau và An Giang"
)
LIST_34 = (
    "Danh sách 34 tỉnh, thành phố sau sắp xếp",
    f"Từ ngày 1/7/2025, cả nước có 34 tỉnh, thành phố gồm {PROVINCES_34}. Các địa phương "
    "đã hoàn tất việc bàn giao trụ sở.",
)


@pytest.fixture(scope="module")
def gz() -> Gazetteer:
    return Gazetteer.load()


# (id, province, title, text, relevant, places that must be listed (full names))
CASES = [
    # ── Vĩnh Long (with former Trà Vinh and Bến Tre) ──
    (
        "vl-new-names",
        "vinh_long",
        "Vĩnh Long khởi công nâng cấp đường tỉnh 902",
        "Sáng 15/9, UBND tỉnh Vĩnh Long tổ chức lễ khởi công dự án nâng cấp đường tỉnh 902. "
        "Tuyến đường đi qua xã Long Hồ và xã Phú Quới, dài hơn 20 km.",
        True,
        {"Tỉnh Vĩnh Long", "Xã Long Hồ", "Xã Phú Quới"},
    ),
    (
        "vl-old-names-title",
        "vinh_long",
        "Trà Vinh: Nông dân huyện Cầu Ngang trúng mùa dưa hấu",
        "Những ngày này, nông dân các xã ven biển thu hoạch dưa hấu, giá bán ổn định.",
        True,
        {"Tỉnh Vĩnh Long", "Tỉnh Trà Vinh", "Huyện Cầu Ngang"},
    ),
    (
        "vl-ward-not-old-province",
        "vinh_long",
        "Phường Trà Vinh ra quân làm sạch kênh rạch",
        "Sáng 7/9, UBND phường Trà Vinh phối hợp Đoàn Thanh niên ra quân nạo vét kênh.",
        True,
        {"Phường Trà Vinh"},
    ),
    (
        "vl-old-province-explicit",
        "vinh_long",
        "Hỗ trợ người nghèo vùng đồng bào Khmer",
        "Tại tỉnh Trà Vinh (cũ), hơn 300 hộ đồng bào Khmer được hỗ trợ nhà ở trong năm nay. "
        "Các hộ ở huyện Trà Cú và huyện Tiểu Cần được ưu tiên.",
        True,
        {"Tỉnh Trà Vinh", "Huyện Trà Cú", "Huyện Tiểu Cần"},
    ),
    (
        "vl-three-old-provinces-not-a-list",
        "vinh_long",
        "Hợp nhất ba tỉnh",
        "Vĩnh Long, Trà Vinh và Bến Tre hợp nhất thành tỉnh Vĩnh Long mới với 124 xã, phường.",
        True,
        {"Tỉnh Vĩnh Long", "Tỉnh Trà Vinh", "Tỉnh Bến Tre"},
    ),
    (
        "vl-tone-new-style",
        "vinh_long",
        "Xã Hoà Bình đón nhận danh hiệu nông thôn mới",
        "Xã Hoà Bình, huyện Trà Ôn (cũ) được công nhận đạt chuẩn nông thôn mới nâng cao.",
        True,
        {"Xã Hòa Bình", "Huyện Trà Ôn"},
    ),
    (
        "vl-unaccented-social",
        "vinh_long",
        "",
        "nuoc ngap het duong o phuong tra vinh, tinh vinh long roi ba con oi",
        True,
        {"Phường Trà Vinh", "Tỉnh Vĩnh Long"},
    ),
    (
        "vl-english-tra-vinh",
        "vinh_long",
        "Saltwater intrusion hits Tra Vinh province in the Mekong Delta",
        "Farmers in Cau Ngang district of Tra Vinh province say their rice fields are ruined.",
        True,
        {"Tỉnh Trà Vinh", "Huyện Cầu Ngang"},
    ),
    (
        "vl-english-vinh-long",
        "vinh_long",
        "Vinh Long orders checks on river sand mining",
        "Authorities in Vinh Long, a Mekong Delta province, ordered inspections of sand mining on "
        "the Co Chien River.",
        True,
        {"Tỉnh Vĩnh Long"},
    ),
    (
        "vl-chau-thanh-with-address",
        "vinh_long",
        "",
        "Nông dân huyện Châu Thành (Bến Tre) trồng dừa hữu cơ. Mô hình trồng dừa ở huyện Châu "
        "Thành được nhân rộng ra nhiều xã.",
        True,
        {"Huyện Châu Thành", "Tỉnh Bến Tre"},
    ),
    (
        "vl-chau-thanh-alone-ambiguous",
        "vinh_long",
        "Nông dân thu hoạch lúa",
        "Tại huyện Châu Thành, nông dân đang thu hoạch lúa hè thu với năng suất khá.",
        False,
        set(),
    ),
    (
        "vl-chau-thanh-of-an-giang",
        "vinh_long",
        "An Giang: nông dân Châu Thành trúng mùa",
        "Nông dân huyện Châu Thành, tỉnh An Giang thu hoạch lúa hè thu với năng suất cao.",
        False,
        set(),
    ),
    (
        "vl-list-of-34",
        "vinh_long",
        *LIST_34,
        False,
        {"Tỉnh Vĩnh Long"},
    ),
    (
        "vl-football-fixture",
        "vinh_long",
        "Vòng 5 giải hạng Nhất: Đồng Tháp thắng 2-1",
        "Tối qua, CLB Đồng Tháp có chiến thắng 2-1 trước CLB Vĩnh Long trên sân Cao Lãnh. "
        "Tiền đạo của đội chủ nhà ghi bàn ở phút 80.",
        False,
        {"Tỉnh Vĩnh Long"},
    ),
    (
        "vl-biography-born-in",
        "vinh_long",
        "Nhà văn Nguyễn Văn B ra mắt tiểu thuyết mới",
        "Nhà văn Nguyễn Văn B sinh năm 1975 tại Trà Vinh, hiện sống và làm việc ở Hà Nội. "
        "Cuốn tiểu thuyết kể về đời sống công nhân ở Hà Nội.",
        False,
        {"Tỉnh Trà Vinh"},
    ),
    (
        "vl-biography-home-town",
        "vinh_long",
        "Ca sĩ Minh Thư ra mắt album",
        "Ca sĩ Minh Thư, quê Bến Tre, vừa ra mắt album thứ ba tại TP.HCM. Đêm nhạc diễn ra ở "
        "Nhà hát Thành phố.",
        False,
        set(),
    ),
    (
        "vl-suspect-address",
        "vinh_long",
        "Bắt đối tượng trộm xe máy ở quận 1",
        "Công an TP.HCM bắt Nguyễn Văn C (35 tuổi, ngụ xã Long Hồ, tỉnh Vĩnh Long) về hành vi "
        "trộm cắp tài sản tại TP.HCM. Đối tượng khai đã trộm 5 xe máy ở TP.HCM.",
        False,
        set(),
    ),
    (
        "vl-dateline-only",
        "vinh_long",
        "Bộ Y tế hướng dẫn tiêm chủng mùa mưa",
        "VĨNH LONG - Bộ Y tế vừa ban hành hướng dẫn tiêm chủng mới, áp dụng trên toàn quốc từ "
        "tháng sau. Các cơ sở y tế cần chuẩn bị đủ vắc xin.",
        False,
        set(),
    ),
    (
        "vl-other-province-passing",
        "vinh_long",
        "Cần Thơ khánh thành bến xe mới",
        "Sáng nay, TP Cần Thơ đưa vào sử dụng bến xe mới ở phường Cái Răng. Bến xe có các tuyến "
        "đi TP.HCM, Vĩnh Long và Cà Mau. Cần Thơ kỳ vọng giảm ùn tắc.",
        False,
        set(),
    ),
    (
        "vl-person-named-thanh-cong",
        "vinh_long",
        "Kỹ sư trẻ sáng chế máy gặt",
        "Anh Nguyễn Thành Công, kỹ sư ở Hà Nội, vừa sáng chế máy gặt nhỏ. Thành công của anh "
        "được nhiều người biết đến.",
        False,
        set(),
    ),
    (
        "vl-long-ho-restaurant",
        "vinh_long",
        "Nhà hàng Long Hồ khai trương",
        "Nhà hàng Long Hồ ở Hà Nội khai trương cơ sở thứ hai trên phố Huế.",
        False,
        set(),
    ),
    (
        "vl-an-binh-ambiguous",
        "vinh_long",
        "",
        "Tại xã An Bình, người dân tham gia hiến đất làm đường.",
        False,
        set(),
    ),
    (
        "vl-an-binh-with-address",
        "vinh_long",
        "",
        "Tại xã An Bình, huyện Long Hồ (cũ), người dân tham gia hiến đất làm đường. Huyện Long Hồ "
        "cũng đang làm đường.",
        True,
        {"Xã An Bình", "Huyện Long Hồ"},
    ),
    (
        "vl-tan-an-other-province",
        "vinh_long",
        "TP Tân An chỉnh trang đô thị",
        "Thành phố Tân An (cũ) của tỉnh Long An nay thuộc tỉnh Tây Ninh.",
        False,
        set(),
    ),
    # ── Cà Mau (with former Bạc Liêu) ──
    (
        "cm-bac-lieu-ward",
        "ca_mau",
        "Phường Bạc Liêu tổ chức lễ hội Dạ cổ hoài lang",
        "Tối 1/9, tại phường Bạc Liêu, lễ hội thu hút hàng nghìn người xem.",
        True,
        {"Tỉnh Cà Mau", "Phường Bạc Liêu"},
    ),
    (
        "cm-bac-lieu-old-province",
        "ca_mau",
        "",
        "Điện gió ở tỉnh Bạc Liêu (cũ) tiếp tục mở rộng. Nhà máy điện gió tại thị xã Giá Rai "
        "(cũ) đã hòa lưới điện quốc gia.",
        True,
        {"Tỉnh Bạc Liêu", "Thị xã Giá Rai"},
    ),
    (
        "cm-english",
        "ca_mau",
        "Wind farms expand in Bac Lieu province",
        "New turbines off the coast of Bac Lieu province in the Mekong Delta started operating.",
        True,
        {"Tỉnh Bạc Liêu"},
    ),
    (
        "cm-unaccented",
        "ca_mau",
        "",
        "lu ve ca mau roi, bo bao o xa dat mui ngap nang lam",
        True,
        {"Tỉnh Cà Mau", "Xã Đất Mũi"},
    ),
    (
        "cm-hoa-binh-district",
        "ca_mau",
        "",
        "Nông dân huyện Hòa Bình, tỉnh Bạc Liêu (cũ) nuôi tôm càng xanh trên ruộng lúa. Mô hình "
        "tôm - lúa ở huyện Hòa Bình cho lãi cao.",
        True,
        {"Huyện Hòa Bình", "Tỉnh Bạc Liêu"},
    ),
    ("cm-list-of-34", "ca_mau", *LIST_34, False, {"Tỉnh Cà Mau"}),
    (
        "cm-biography",
        "ca_mau",
        "Nhạc sĩ trẻ đoạt giải",
        "Nhạc sĩ Lê D, sinh ra ở Bạc Liêu, vừa đoạt giải nhất cuộc thi sáng tác tại Hà Nội.",
        False,
        set(),
    ),
    (
        "cm-other-province",
        "ca_mau",
        "Sóc Trăng mở rộng nuôi tôm",
        "Tỉnh Sóc Trăng (cũ) nay thuộc TP Cần Thơ đang mở rộng diện tích nuôi tôm ở thị xã Vĩnh "
        "Châu.",
        False,
        set(),
    ),
    # ── Đồng Nai (with former Bình Phước) ──
    (
        "dn-binh-phuoc-old",
        "dong_nai",
        "Nông dân Bình Phước trúng mùa điều",
        "Năm nay, nông dân tỉnh Bình Phước (cũ) thu hoạch điều với giá cao nhất 5 năm.",
        True,
        {"Tỉnh Đồng Nai", "Tỉnh Bình Phước"},
    ),
    (
        "dn-dong-xoai-ward",
        "dong_nai",
        "",
        "UBND phường Đồng Xoài ra mắt mô hình chính quyền số. Phường Đồng Xoài là trung tâm "
        "hành chính cũ của tỉnh Bình Phước.",
        True,
        {"Phường Đồng Xoài", "Tỉnh Bình Phước"},
    ),
    (
        "dn-bien-hoa",
        "dong_nai",
        "Biên Hòa chỉnh trang bờ sông",
        "Thành phố Biên Hòa (cũ) nay là các phường Trấn Biên, Biên Hòa... Dự án chỉnh trang bờ "
        "sông Đồng Nai hoàn thành trong năm.",
        True,
        {"Thành phố Biên Hòa"},
    ),
    (
        "dn-binh-phuoc-commune-elsewhere",
        "dong_nai",
        "",
        "Xã Bình Phước, tỉnh Vĩnh Long vận động người dân trồng cây xanh.",
        False,
        set(),
    ),
    (
        "dn-football",
        "dong_nai",
        "HLV CLB Đồng Nai từ chức",
        "Sau trận thua 0-3 ở vòng 10 giải hạng Nhì, HLV trưởng CLB Đồng Nai đã xin từ chức.",
        False,
        {"Tỉnh Đồng Nai"},
    ),
    ("dn-list-of-34", "dong_nai", *LIST_34, False, {"Tỉnh Đồng Nai"}),
    # ── Khánh Hòa (with former Ninh Thuận) ──
    (
        "kh-nha-trang",
        "khanh_hoa",
        "Nha Trang đón tàu du lịch quốc tế",
        "Sáng nay, cảng Nha Trang đón tàu du lịch chở hơn 2.000 khách quốc tế.",
        True,
        {"Tỉnh Khánh Hòa", "Thành phố Nha Trang"},
    ),
    (
        "kh-cam-ranh",
        "khanh_hoa",
        "",
        "Sân bay Cam Ranh đón lượng khách kỷ lục. Phường Cam Ranh chuẩn bị đường hoa.",
        True,
        {"Thành phố Cam Ranh", "Phường Cam Ranh"},
    ),
    (
        "kh-ninh-thuan-old",
        "khanh_hoa",
        "Điện gió Ninh Thuận",
        "Các dự án điện gió ở tỉnh Ninh Thuận (cũ) tiếp tục được đầu tư.",
        True,
        {"Tỉnh Ninh Thuận"},
    ),
    (
        "kh-phan-rang",
        "khanh_hoa",
        "",
        "Lễ hội Katê của đồng bào Chăm diễn ra ở Phan Rang - Tháp Chàm và huyện Ninh Phước (cũ).",
        True,
        {"Thành phố Phan Rang - Tháp Chàm", "Huyện Ninh Phước"},
    ),
    (
        "kh-tone-new-style",
        "khanh_hoa",
        "Khánh Hoà tăng cường chống khai thác IUU",
        "Tỉnh Khánh Hoà kiểm tra tàu cá tại cảng Hòn Rớ.",
        True,
        {"Tỉnh Khánh Hòa"},
    ),
    (
        "kh-english",
        "khanh_hoa",
        "Tourists return to Nha Trang",
        "Nha Trang, a beach city in Khanh Hoa province, welcomed more visitors this summer.",
        True,
        {"Thành phố Nha Trang", "Tỉnh Khánh Hòa"},
    ),
    (
        "kh-truong-sa",
        "khanh_hoa",
        "Đoàn công tác thăm đặc khu Trường Sa",
        "Đoàn công tác đã đến thăm cán bộ, chiến sĩ và nhân dân đặc khu Trường Sa.",
        True,
        {"Đặc khu Trường Sa"},
    ),
    (
        "kh-other-province",
        "khanh_hoa",
        "Đà Lạt vào mùa hoa dã quỳ",
        "Những ngày này, Đà Lạt rực rỡ sắc vàng hoa dã quỳ, thu hút du khách đến Lâm Đồng.",
        False,
        set(),
    ),
    ("kh-list-of-34", "khanh_hoa", *LIST_34, False, {"Tỉnh Khánh Hòa"}),
    (
        "kh-biography",
        "khanh_hoa",
        "Họa sĩ E triển lãm tranh",
        "Họa sĩ E (quê Khánh Hòa) khai mạc triển lãm tranh sơn mài tại Hà Nội.",
        False,
        set(),
    ),
    # ── Hòa Bình: peace or the old province (now Phú Thọ) ──
    (
        "hb-peace",
        "phu_tho",
        "Thông điệp hòa bình",
        "Lễ hội lan tỏa thông điệp hòa bình và hữu nghị giữa các dân tộc.",
        False,
        set(),
    ),
    (
        "hb-province",
        "phu_tho",
        "Hòa Bình: thủy điện xả lũ",
        "Thủy điện Hòa Bình mở thêm cửa xả đáy. Tỉnh Hòa Bình (cũ) nay thuộc tỉnh Phú Thọ.",
        True,
        {"Tỉnh Hòa Bình", "Tỉnh Phú Thọ"},
    ),
]


def nfd(s: str) -> str:
    return unicodedata.normalize("NFD", s)


def check(r: Relevance, relevant: bool, places: set[str], case_id: str) -> None:
    listed = {p.name for p in r.places}
    assert r.relevant is relevant, (case_id, r.score, r.reasons)
    assert places <= listed, (case_id, listed)
    assert 0.0 <= r.score <= 1.0
    assert r.reasons and all(isinstance(x, str) for x in r.reasons)


@pytest.mark.parametrize(
    ("province", "title", "text", "relevant", "places"),
    [c[1:] for c in CASES],
    ids=[c[0] for c in CASES],
)
def test_relevance(
    gz: Gazetteer, province: str, title: str, text: str, relevant: bool, places: set[str]
) -> None:
    r = relevance(title, text, province, gazetteer=gz)
    check(r, relevant, places, f"{province}:{title[:30]}")
    # NFD input decides the same
    r2 = relevance(nfd(title), nfd(text), province, gazetteer=gz)
    assert r2.relevant is relevant and abs(r2.score - r.score) < 1e-9


def test_places_list_new_and_old_units(gz: Gazetteer) -> None:
    r = relevance("Trà Vinh: mưa lớn", "Mưa lớn ở huyện Cầu Ngang.", "vinh_long", gazetteer=gz)
    first, *rest = r.places
    assert first.code == "vinh_long" and first.level == "province" and not first.is_old
    assert {(p.level, p.is_old) for p in rest} == {("province_old", True), ("district_old", True)}


def test_reasons_say_which_reading(gz: Gazetteer) -> None:
    r = relevance("Phường Trà Vinh ra quân", "", "vinh_long", gazetteer=gz)
    assert any("Phường Trà Vinh" in x and "Tiêu đề" in x for x in r.reasons)
    r = relevance("", "Tại huyện Châu Thành, lúa được mùa.", "vinh_long", gazetteer=gz)
    assert any(x.startswith("Không tính") and "nhiều tỉnh" in x for x in r.reasons)
    r = relevance(*LIST_34, "vinh_long", gazetteer=gz)
    assert any("danh sách" in x for x in r.reasons)


def test_title_weighs_more_than_body(gz: Gazetteer) -> None:
    body = "Một bài viết dài về thời tiết cả nước. " * 5
    in_title = relevance("Cà Mau: triều cường", body, "ca_mau", gazetteer=gz)
    in_body = relevance("Triều cường", body + "Tại Cà Mau, nước dâng.", "ca_mau", gazetteer=gz)
    assert in_title.score > in_body.score
    assert in_title.relevant and not in_body.relevant


def test_distinct_mentions_add_up(gz: Gazetteer) -> None:
    lead = "Cả nước bước vào mùa mưa bão với nhiều diễn biến phức tạp, nhiều nơi ngập sâu.\n"
    one = relevance("Mưa bão", lead + "Mưa lớn ở tỉnh Vĩnh Long.", "vinh_long", gazetteer=gz)
    two = relevance(
        "Mưa bão",
        lead + "Mưa lớn ở tỉnh Vĩnh Long, nhất là xã Long Hồ.",
        "vinh_long",
        gazetteer=gz,
    )
    assert two.score > one.score
    assert two.relevant and not one.relevant
    assert any("Chỉ" not in x for x in two.reasons)


def test_unknown_province_code(gz: Gazetteer) -> None:
    with pytest.raises(ValueError):
        relevance("a", "b", "tra_vinh", gazetteer=gz)


def test_to_dict_is_json_ready(gz: Gazetteer) -> None:
    import json

    r = relevance("Nha Trang đón khách", "", "khanh_hoa", gazetteer=gz)
    d = r.to_dict()
    assert json.loads(json.dumps(d, ensure_ascii=False)) == d
    assert d["relevant"] is True and d["places"][0]["code"] == "khanh_hoa"


# ── passing mentions: routes, clubs named in the title, national lists, hashtags ──
# (id, title, text, relevant, the passing kind the Vĩnh Long mentions must get when not relevant)
PASSING_CASES = [
    # a place passed through on the way elsewhere
    (
        "route-vi-ngang-qua",
        "Trên đường về Cần Thơ",
        "Cuối tuần mình chạy xe từ Sài Gòn về Cần Thơ, đi ngang qua Vĩnh Long thì ghé ăn trưa. "
        "Đường đẹp, xe ít.",
        False,
        "di_qua",
    ),
    (
        "route-vi-tren-duong-qua",
        "Kinh nghiệm đi Cà Mau bằng xe máy",
        "Trên đường đi Cà Mau mình qua Vĩnh Long, Cần Thơ rồi Bạc Liêu, ai có kinh nghiệm chỉ "
        "giúp với.",
        False,
        "di_qua",
    ),
    (
        "route-vi-tu-ve-qua",
        "Xe khách từ Sài Gòn về Cần Thơ qua Vĩnh Long mất mấy tiếng?",
        "Mọi người cho hỏi đi xe khách mất bao lâu ạ.",
        False,
        "di_qua",
    ),
    (
        "route-en-via",
        "Riding Saigon to Can Tho via Vinh Long: road conditions?",
        "Planning to ride QL1 down to Can Tho next weekend, passing Vinh Long on the way. Any "
        "roadworks I should know about?",
        False,
        "di_qua",
    ),
    (
        "route-en-through-on-the-way",
        "Bus trip to Can Tho",
        "We drove through Vinh Long on our way to Can Tho. Nice bridges.",
        False,
        "di_qua",
    ),
    (
        "route-en-chain",
        "Cycling the Mekong Delta",
        "Passing through Vinh Long and Tra Vinh on the way to Soc Trang.",
        False,
        "di_qua",
    ),
    # … but a road, a storm or an accident there is the province's news
    (
        "route-counter-accident-on-road",
        "Xe tải lật trên QL53 đoạn qua xã Long Hồ, tỉnh Vĩnh Long",
        "Vụ tai nạn khiến giao thông ùn tắc nhiều giờ.",
        True,
        None,
    ),
    (
        "route-counter-storm",
        "Bão số 9 đi ngang qua Vĩnh Long",
        "Bão gây mưa lớn, nhiều nhà ở tỉnh Vĩnh Long bị tốc mái.",
        True,
        None,
    ),
    (
        "route-counter-storm-en",
        "Storm passes through Vinh Long, damaging homes",
        "Typhoon Kajiki passed through Vinh Long province overnight.",
        True,
        None,
    ),
    (
        "route-counter-expressway",
        "Cao tốc Mỹ Thuận – Cần Thơ đi qua Vĩnh Long thông xe",
        "Tuyến cao tốc đi qua tỉnh Vĩnh Long dài 23 km.",
        True,
        None,
    ),
    (
        "route-counter-destination",
        "Khách du lịch đến Vĩnh Long tăng mạnh",
        "Nhiều du khách từ TP.HCM về Vĩnh Long nghỉ dưỡng ở cù lao An Bình.",
        True,
        None,
    ),
    # a title that names the province as a club: the bare mentions below are the club
    (
        "club-title-forum",
        "Bàn chuyện đội bóng Vĩnh Long mùa này",
        "Vòng này Vĩnh Long đá sân khách Cần Thơ, anh em dự đoán tỉ số bao nhiêu?",
        False,
        "the_thao",
    ),
    (
        "club-title-no-cue-in-body",
        "Bàn chuyện đội bóng Vĩnh Long mùa này",
        "Vĩnh Long đá hay quá, anh em thấy sao?",
        False,
        "the_thao",
    ),
    (
        "club-title-en-fc",
        "Vinh Long FC sign new striker",
        "The club from Vinh Long announced the deal on Monday.",
        False,
        "the_thao",
    ),
    (
        "club-counter-stadium",
        "Vĩnh Long: khánh thành sân vận động tỉnh",
        "Sân vận động có sức chứa 10.000 chỗ ngồi.",
        True,
        None,
    ),
    (
        "club-counter-province-tournament",
        "UBND tỉnh Vĩnh Long tổ chức giải bóng đá thiếu niên",
        "Giải bóng đá thu hút 20 đội tham gia.",
        True,
        None,
    ),
    # an item about all 34 provinces
    (
        "national-en-map",
        "Map of Vietnam's 34 new provinces after the July 2025 merger",
        "Made this map with the new names. Vinh Long now includes Ben Tre and Tra Vinh, An Giang "
        "took Kien Giang, etc.",
        False,
        "danh_sach",
    ),
    (
        "national-vi-map",
        "Bản đồ 34 tỉnh, thành phố mới sau sáp nhập",
        "Mình vẽ lại bản đồ. Vĩnh Long nay gồm Bến Tre và Trà Vinh, An Giang nhận thêm Kiên "
        "Giang, v.v.",
        False,
        "danh_sach",
    ),
    (
        "national-counter-en",
        "Vinh Long now includes Ben Tre and Tra Vinh: what changes for residents",
        "Residents of the merged province will keep their ID cards.",
        True,
        None,
    ),
    (
        "national-counter-vi",
        "Vĩnh Long nay gồm Bến Tre và Trà Vinh",
        "Người dân ba tỉnh cũ không phải đổi giấy tờ.",
        True,
        None,
    ),
    # hashtags: inside a sentence they name the place; at the end of a post they are tags
    (
        "hashtag-tags-for-reach",
        "Cà Mau mùa gió chướng, biển Khai Long đẹp lắm #CaMau #MienTay #VinhLong",
        "Cà Mau mùa gió chướng, biển Khai Long đẹp lắm #CaMau #MienTay #VinhLong",
        False,
        "the_tag",
    ),
    (
        "hashtag-inline",
        "",
        "Sunrise over the river from a homestay in #VinhLong. The Mekong is magic. #travel",
        True,
        None,
    ),
    # a bare old district name after "ở": the place, no need for the province to be named
    ("locative-old-district", "Vỡ đê ở Cầu Ngang có thật không mọi người?", "", True, None),
]


@pytest.mark.parametrize(
    ("title", "text", "relevant", "passing"),
    [c[1:] for c in PASSING_CASES],
    ids=[c[0] for c in PASSING_CASES],
)
def test_passing_mentions(
    gz: Gazetteer, title: str, text: str, relevant: bool, passing: str | None
) -> None:
    r = relevance(title, text, "vinh_long", gazetteer=gz)
    assert r.relevant is relevant, (r.score, r.reasons)
    mine = [x for x in r.mentions if x.match.province_code == "vinh_long"]
    assert mine
    if passing:
        assert all(x.passing for x in mine), [(x.match.surface, x.passing) for x in mine]
        assert any(x.passing == passing for x in mine)
        assert any(x.startswith("Chỉ nhắc qua") for x in r.reasons)
    r2 = relevance(nfd(title), nfd(text), "vinh_long", gazetteer=gz)
    assert r2.relevant is relevant and abs(r2.score - r.score) < 1e-9


def test_hashtag_is_listed_as_written(gz: Gazetteer) -> None:
    r = relevance("", "Chính quyền #VinhLong đâu rồi? Vỡ đê Cầu Ngang #TraVinh", "vinh_long",
                  gazetteer=gz)  # fmt: skip
    tags = {x.match.surface: x.passing for x in r.mentions if x.match.surface.startswith("#")}
    assert tags == {"#VinhLong": None, "#TraVinh": "the_tag"}
    assert r.relevant and any("#VinhLong" in x for x in r.reasons)
