"""Province profiles (config/<province>.yaml): the province, its aliases and its sources.

Loading validates every source on its own. A bad source is reported with its file and line and
left out; the rest of the profile loads, so one malformed line never stops a whole run.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

Kind = Literal["press_local", "press_central", "press_foreign", "social"]
FetchType = Literal[
    "feed", "sitemap", "listing", "reddit", "mastodon", "telegram", "forum", "import"
]

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd])\s*$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}


def parse_duration(text: str | int | float) -> timedelta:
    """'15m', '2h', '3d', or a number of seconds."""
    if isinstance(text, int | float):
        return timedelta(seconds=text)
    m = _DURATION.match(str(text))
    if not m:
        raise ValueError(f"không hiểu khoảng thời gian {text!r} (ví dụ: 15m, 2h, 3d)")
    return timedelta(**{_UNITS[m.group(2)]: float(m.group(1))})


def _check_url(u: str) -> str:
    if not re.match(r"^(https?|file)://", u):
        raise ValueError(f"địa chỉ không hợp lệ: {u!r}")
    return u


def _check_regex(pattern: str | None) -> str | None:
    if pattern is not None:
        try:
            re.compile(pattern)
        except re.error as exc:
            raise ValueError(f"biểu thức chính quy sai: {exc}") from exc
    return pattern


Url = Annotated[str, AfterValidator(_check_url)]


class ExtractRules(BaseModel):
    """CSS selectors that override automatic extraction for one site."""

    model_config = ConfigDict(extra="forbid")

    title: str | None = None
    lead: str | None = None
    body: str | None = None
    author: str | None = None
    published: str | None = None
    drop: list[str] = Field(default_factory=list)


class SourceConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_\-]*$", max_length=120)
    title: str
    kind: Kind
    language: str = "vi"
    type: FetchType
    urls: list[Url] = Field(default_factory=list)
    interval: str | int | float = "30m"
    enabled: bool = True
    # Real addresses stay unverified until `diemtin sources check` reaches them.
    verified: bool = True
    weight: float = Field(1.0, ge=0)
    # Trust the feed's ETag/Last-Modified (many feeds send stale ones, so off by default).
    conditional: bool = False
    # Feeds: open each entry's page (False: the entry itself is the item, e.g. YouTube).
    follow: bool = True
    # Listing pages: article links and the next page.
    links: str | None = None
    next: str | None = None
    max_pages: int = Field(3, ge=1, le=100)
    # Listing: only links whose URL matches this regex.
    allow: Annotated[str | None, AfterValidator(_check_regex)] = None
    extract: ExtractRules | None = None
    timeout: float | None = Field(None, gt=0)
    delay: float | None = Field(None, ge=0)
    note: str | None = None

    @field_validator("interval")
    @classmethod
    def _interval(cls, v: str | int | float) -> str | int | float:
        parse_duration(v)
        return v

    @model_validator(mode="after")
    def _needs(self) -> SourceConfig:
        if self.type != "import" and not self.urls:
            raise ValueError("nguồn cần ít nhất một địa chỉ trong 'urls'")
        if self.type == "listing" and not self.links:
            raise ValueError("nguồn kiểu 'listing' cần bộ chọn CSS 'links'")
        return self

    @property
    def interval_td(self) -> timedelta:
        return parse_duration(self.interval)


class Province(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: str
    name: str
    english: str | None = None
    # Provinces merged into this one on 1 July 2025 (their names stay aliases).
    former: list[str] = Field(default_factory=list)
    aliases: list[str] = Field(default_factory=list)


class Profile(BaseModel):
    model_config = ConfigDict(extra="allow")

    province: Province
    agency: str
    timezone: str = "Asia/Ho_Chi_Minh"
    sources: list[SourceConfig] = Field(default_factory=list)
    # Site extraction rules shared by sources, keyed by host (e.g. "vnexpress.net").
    site_rules: dict[str, ExtractRules] = Field(default_factory=dict)

    def source(self, name: str) -> SourceConfig:
        for s in self.sources:
            if s.name == name:
                return s
        raise KeyError(name)

    def rules_for(self, source: SourceConfig, host: str) -> ExtractRules | None:
        """The source's own rules, else the site rules for the host (or its parent domain)."""
        if source.extract:
            return source.extract
        host = host.lower().removeprefix("www.")
        while host:
            if host in self.site_rules:
                return self.site_rules[host]
            host = host.partition(".")[2]
        return None


@dataclass(frozen=True)
class ProfileProblem:
    """A part of a profile that was left out, and where it is."""

    path: str
    line: int | None
    where: str
    message: str

    def __str__(self) -> str:
        at = f"{self.path}:{self.line}" if self.line else self.path
        return f"{at}: {self.where}: {self.message}"


class ProfileError(ValueError):
    def __init__(self, problems: list[ProfileProblem]):
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


_ENV = re.compile(r"\$\{([A-Z0-9_]+)(?::-([^}]*))?\}")


def _expand(value: Any) -> Any:
    """`${VAR}` and `${VAR:-default}` in strings, so secrets and test addresses stay out."""
    if isinstance(value, str):
        return _ENV.sub(lambda m: os.environ.get(m.group(1), m.group(2) or ""), value)
    if isinstance(value, list):
        return [_expand(v) for v in value]
    if isinstance(value, dict):
        return {k: _expand(v) for k, v in value.items()}
    return value


