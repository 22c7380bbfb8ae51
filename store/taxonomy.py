"""The labels of ../shared/design/TAXONOMY.md: stable codes in the data, Vietnamese names in
everything a person reads. One place, so every stage (and the seed set) agrees."""

from __future__ import annotations

CHANNEL_VI = {
    "press_central": "Báo chí Trung ương",
    "press_local": "Báo chí địa phương",
    "press_foreign": "Báo chí nước ngoài",
    "social": "Mạng xã hội",
}
KINDS = ("press_local", "press_central", "press_foreign", "social")

TOPIC_VI = {
    "chu_quyen_bien_dao": "Chủ quyền biển, đảo",
    "bien_gioi": "Biên giới, cửa khẩu",
    "ton_giao": "Tôn giáo, tín ngưỡng",
    "dan_toc": "Dân tộc",
    "dan_chu_nhan_quyen": "Dân chủ, nhân quyền",
    "iuu": "Chống khai thác IUU",
    "doi_ngoai": "Hoạt động đối ngoại",
    "dau_tu_kinh_te": "Đầu tư, kinh tế",
    "du_lich_van_hoa": "Du lịch, văn hóa",
    "an_ninh_trat_tu": "An ninh, trật tự",
    "tham_nhung_tieu_cuc": "Tham nhũng, tiêu cực",
    "dat_dai_khieu_kien": "Đất đai, khiếu kiện",
    "tai_nan_thien_tai": "Tai nạn, thiên tai",
    "moi_truong": "Môi trường",
    "xa_hoi": "Y tế, giáo dục, an sinh",
    "chi_dao_dieu_hanh": "Chỉ đạo, điều hành",
}
TOPICS = tuple(TOPIC_VI)

TONE_VI = {"tich_cuc": "Tích cực", "trung_lap": "Trung lập", "tieu_cuc": "Tiêu cực"}
TONES = tuple(TONE_VI)

LEVEL_VI = {"binh_thuong": "Bình thường", "can_chu_y": "Cần chú ý", "nhay_cam": "Nhạy cảm"}
SENSITIVITY = tuple(LEVEL_VI)

MISLEADING_VI = {"khong": "Không", "chua_kiem_chung": "Chưa kiểm chứng", "sai_lech": "Sai lệch"}
MISLEADING = tuple(MISLEADING_VI)
