"""Rendering a digest: HTML e-mail (CSS inlined), plain text, DOCX, and the 7-day chart (PNG).

Everything a reader sees comes from scraped pages, so everything is escaped: jinja2 escapes the
HTML (autoescape), python-docx writes text runs (XML-escaped), the text part is plain text. Only
http(s) addresses become links (`digest.select.safe_url` decided that already: `Entry.url` and
`Link.url` are None otherwise). The HTML has no external resources: its one image is the chart,
referenced as ``cid:bieu-do`` (the sender attaches the PNG with that Content-ID).
"""

from __future__ import annotations

import io
import re
from datetime import date, datetime
from functools import lru_cache

from jinja2 import Environment, FileSystemLoader, StrictUndefined

from store.settings import TEMPLATES_DIR

from .model import DayCounts, DigestData, Entry
from .stats import fmt_num

CHART_CID = "bieu-do"
_INDENT = re.compile(r"\n[ \t]+")
TEMPLATE_DIR = TEMPLATES_DIR / "digest"
WEEKDAYS = ("Thứ Hai", "Thứ Ba", "Thứ Tư", "Thứ Năm", "Thứ Sáu", "Thứ Bảy", "Chủ nhật")
TONE_COLOURS = {
    "tich_cuc": "#2e7d32",
    "trung_lap": "#78909c",
    "tieu_cuc": "#c62828",
    "chua_phan_loai": "#bdbdbd",
}


# ── formatting helpers (also jinja2 filters) ─────────────────────────────────────────────────


def vi_date(d: date | datetime) -> str:
    return f"{d:%d/%m/%Y}"


def vi_datetime(d: datetime) -> str:
    return f"{d:%H:%M} {d:%d/%m/%Y}"


def vi_time(d: datetime) -> str:
    return f"{d:%H:%M} {d:%d/%m}"


def weekday(d: date) -> str:
    return WEEKDAYS[d.weekday()]


def long_date(d: date) -> str:
    """ "ngày 21 tháng 11 năm 2026" (administrative style: day and month below 10 padded)."""
    return f"ngày {d:%d} tháng {d:%m} năm {d:%Y}"


def signed(x: float) -> str:
    """+3, −2 (a real minus sign), 0; one decimal with a comma when needed."""
    if not x:
        return "0"
    sign = "+" if x > 0 else "−"
    return sign + fmt_num(abs(x))


def number_text(data: DigestData) -> str:
    return f"{data.number}/{data.day:%Y}"


def subject(data: DigestData) -> str:
    """E.g. "Điểm tin báo chí số 12/2026 ngày 21/11/2026 — Vĩnh Long"."""
    return f"Điểm tin báo chí số {number_text(data)} ngày {vi_date(data.day)} — {data.province}"


def outlets_text(e: Entry, limit: int = 4) -> str:
    names = e.outlets[:limit]
    more = e.outlet_count - len(names)
    text = ", ".join(names)
    if more > 0:
        text += f" và {more} nguồn khác"
    return text


def entry_tags(e: Entry) -> list[tuple[str, str]]:
    """(label, kind) pairs: tone, sensitivity, misleading, topics, status; kind picks colours."""
    tags: list[tuple[str, str]] = []
    if e.tone:
        tags.append((e.tone_vi, e.tone))
    elif not e.labelled:
        tags.append(("Chưa phân loại", "chua_phan_loai"))
    if e.sensitivity in ("nhay_cam", "can_chu_y"):
        tags.append((e.sensitivity_vi, e.sensitivity))
    if e.misleading in ("chua_kiem_chung", "sai_lech"):
        tags.append((e.misleading_vi, e.misleading))
    for t in e.topics_vi:
        tags.append((t, "topic"))
    return tags


def delta_class(c) -> str:
    """Colour a change only where its direction means something: more negative items (red),
    more positive ones (green)."""
    if c.code == "tieu_cuc" and c.delta_previous:
        return "up" if c.delta_previous > 0 else "down"
    if c.code == "tich_cuc" and c.delta_previous:
        return "down" if c.delta_previous > 0 else "up"
    return ""