def _node_at(node: yaml.Node, loc: tuple) -> yaml.Node:
    """The YAML node at a pydantic error location, as deep as the location goes."""
    for key in loc:
        if isinstance(node, yaml.MappingNode):
            # The last of repeated keys is the one safe_load keeps.
            found = [v for k, v in node.value if k.value == key]
            if not found:
                return node
            node = found[-1]
        elif isinstance(node, yaml.SequenceNode) and isinstance(key, int):
            if key >= len(node.value):
                return node
            node = node.value[key]
        else:
            return node
    return node


def _problems(path: str, root: yaml.Node, prefix: tuple, err: ValidationError, where: str):
    out = []
    for e in err.errors():
        loc = prefix + tuple(e["loc"])
        node = _node_at(root, loc)
        field = ".".join(str(x) for x in e["loc"] if not isinstance(x, int)) or "(cả mục)"
        msg = e["msg"].removeprefix("Value error, ")
        out.append(ProfileProblem(path, node.start_mark.line + 1, where, f"{field}: {msg}"))
    return out


def parse_profile(text: str, path: str = "<profile>") -> tuple[Profile, list[ProfileProblem]]:
    """Parse a profile; return it with the problems of the sources that were left out.

    Raises ProfileError when the file itself is unusable (bad YAML, bad province block).
    """
    try:
        root = yaml.compose(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark else None
        raise ProfileError([ProfileProblem(path, line, "YAML", str(exc).splitlines()[0])]) from exc
    if root is None or not isinstance(root, yaml.MappingNode):
        raise ProfileError([ProfileProblem(path, 1, "hồ sơ", "cần một bảng (mapping) ở gốc")])
    data = _expand(yaml.safe_load(text))
    for key_node, _ in root.value:
        if key_node.tag != "tag:yaml.org,2002:str":
            line = key_node.start_mark.line + 1
            problem = ProfileProblem(path, line, "hồ sơ", f"khóa {key_node.value!r} phải là chữ")
            raise ProfileError([problem])
    problems: list[ProfileProblem] = []
    raw_sources = data.pop("sources", None) or []
    if not isinstance(raw_sources, list):
        line = _node_at(root, ("sources",)).start_mark.line + 1
        problems.append(ProfileProblem(path, line, "hồ sơ", "'sources' phải là danh sách nguồn"))
        raw_sources = []
    try:
        profile = Profile(**data)
    except ValidationError as err:
        raise ProfileError(_problems(path, root, (), err, "hồ sơ")) from err

    seen: set[str] = set()
    sources = []
    for i, raw in enumerate(raw_sources):
        name = raw.get("name", f"#{i + 1}") if isinstance(raw, dict) else f"#{i + 1}"
        where = f"nguồn {name}"
        try:
            if not isinstance(raw, dict):
                raise TypeError
            src = SourceConfig(**raw)
        except TypeError:
            node = _node_at(root, ("sources", i))
            problems.append(ProfileProblem(path, node.start_mark.line + 1, where, "cần một bảng"))
            continue
        except ValidationError as err:
            problems.extend(_problems(path, root, ("sources", i), err, where))
            continue
        if src.name in seen:
            node = _node_at(root, ("sources", i, "name"))
            problems.append(
                ProfileProblem(path, node.start_mark.line + 1, where, "tên nguồn bị trùng")
            )
            continue
        seen.add(src.name)
        sources.append(src)
    profile.sources = sources
    return profile, problems


SITES_FILE = "sites.yaml"


def load_profile(path: Path) -> tuple[Profile, list[ProfileProblem]]:
    """Load a profile, with the shared site rules of `sites.yaml` beside it underneath its own."""
    path = Path(path)
    if not path.exists():
        raise ProfileError([ProfileProblem(str(path), None, "hồ sơ", "không tìm thấy tệp")])
    profile, problems = parse_profile(path.read_text(encoding="utf-8"), str(path))
    sites = path.with_name(SITES_FILE)
    if sites.exists() and path.name != SITES_FILE:
        shared = yaml.safe_load(sites.read_text(encoding="utf-8")) or {}
        for host, rules in (shared.get("site_rules") or {}).items():
            try:
                profile.site_rules.setdefault(host, ExtractRules(**rules))
            except ValidationError as exc:
                problems.append(ProfileProblem(str(sites), None, f"site_rules {host}", str(exc)))
    return profile, problems


def mark_verified(path: Path, names: set[str]) -> int:
    """Set `verified: true` for these sources in the profile file, leaving every other line
    (and comment) as it is. Returns how many lines changed."""
    path = Path(path)
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    root = yaml.compose("".join(lines))
    changed = 0
    sources = _node_at(root, ("sources",))
    if not isinstance(sources, yaml.SequenceNode):
        return 0
    for node in sources.value:
        if not isinstance(node, yaml.MappingNode):
            continue
        fields = {k.value: v for k, v in node.value}
        name = fields.get("name")
        if name is None or name.value not in names:
            continue
        flag = fields.get("verified")
        if flag is not None and flag.value.lower() == "false":
            i = flag.start_mark.line
            lines[i] = (
                lines[i][: flag.start_mark.column] + "true" + lines[i][flag.end_mark.column :]
            )
            changed += 1
    path.write_text("".join(lines), encoding="utf-8")
    return changed
