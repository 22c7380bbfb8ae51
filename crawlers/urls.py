"""URL canonicalisation: one address per article, whatever link, share or campaign led to it.

The same story arrives as a feed link, a Facebook share (fbclid), a Zalo share (zarsrc) and a
newsletter link (utm_*). Canonicalising before storing lets the store see one item, while
parameters that identify content (id=, p=, newsid=) are kept.
"""

from __future__ import annotations

import unicodedata
from urllib.parse import quote, unquote_plus, urlsplit, urlunsplit

from w3lib.url import canonicalize_url

# Exact names of parameters that only track who shared or clicked, never what is shown.
TRACKING_PARAMS = frozenset(
    {
        "fbclid",
        "gclid",
        "gclsrc",
        "dclid",
        "gbraid",
        "wbraid",
        "msclkid",
        "yclid",
        "twclid",
        "ttclid",
        "li_fat_id",
        "igshid",
        "igsh",
        "zarsrc",
        "zacc",
        "gidzl",
        "_ga",
        "_gl",
        "_hsenc",
        "_hsmi",
        "mc_cid",
        "mc_eid",
        "mkt_tok",
        "vero_id",
        "oly_enc_id",
        "oly_anon_id",
        "fb_action_ids",
        "fb_action_types",
        "fb_source",
        "fb_ref",
        "action_object_map",
        "action_type_map",
        "action_ref_map",
        "ref",
        "refsrc",
        "ref_src",
        "ref_url",
        "referrer",
        "vn_source",
        "vn_medium",
        "vn_campaign",
        "vn_term",
        "vn_content",
        "share",
        "s_cid",
        "cmpid",
    }
)
# Prefixes of tracking parameter families (utm_source, utm_medium, pk_campaign, ...).
TRACKING_PREFIXES = ("utm_", "pk_", "mtm_", "hsa_", "__twitter")
_DEFAULT_PORTS = {"http": 80, "https": 443}
# Second-level labels under which the registrable name sits one level deeper (baovinhlong.com.vn).
_SECOND_LEVEL = frozenset(
    {"com", "net", "org", "gov", "edu", "ac", "info", "biz", "name", "pro", "health", "int", "co"}
)


def _is_tracking(name: str) -> bool:
    low = name.lower()
    return low in TRACKING_PARAMS or low.startswith(TRACKING_PREFIXES)


def _netloc(scheme: str, parts) -> str:
    """Lower-case host (IDN as punycode), default port dropped, user info kept."""
    hostname = (parts.hostname or "").rstrip(".")
    try:
        hostname = hostname.encode("idna").decode("ascii")
    except UnicodeError:
        hostname = quote(hostname, safe=".-")
    if ":" in hostname:  # IPv6 literal
        hostname = f"[{hostname}]"
    try:
        port = parts.port
    except ValueError:
        port = None
    netloc = hostname
    if port is not None and _DEFAULT_PORTS.get(scheme) != port:
        netloc = f"{hostname}:{port}"
    if parts.username:
        cred = parts.username + (f":{parts.password}" if parts.password else "")
        netloc = f"{cred}@{netloc}"
    return netloc


def canonicalize(url: str) -> str:
    """The address an article is stored under.

    Lower-case scheme and host, no default port, no fragment, no tracking parameters, the
    remaining query sorted, and percent-encoding normalised (w3lib), path case kept.
    """
    # Unescaped Vietnamese in a path may come NFC or NFD; encode one form only.
    url = unicodedata.normalize("NFC", (url or "").strip())
    if url.startswith("//"):
        url = "https:" + url
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        return url
    # Filter the raw pairs so values keep their bytes (a %E9 from a latin-1 site survives).
    query = "&".join(
        pair
        for pair in parts.query.split("&")
        if pair and not _is_tracking(unquote_plus(pair.partition("=")[0]))
    )
    rebuilt = urlunsplit((scheme, _netloc(scheme, parts), parts.path, query, ""))
    return canonicalize_url(rebuilt, keep_fragments=False)


def host(url: str) -> str:
    """The host a site is known by: lower case, no port, no leading "www."."""
    name = (urlsplit((url or "").strip()).hostname or "").rstrip(".").lower()
    return name.removeprefix("www.")


def _registrable(name: str) -> str:
    """Last two labels, or three under a second-level suffix (com.vn, gov.vn, co.uk)."""
    labels = name.split(".")
    if len(labels) >= 3 and labels[-2] in _SECOND_LEVEL and len(labels[-1]) == 2:
        return ".".join(labels[-3:])
    return ".".join(labels[-2:])


def same_site(a: str, b: str) -> bool:
    """Whether two addresses belong to one site: m.baovinhlong.com.vn and baovinhlong.com.vn do,
    two provinces' portals under gov.vn do not."""
    ha, hb = host(a), host(b)
    return bool(ha) and bool(hb) and _registrable(ha) == _registrable(hb)