@lru_cache(maxsize=1)
def _env() -> Environment:
    env = Environment(
        loader=FileSystemLoader(str(TEMPLATE_DIR)),
        autoescape=lambda name: bool(name) and (".html" in name),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters.update(
        vi_date=vi_date,
        vi_datetime=vi_datetime,
        vi_time=vi_time,
        weekday=weekday,
        long_date=long_date,
        signed=signed,
        num=fmt_num,
        outlets_text=outlets_text,
    )
    env.globals.update(
        entry_tags=entry_tags, subject=subject, number_text=number_text, delta_class=delta_class
    )
    return env


def _context(data: DigestData) -> dict:
    return {
        "d": data,
        "subject": subject(data),
        "number": number_text(data),
        "sections": data.sections,
    }


# ── HTML and text ────────────────────────────────────────────────────────────────────────────


# Entries shown in full per channel section of the e-mail; the rest by title (Gmail clips
# messages over ~100 KB, and a leader reads it on a phone). Section I is always in full.
EMAIL_FULL_ENTRIES = 10


def render_html(data: DigestData, *, image_src: str | None = None) -> str:
    """The e-mail body: table layout, CSS inlined, the chart as ``cid:bieu-do``.

    ``image_src`` replaces the chart's address for previews outside e-mail (a file name next to
    the HTML, or a data: URI); the e-mail always uses the default.
    """
    import css_inline

    src = image_src or f"cid:{CHART_CID}"
    html = (
        _env()
        .get_template("email.html.j2")
        .render(**_context(data), chart_src=src, full_entries=EMAIL_FULL_ENTRIES)
    )
    inliner = css_inline.CSSInliner(
        keep_style_tags=False,
        keep_at_rules=True,
        load_remote_stylesheets=False,
        minify_css=True,
    )
    # Indentation off (Gmail clips messages above ~100 KB); newlines stay, so the spaces
    # between inline elements do too.
    return _INDENT.sub("\n", inliner.inline(html))


def render_text(data: DigestData) -> str:
    """The plain-text alternative (and the archived .txt)."""
    text = _env().get_template("digest.txt.j2").render(**_context(data))
    lines = [line.rstrip() for line in text.splitlines()]
    out: list[str] = []
    for line in lines:  # at most one blank line in a row
        if line or (out and out[-1]):
            out.append(line)
    return "\n".join(out).strip() + "\n"


# ── chart ────────────────────────────────────────────────────────────────────────────────────


def render_chart(history: list[DayCounts], *, title: str | None = None) -> bytes:
    """A 600×260 px PNG: items per digest day over the last 7 days, stacked by tone.

    Drawn on a bare Figure (no pyplot state, no GUI backend), in DejaVu Sans, which matplotlib
    ships and which has every Vietnamese letter.
    """
    from matplotlib import pyplot as plt  # rc_context only; nothing is drawn through pyplot
    from matplotlib.figure import Figure

    from store.taxonomy import TONES

    from .model import UNLABELLED, UNLABELLED_VI

    labels = {"tich_cuc": "Tích cực", "trung_lap": "Trung lập", "tieu_cuc": "Tiêu cực"}
    series = list(TONES)
    if any(h.tone.get(UNLABELLED) for h in history):
        series.append(UNLABELLED)
        labels[UNLABELLED] = UNLABELLED_VI
    with plt.rc_context({"font.family": "DejaVu Sans", "font.size": 11}):
        fig = Figure(figsize=(6.0, 2.6), dpi=100)
        ax = fig.add_subplot(1, 1, 1)
        x = list(range(len(history)))
        bottom = [0] * len(history)
        for code in series:
            vals = [h.tone.get(code, 0) for h in history]
            ax.bar(
                x,
                vals,
                bottom=bottom,
                width=0.66,
                color=TONE_COLOURS[code],
                label=labels[code],
                edgecolor="white",
                linewidth=0.6,
            )
            bottom = [b + v for b, v in zip(bottom, vals, strict=True)]
        top = max([*bottom, 1])
        for xi, total in zip(x, bottom, strict=True):
            ax.text(xi, total + top * 0.02, str(total), ha="center", va="bottom", fontsize=11)
        ax.set_xticks(x, [f"{h.day:%d/%m}" for h in history])
        ax.set_xlim(-0.6, len(history) - 0.4)
        ax.set_ylim(0, top * 1.25)
        ax.set_yticks([])
        ax.spines[["top", "right", "left"]].set_visible(False)
        ax.tick_params(axis="x", labelsize=11, length=0, pad=4)
        fig.suptitle(
            title or "Số tin, bài 7 ngày qua, theo sắc thái",
            x=0.015,
            y=0.975,
            ha="left",
            fontsize=12,
            fontweight="bold",
        )
        fig.legend(
            loc="upper left",
            bbox_to_anchor=(0.005, 0.895),
            ncols=len(series),
            frameon=False,
            fontsize=11,
            handlelength=1.0,
            columnspacing=1.0,
            handletextpad=0.4,
        )
        fig.subplots_adjust(left=0.02, right=0.98, top=0.7, bottom=0.11)
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=100, metadata={"Software": None})
    return buf.getvalue()


