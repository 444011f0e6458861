"""What a change is called in English, Russian and Kazakh: "12 streets lit in Turksib",
"Турксибский район: освещены 12 улиц", "Түрксіб ауданы: 12 көше жарықтандырылды".

Russian nouns take the numeral's form (1 улица, 2 улицы, 5 улиц; 11-14 take the many form)
and the short participle agrees with the noun (1 улица освещена, 1 парк открыт, 1 здание
построено; plural otherwise). Kazakh nouns stay singular after a numeral.
"""

from __future__ import annotations

LANGS = ("en", "ru", "kk")

# noun -> en (one, many), ru (one, few, many, gender m|f|n), kk
NOUNS: dict[str, tuple[tuple[str, str], tuple[str, str, str, str], str]] = {
    "street": (("street", "streets"), ("улица", "улицы", "улиц", "f"), "көше"),
    "building": (("building", "buildings"), ("здание", "здания", "зданий", "n"), "ғимарат"),
    "park": (("park", "parks"), ("парк", "парка", "парков", "m"), "саябақ"),
    "plot": (("plot", "plots"), ("участок", "участка", "участков", "m"), "учаске"),
    "school": (("school", "schools"), ("школа", "школы", "школ", "f"), "мектеп"),
    "kindergarten": (
        ("kindergarten", "kindergartens"),
        ("детский сад", "детских сада", "детских садов", "m"),
        "балабақша",
    ),
    "clinic": (("clinic", "clinics"), ("поликлиника", "поликлиники", "поликлиник", "f"), "емхана"),
    "hospital": (("hospital", "hospitals"), ("больница", "больницы", "больниц", "f"), "аурухана"),
    "facility": (("facility", "facilities"), ("объект", "объекта", "объектов", "m"), "нысан"),
    "lighting_line": (
        ("lighting line", "lighting lines"),
        ("линия освещения", "линии освещения", "линий освещения", "f"),
        "жарықтандыру желісі",
    ),
    "network_line": (
        ("utility line", "utility lines"),
        ("инженерная линия", "инженерные линии", "инженерных линий", "f"),
        "инженерлік желі",
    ),
}

# kind -> en participle, ru short participle (m, f, n, plural), kk past tense
VERBS: dict[str, tuple[str, tuple[str, str, str, str], str]] = {
    "lit": ("lit", ("освещён", "освещена", "освещено", "освещены"), "жарықтандырылды"),
    "built": ("built", ("построен", "построена", "построено", "построены"), "салынды"),
    "rebuilt": (
        "rebuilt",
        ("перестроен", "перестроена", "перестроено", "перестроены"),
        "қайта салынды",
    ),
    "opened": ("opened", ("открыт", "открыта", "открыто", "открыты"), "ашылды"),
    "closed": ("closed", ("закрыт", "закрыта", "закрыто", "закрыты"), "жабылды"),
    "removed": ("removed", ("убран", "убрана", "убрано", "убраны"), "алынып тасталды"),
    "use_changed": (
        "changed use",
        ("сменил назначение", "сменила назначение", "сменило назначение", "сменили назначение"),
        "мақсаты өзгерді",
    ),
    "registered": (
        "registered",
        ("зарегистрирован", "зарегистрирована", "зарегистрировано", "зарегистрированы"),
        "тіркелді",
    ),
    "planned": (
        "planned",
        ("запланирован", "запланирована", "запланировано", "запланированы"),
        "жоспарланды",
    ),
    "changed": ("changed", ("изменён", "изменена", "изменено", "изменены"), "өзгертілді"),
}
GENDER = {"m": 0, "f": 1, "n": 2}


def russian_form(count: int) -> int:
    """0: one (1, 21, 101...), 1: few (2-4, 22-24...), 2: many (0, 5-20, 25-30, 11-14...)."""
    tens, units = count % 100, count % 10
    if units == 1 and tens != 11:
        return 0
    if 2 <= units <= 4 and not 12 <= tens <= 14:
        return 1
    return 2


def counted(noun: str, count: int, lang: str) -> str:
    """`count` of a noun in the language: "12 streets", "12 улиц", "12 көше"."""
    en, ru, kk = NOUNS[noun]
    if lang == "ru":
        return f"{count:,} {ru[russian_form(count)]}".replace(",", "\u00a0")
    if lang == "kk":
        return f"{count:,} {kk}".replace(",", "\u00a0")
    return f"{count:,} {en[0] if count == 1 else en[1]}"


def title(kind: str, noun: str, count: int, district: dict[str, str] | None, lang: str) -> str:
    """One change (or a month's sum of them) in a district, as a reader says it."""
    verb_en, verb_ru, verb_kk = VERBS[kind]
    if lang == "ru":
        gender = NOUNS[noun][1][3]
        verb = verb_ru[GENDER[gender]] if russian_form(count) == 0 else verb_ru[3]
        text = f"{verb} {counted(noun, count, 'ru')}"
        return f"{district['ru']}: {text}" if district else text[0].upper() + text[1:]
    if lang == "kk":
        text = f"{counted(noun, count, 'kk')} {verb_kk}"
        return f"{district['kk']}: {text}" if district else text
    text = f"{counted(noun, count, 'en')} {verb_en}"
    return f"{text} in {district['en']}" if district else text


def titles(
    kind: str, noun: str, count: int, district: dict[str, str] | None, name: str | None = None
) -> dict[str, str]:
    """The title in every language; a named feature's name follows a dash."""
    suffix = f" — {name}" if name else ""
    return {lang: title(kind, noun, count, district, lang) + suffix for lang in LANGS}
