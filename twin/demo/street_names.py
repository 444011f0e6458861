"""The demo's street names in Russian and Kazakh, so the viewer labels streets in its language.

The generator names a street after a named avenue (`avenues` in almaty.yml, which carry
`name_ru`/`name_kk`) or after a name of the pool (`street_names`, "Gogol St.", "2nd Gogol St."
when the pool comes round again, twin/demo/fabric.py); `street_names_local` gives each pool
name as on a Russian street sign (the genitive: ул. Гоголя) and in Kazakh (Гоголь көшесі).
A name of neither kind (an imported one) has no translation: the viewer shows `name`.
"""

from __future__ import annotations

import re

import pandas as pd

from twin.demo.figures import figures

# "2nd Gogol St." -> (2, "Gogol")
_POOL_NAME = re.compile(r"^(?:(\d+)(?:st|nd|rd|th) )?(.+) St\.$")
# Kazakh ordinals take -ші or -шы by the last word of the number (екінші, алтыншы, оныншы)
_KK_UNITS = {1: "ші", 2: "ші", 3: "ші", 4: "ші", 5: "ші", 6: "шы", 7: "ші", 8: "ші", 9: "шы"}
_KK_TENS = {1: "шы", 2: "шы", 3: "шы", 4: "шы", 5: "ші", 6: "шы", 7: "ші", 8: "ші", 9: "шы"}


def kazakh_ordinal(n: int) -> str:
    """2 -> "2-ші", 6 -> "6-шы": the suffix follows the vowels of the number's last word."""
    if n % 10:
        return f"{n}-{_KK_UNITS[n % 10]}"
    if n % 100:
        return f"{n}-{_KK_TENS[(n // 10) % 10]}"
    return f"{n}-ші"  # жүзінші, мыңыншы is rarer than any street count here


def _lookup() -> tuple[dict[str, tuple[str, str]], dict[str, tuple[str, str]]]:
    spec = figures()
    avenues = {
        a["name"]: (a["name_ru"], a["name_kk"])
        for a in spec["avenues"]["north_south"] + spec["avenues"]["east_west"]
        if "name_ru" in a and "name_kk" in a
    }
    pool = {name: (ru, kk) for name, (ru, kk) in spec.get("street_names_local", {}).items()}
    return avenues, pool


def street_name_in(name: str | None, avenues: dict, pool: dict) -> tuple[str | None, str | None]:
    """One generated street name in Russian and Kazakh; (None, None) when it has none."""
    if not name:
        return None, None
    if name in avenues:
        return avenues[name]
    match = _POOL_NAME.match(name)
    if not match or match.group(2) not in pool:
        return None, None
    ru, kk = pool[match.group(2)]
    if match.group(1) is None:
        return f"ул. {ru}", f"{kk} көшесі"
    n = int(match.group(1))
    return f"{n}-я ул. {ru}", f"{kazakh_ordinal(n)} {kk} көшесі"


def localized_street_names(names: pd.Series) -> tuple[pd.Series, pd.Series]:
    """The streets' `name_ru` and `name_kk` columns from their generated `name`."""
    avenues, pool = _lookup()
    pairs = {n: street_name_in(n, avenues, pool) for n in names.dropna().unique()}
    ru = names.map(lambda n: pairs.get(n, (None, None))[0])
    kk = names.map(lambda n: pairs.get(n, (None, None))[1])
    return ru, kk