# ── DOCX ─────────────────────────────────────────────────────────────────────────────────────

FONT = "Times New Roman"
TEXT_WIDTH = 165 * 36000  # EMU: A4 (210 mm) less the 30 mm and 15 mm margins
BODY_PT = 14
SMALL_PT = 13


def render_docx(data: DigestData, chart_png: bytes | None) -> bytes:
    """The digest as an administrative document: A4, Times New Roman 13–14 pt, the agency and
    the number in the header, the national motto, place and date, then the sections."""
    from docx import Document
    from docx.enum.section import WD_ORIENT
    from docx.enum.table import WD_TABLE_ALIGNMENT
    from docx.enum.text import WD_ALIGN_PARAGRAPH
    from docx.shared import Mm, Pt, RGBColor

    doc = Document()
    sec = doc.sections[0]
    sec.orientation = WD_ORIENT.PORTRAIT
    sec.page_width, sec.page_height = Mm(210), Mm(297)
    sec.top_margin, sec.bottom_margin = Mm(20), Mm(20)
    sec.left_margin, sec.right_margin = Mm(30), Mm(15)
    sec.header_distance = sec.footer_distance = Mm(10)
    _set_fonts(doc, Pt)
    _page_number_footer(sec, Pt)
    # Paragraphs are appended straight to the body (python-docx inserts each one before the
    # section properties, scanning the whole body: quadratic on a 2,000-story day); the section
    # properties go back at the end.
    body = doc.element.body
    sect_pr = body.sectPr
    body.remove(sect_pr)

    # Header: agency and number (left), motto, place and date (right).
    table = doc._body.add_table(2, 2, TEXT_WIDTH)
    table.alignment = WD_TABLE_ALIGNMENT.CENTER
    _widths(table, (Mm(66), Mm(99)))
    left, right = table.cell(0, 0), table.cell(0, 1)
    lines = data.agency_lines or [data.agency.upper()]
    p = left.paragraphs[0]
    p.alignment = WD_ALIGN_PARAGRAPH.CENTER
    for i, line in enumerate(lines):
        run = p.add_run(line)
        run.bold = i == len(lines) - 1 or len(lines) == 1
        run.font.size = Pt(12 if run.bold else SMALL_PT - 1)
        if i < len(lines) - 1:
            run.add_break()
    p = right.paragraphs[0]
    p.alignment = WD_ALIGN_PARAGRAPH.CENTER
    run = p.add_run("CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM")
    run.bold, run.font.size = True, Pt(12)
    run.add_break()
    run = p.add_run("Độc lập - Tự do - Hạnh phúc")
    run.bold, run.underline, run.font.size = True, True, Pt(BODY_PT)
    p = table.cell(1, 0).paragraphs[0]
    p.alignment = WD_ALIGN_PARAGRAPH.CENTER
    p.add_run(f"Số: {number_text(data).split('/')[0]}/{data.code}").font.size = Pt(SMALL_PT)
    p = table.cell(1, 1).paragraphs[0]
    p.alignment = WD_ALIGN_PARAGRAPH.CENTER
    run = p.add_run(f"{data.place or data.province}, {long_date(data.day)}")
    run.italic, run.font.size = True, Pt(BODY_PT)

    p = _para(doc)
    p.alignment = WD_ALIGN_PARAGRAPH.CENTER
    p.paragraph_format.space_before = Pt(18)
    run = p.add_run("ĐIỂM TIN BÁO CHÍ")
    run.bold, run.font.size = True, Pt(BODY_PT)
    run.add_break()
    run = p.add_run(f"Số {number_text(data)} — {weekday(data.day)}, {vi_date(data.day)}")
    run.bold, run.font.size = True, Pt(BODY_PT)
    p = _para(doc)
    p.alignment = WD_ALIGN_PARAGRAPH.CENTER
    run = p.add_run(
        f"(Thông tin từ {vi_datetime(data.window_start)} đến {vi_datetime(data.window_end)})"
    )
    run.italic = True

    if data.unlabelled:
        p = _para(doc)
        run = p.add_run(data.unlabelled_text)
        run.bold = True
        run.font.color.rgb = RGBColor(0xB2, 0x3C, 0x17)

    # Overview: counts, chart, notices.
    _heading(doc, "TỔNG QUAN", Pt)
    total = data.total
    if total is not None:
        p = _para(doc)
        p.add_run(
            f"Trong khung giờ có {total.today} tin, bài liên quan ({data.stories} câu chuyện); "
            f"hôm trước {total.previous}, trung bình 7 ngày {fmt_num(total.avg7)}."
        )
    if data.counts_tone or data.counts_channel:
        t = doc._body.add_table(1, 4, TEXT_WIDTH)
        t.style = "Table Grid"
        t.alignment = WD_TABLE_ALIGNMENT.CENTER
        hdr = ("", "Số tin", "So với hôm trước", "So với TB 7 ngày")
        for cell, text in zip(t.rows[0].cells, hdr, strict=True):
            _cell_text(cell, text, Pt, bold=True)
        groups = [("Theo sắc thái", data.counts_tone), ("Theo kênh", data.counts_channel)]
        if total is not None:
            groups.append(("", [total]))
        for group, rows in groups:
            if group:
                cells = t.add_row().cells
                merged = cells[0].merge(cells[3])
                _cell_text(merged, group, Pt, bold=True, italic=True)
            for c in rows:
                cells = t.add_row().cells
                values = (c.label, str(c.today), signed(c.delta_previous), signed(c.delta_avg7))
                for cell, text in zip(cells, values, strict=True):
                    _cell_text(cell, text, Pt, bold=c is total)
        _widths(t, (Mm(55), Mm(30), Mm(40), Mm(40)))
    if chart_png:
        p = _para(doc)
        p.alignment = WD_ALIGN_PARAGRAPH.CENTER
        p.paragraph_format.space_before = Pt(8)
        p.add_run().add_picture(io.BytesIO(chart_png), width=Mm(150))
    if data.notices:
        p = _para(doc)
        p.add_run("Lưu ý:").bold = True
        for n in data.notices:
            _para(doc, f"- {n}")

    for section in data.sections:
        _heading(doc, f"{section.numeral}. {section.title.upper()}", Pt)
        if not section.entries:
            _para(doc).add_run(section.empty_text).italic = True
            continue
        common = section.common_handling if section.brief else None
        if common:
            p = _para(doc)
            p.add_run("Đề xuất: ").bold = True
            p.add_run(common.rstrip(".") + ".").bold = True
        for n, e in enumerate(section.entries, 1):
            if section.brief:
                _brief_entry(doc, n, e, Pt, show_handling=not common)
            else:
                _entry(doc, n, e, section.code == "can_xu_ly", Pt, RGBColor)

    # Recipients and signature, as a dispatched document ends.
    table = doc._body.add_table(1, 2, TEXT_WIDTH)
    _widths(table, (Mm(80), Mm(85)))
    left, right = table.rows[0].cells
    p = left.paragraphs[0]
    p.paragraph_format.space_before = Pt(12)
    run = p.add_run("Nơi nhận:")
    run.bold, run.italic, run.font.size = True, True, Pt(12)
    for r in data.recipients_note or ["Như trên;", "Lưu: VT."]:
        q = left.add_paragraph()
        q.add_run(f"- {r}").font.size = Pt(11)
    if data.signer_title:
        p = right.paragraphs[0]
        p.alignment = WD_ALIGN_PARAGRAPH.CENTER
        p.paragraph_format.space_before = Pt(12)
        run = p.add_run(data.signer_title.upper())
        run.bold = True
        if data.signer_name:
            q = right.add_paragraph()
            q.alignment = WD_ALIGN_PARAGRAPH.CENTER
            q.paragraph_format.space_before = Pt(60)
            q.add_run(data.signer_name).bold = True

    body.append(sect_pr)
    out = io.BytesIO()
    doc.core_properties.title = subject(data)
    doc.core_properties.author = data.agency
    doc.core_properties.language = "vi-VN"
    doc.save(out)
    return out.getvalue()


def _para(doc, text: str | None = None):
    """A new paragraph at the end of the body (see render_docx)."""
    from docx.oxml import OxmlElement
    from docx.text.paragraph import Paragraph

    p = OxmlElement("w:p")
    doc.element.body.append(p)
    para = Paragraph(p, doc._body)
    if text:
        para.add_run(text)
    return para


def _set_fonts(doc, Pt) -> None:
    from docx.oxml.ns import qn

    for name in ("Normal", "Table Grid", "Header", "Footer"):
        try:
            style = doc.styles[name]
        except KeyError:
            continue
        style.font.name = FONT
        style.font.size = Pt(BODY_PT if name == "Normal" else SMALL_PT)
        rpr = style.element.get_or_add_rPr()
        fonts = rpr.find(qn("w:rFonts"))
        if fonts is None:
            fonts = rpr.makeelement(qn("w:rFonts"), {})
            rpr.append(fonts)
        for attr in ("w:ascii", "w:hAnsi", "w:eastAsia", "w:cs"):
            fonts.set(qn(attr), FONT)
    normal = doc.styles["Normal"].paragraph_format
    normal.space_after = Pt(4)
    normal.line_spacing = 1.1
    lang = doc.styles["Normal"].element.get_or_add_rPr()
    el = lang.makeelement(qn("w:lang"), {qn("w:val"): "vi-VN"})
    lang.append(el)


def _page_number_footer(sec, Pt) -> None:
    from docx.enum.text import WD_ALIGN_PARAGRAPH
    from docx.oxml import OxmlElement
    from docx.oxml.ns import qn

    p = sec.footer.paragraphs[0]
    p.alignment = WD_ALIGN_PARAGRAPH.CENTER
    run = p.add_run()
    run.font.size = Pt(11)
    for kind, text in (("begin", None), (None, "PAGE"), ("end", None)):
        if kind:
            el = OxmlElement("w:fldChar")
            el.set(qn("w:fldCharType"), kind)
        else:
            el = OxmlElement("w:instrText")
            el.set(qn("xml:space"), "preserve")
            el.text = text
        run._r.append(el)


def _widths(table, widths) -> None:
    """Fixed column widths that Word and LibreOffice both honour (grid and every cell)."""
    table.autofit = False
    for col, w in zip(table.columns, widths, strict=True):
        col.width = w
    for row in table.rows:
        for cell, w in zip(row.cells, widths, strict=True):
            cell.width = w


def _heading(doc, text: str, Pt) -> None:
    p = _para(doc)
    p.paragraph_format.space_before = Pt(12)
    p.paragraph_format.keep_with_next = True
    run = p.add_run(text)
    run.bold = True
    run.font.size = Pt(BODY_PT)


def _cell_text(cell, text: str, Pt, *, bold: bool = False, italic: bool = False) -> None:
    p = cell.paragraphs[0]
    run = p.add_run(text)
    run.bold, run.italic = bold, italic
    run.font.size = Pt(12)


def _add_hyperlink(paragraph, url: str, text: str):
    """A real hyperlink run (python-docx has no API for it); ``url`` is http(s) already."""
    from docx.opc.constants import RELATIONSHIP_TYPE as RT
    from docx.oxml import OxmlElement
    from docx.oxml.ns import qn

    part = paragraph.part
    # One relationship per address, found in a dict (python-docx's relate_to scans every
    # relationship: quadratic on a long digest).
    cache = part.__dict__.setdefault("_diemtin_links", {})
    r_id = cache.get(url)
    if r_id is None:
        r_id = cache[url] = f"rIdLink{len(cache) + 1}"
        part.rels.add_relationship(RT.HYPERLINK, url, r_id, is_external=True)
    link = OxmlElement("w:hyperlink")
    link.set(qn("r:id"), r_id)
    run = OxmlElement("w:r")
    rpr = OxmlElement("w:rPr")
    colour = OxmlElement("w:color")
    colour.set(qn("w:val"), "1F4E9A")
    under = OxmlElement("w:u")
    under.set(qn("w:val"), "single")
    size = OxmlElement("w:sz")
    size.set(qn("w:val"), "24")  # 12 pt, like the "Nguồn:" before it
    rpr.append(colour)
    rpr.append(under)
    rpr.append(size)
    run.append(rpr)
    t = OxmlElement("w:t")
    t.text = text
    t.set(qn("xml:space"), "preserve")
    run.append(t)
    link.append(run)
    paragraph._p.append(link)
    return link


def _entry(doc, n: int, e: Entry, handling_section: bool, Pt, RGBColor) -> None:
    p = _para(doc)
    p.paragraph_format.space_before = Pt(6)
    p.paragraph_format.keep_with_next = True
    p.add_run(f"{n}. ").bold = True
    p.add_run(e.title).bold = True
    p = _para(doc)
    p.paragraph_format.keep_with_next = True
    meta = f"{outlets_text(e, 6)} ({e.outlet_count} nguồn) · {vi_time(e.time)}"
    tags = " · ".join(label for label, _ in entry_tags(e))
    run = p.add_run(meta + (f" · {tags}" if tags else ""))
    run.italic, run.font.size = True, Pt(12)
    if e.places:
        run = p.add_run(" · Địa bàn: " + ", ".join(e.places))
        run.italic, run.font.size = True, Pt(12)
    if e.summary:
        _para(doc, e.summary).paragraph_format.alignment = 3  # justify
    if e.misleading_note:
        p = _para(doc)
        p.add_run(f"{e.misleading_vi}: ").bold = True
        p.add_run(e.misleading_note)
    if handling_section and e.reasons:
        p = _para(doc)
        p.add_run("Lý do: ").bold = True
        p.add_run("; ".join(e.reasons))
    if e.handling and (handling_section or e.handling_by_officer):
        p = _para(doc)
        run = p.add_run("Đề xuất: ")
        run.bold = True
        run.font.color.rgb = RGBColor(0x9A, 0x1B, 0x1B)
        p.add_run(e.handling.rstrip(".") + ".").bold = True
    if e.status or (handling_section and e.note):
        p = _para(doc)
        if e.status:
            p.add_run("Tình trạng: ").bold = True
            p.add_run(e.status_vi + (". " if e.note and handling_section else ""))
        if handling_section and e.note:
            p.add_run("Ghi chú: ").bold = True
            p.add_run(e.note)
    links = [lk for lk in e.links if lk.url]
    if links:
        p = _para(doc)
        run = p.add_run("Nguồn: ")
        run.font.size = Pt(12)
        for i, lk in enumerate(links[:8]):
            if i:
                p.add_run(" · ").font.size = Pt(12)
            _add_hyperlink(p, lk.url, lk.outlet)


def _brief_entry(doc, n: int, e: Entry, Pt, *, show_handling: bool = True) -> None:
    p = _para(doc)
    p.add_run(f"{n}. ").bold = True
    p.add_run(e.title).bold = True
    run = p.add_run(f" — {outlets_text(e, 3)} ({e.outlet_count} nguồn); xem mục {e.ref}.")
    run.font.size = Pt(13)
    if e.handling and show_handling:
        run = p.add_run(f" Đề xuất: {e.handling.rstrip('.')}.")
        run.italic, run.font.size = True, Pt(13)
