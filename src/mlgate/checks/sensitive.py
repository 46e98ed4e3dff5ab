"""Sensitive personal data: which columns hold it, found by their names and by their values.

A governed model must know which of its columns describe people: the special categories of
personal data (sex, age, race, religion, health, nationality, marital status, sexual orientation,
political opinion) and the identifiers that point at one person (names, e-mail addresses, phone
numbers, ID numbers, addresses, IP addresses). Two independent signals are used:

- **by name** (:func:`detect_by_name`): the column name is normalised (camelCase, snake_case and
  kebab-case split, digits and punctuation dropped, lower case) and its whole tokens are looked up
  in an English lexicon (``usage``, ``agent`` and ``stage`` never match ``age``); Chinese terms
  (``性别``, ``身份证``) are looked up as substrings of the Chinese characters, since Chinese
  writes no spaces. Ambiguous words need context: ``name`` counts alone or after a person word
  (``customer_name``), not in ``product_name``; ``age`` counts unless a thing is named
  (``account_age``, ``vehicle_age``); an identifier word next to a derived word (``email_count``,
  ``phone_model``, ``has_email``) is not an identifier.
- **by content** (:func:`detect_by_content`): on a deterministic sample of the non-null values,
  the share of values that are e-mail addresses, phone numbers, Chinese resident ID numbers (with
  their ISO 7064 MOD 11-2 check character and a real birth date), US social security numbers
  (without the never-issued ranges), payment card numbers (with a known issuer prefix and the Luhn
  check digit) or IP addresses (parsed by :mod:`ipaddress`). Columns whose every sampled value is
  a sex, marital-status, ethnic-group or religion label are recognised too.

When the content shows identifiers, the content decides (a column named ``age`` full of e-mail
addresses is an identifier); otherwise the name decides. Reports never carry a found value: only
counts, shares and examples masked by :func:`mask`. The check :data:`SPEC` (``sensitive_data``)
warns about sensitive columns the project did not declare and fails when an identifier is used as
a model feature.
"""

from __future__ import annotations

import ipaddress
import logging
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any, Literal

import numpy as np
import pandas as pd

from mlgate.checks.base import (
    CheckInput,
    CheckResult,
    CheckSpec,
    Figure,
    Finding,
    Series,
    Severity,
    worst,
)
from mlgate.errors import ValidationError

logger = logging.getLogger(__name__)

DEFAULTS: dict[str, float] = {"min_match_share": 0.5, "sample_size": 1000}

CATEGORIES: tuple[str, ...] = (
    "sex",
    "age",
    "race",
    "religion",
    "health",
    "nationality",
    "marital_status",
    "sexual_orientation",
    "political_opinion",
    "identifier",
)
IDENTIFIER = "identifier"
MAX_EXAMPLES = 3

Source = Literal["name", "content", "name+content"]
Mode = Literal["strong", "context", "alone"]

# How sure a name match is, by how the term is used: a strong term is sensitive wherever it
# appears, a context term only when no thing is named beside it, an "alone" term only by itself
# or beside person words. The numbers order the matches; they are not calibrated probabilities.
CONFIDENCE: dict[str, float] = {"strong": 0.9, "alone": 0.8, "context": 0.7}


def _words(text: str) -> frozenset[str]:
    """Return the set of whitespace-separated words of ``text`` (for long word lists)."""
    return frozenset(text.split())


# --- Name lexicons --------------------------------------------------------------------------

# English terms, as space-separated phrases of whole tokens, per category and mode.
ENGLISH_TERMS: dict[str, dict[Mode, tuple[str, ...]]] = {
    "sex": {
        "strong": ("sex", "sexes", "gender", "genders", "male", "female"),
    },
    "age": {
        "strong": (
            "dob", "birthday", "birthdate", "dateofbirth", "yob", "birth date",
            "date of birth", "birth year", "year of birth", "senior citizen",
        ),
        "context": ("age", "ages"),
    },
    "race": {
        "strong": (
            "racial", "ethnicity", "ethnicities", "ethnic", "ethnic group", "skin color",
            "skin colour",
        ),
        "context": ("race", "races"),
    },
    "religion": {
        "strong": ("religion", "religions", "religious"),
        "context": ("faith",),
    },
    "health": {
        "strong": (
            "disease", "diseases", "diagnosis", "diagnoses", "diagnosed", "disability",
            "disabilities", "illness", "illnesses", "pregnancy", "pregnancies", "pregnant",
            "diabetes", "diabetic", "cancer", "hiv", "symptom", "symptoms", "icd",
            "comorbidity", "comorbidities", "medication", "medications", "bmi", "cholesterol",
            "glucose", "insulin", "blood pressure", "bloodpressure", "blood type",
            "heart rate",
        ),
        "context": ("health", "medical", "disabled"),
    },
    "nationality": {
        "strong": (
            "nationality", "nationalities", "citizenship", "country of birth", "birth country",
            "native country", "nativecountry", "country of citizenship", "place of birth",
            "birthplace", "birth place", "foreign worker", "foreigner", "immigrant",
            "immigration", "visa status",
        ),
        "context": ("citizen", "citizens"),
    },
    "marital_status": {
        "strong": (
            "marital", "maritalstatus", "married", "marriage", "civil status",
            "relationship status",
        ),
    },
    "sexual_orientation": {
        "strong": ("sexual orientation", "sexuality", "lgbt", "lgbtq"),
        "context": ("sexual",),
    },
    "political_opinion": {
        "strong": (
            "political", "politics", "political party", "party affiliation",
            "party membership", "voting intention", "ideology",
        ),
    },
    IDENTIFIER: {
        "strong": (
            "firstname", "lastname", "fullname", "surname", "surnames", "forename",
            "givenname", "familyname", "maidenname", "username", "first name", "last name",
            "given name", "family name", "middle name", "maiden name", "full name",
            "email", "emails", "e mail", "emailaddress", "email address",
            "telephone", "phonenumber", "phone number", "phone no", "mobile number",
            "mobile phone", "mobile no", "cell phone", "cellphone", "cell number", "msisdn",
            "ssn", "social security", "social security number", "passport",
            "passport number", "id number", "id no", "id num", "id card", "national id",
            "identity number", "identity card", "identity no", "tax id", "driver license",
            "drivers license", "driving licence", "driving license", "license number",
            "iban", "credit card", "card number", "card no", "bank account",
            "account number", "ip", "ipv", "ipaddress", "ipaddr", "ip address",
            "mac address", "street address", "home address", "postal address",
            "mailing address",
        ),
        "context": ("phone", "phones", "address", "addresses"),
        "alone": ("name", "names", "nickname", "mail", "mobile", "tel", "fax", "addr"),
    },
}  # fmt: skip

# Chinese terms, matched as substrings of the name's Chinese characters.
CHINESE_TERMS: dict[str, dict[Mode, tuple[str, ...]]] = {
    "sex": {"strong": ("性别",)},
    "age": {"strong": ("年龄", "岁数", "出生日期", "出生年月", "出生年份", "生日")},
    "race": {"strong": ("民族", "种族", "族裔", "族别")},
    "religion": {"strong": ("宗教", "信仰")},
    "health": {
        "strong": (
            "疾病", "病史", "病历", "诊断", "残疾", "残障", "病情", "病种", "患病", "怀孕",
            "妊娠",
        ),
        "context": ("健康", "病"),
    },
    "nationality": {"strong": ("国籍", "出生国", "公民身份")},
    "marital_status": {"strong": ("婚姻", "婚否", "已婚")},
    "sexual_orientation": {"strong": ("性取向", "性倾向")},
    "political_opinion": {"strong": ("政治面貌", "党派", "政党", "政治倾向", "政治观点", "党员")},
    IDENTIFIER: {
        "strong": (
            "身份证", "证件号", "姓名", "用户名", "手机", "电话", "邮箱", "电子邮件", "护照",
            "住址", "银行卡", "社保号", "社会保障号",
        ),
        "context": ("地址", "名字"),
    },
}  # fmt: skip

# Words that may stand beside an "alone" term: who the value belongs to, or which one it is.
PERSON_WORDS = _words(
    """
    first last full given family middle maiden nick display real legal preferred customer
    client user patient employee person personal applicant borrower member student contact
    emergency owner holder cardholder home work primary secondary private billing shipping
    mailing residential current permanent mother father parent guardian spouse beneficiary
    insured policyholder driver passenger visitor guest buyer recipient sender caller
    subscriber citizen resident worker staff author child no nr num number
    """
)

# Words that name a thing rather than a person: beside a "context" term they cancel it.
THING_WORDS = _words(
    """
    account loan vehicle car truck house building property asset battery device machine
    server system node cluster disk product item sku file page web website url model
    company business firm store shop merchant vendor supplier host table column feature
    project domain memory cache tree policy contract ticket order package tool app software
    release document job tire equipment plant crop soil pet animal stock bond fund portfolio
    market service code repo repository branch build cell horse lap track network
    """
)

# Words that make a column about an identifier rather than the identifier itself.
DERIVED_WORDS = _words(
    """
    count counts cnt n flag flags is has verified verification valid validated opt optin
    optout domain domains type types model brand length len format server service provider
    carrier template pattern regex bounce bounced sent opened clicks clicked campaign
    changed updated status exists present missing ratio share pct percent rate score
    """
)

CHINESE_THING_WORDS = (
    "产品", "商品", "公司", "企业", "文件", "设备", "服务器", "系统", "页面", "车辆", "房屋",
    "网站", "门店", "店铺", "仓库", "病毒", "机器", "网页",
)  # fmt: skip
CHINESE_DERIVED_WORDS = (
    "数量", "次数", "个数", "类型", "型号", "品牌", "是否", "验证", "格式", "运营商", "归属地",
    "长度",
)  # fmt: skip


@dataclass(frozen=True)
class _Term:
    words: tuple[str, ...]
    category: str
    mode: Mode


def _english_index() -> dict[str, list[_Term]]:
    index: dict[str, list[_Term]] = {}
    for category, modes in ENGLISH_TERMS.items():
        for mode, phrases in modes.items():
            for phrase in phrases:
                term = _Term(tuple(phrase.split()), category, mode)
                index.setdefault(term.words[0], []).append(term)
    return index


_ENGLISH_INDEX = _english_index()
_CHINESE = [
    (text, category, mode)
    for category, modes in CHINESE_TERMS.items()
    for mode, texts in modes.items()
    for text in texts
]
_CAMEL = re.compile(r"(?<=[a-z])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")
_NOT_LETTER = re.compile(r"[^A-Za-z]+")
_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+")


@dataclass(frozen=True)
class NameMatch:
    """A column name that names a sensitive category, with the token that matched."""

    category: str
    token: str
    confidence: float


def name_tokens(name: Any) -> list[str]:
    """Return the lower-case English word tokens of a column name, digits and punctuation gone.

    ``dateOfBirth`` gives ``['date', 'of', 'birth']``, ``IPAddress2`` gives ``['ip', 'address']``
    and ``e-mail`` gives ``['e', 'mail']``. Chinese characters are left out (see
    :func:`detect_by_name`).
    """
    text = _CAMEL.sub(" ", _CJK.sub(" ", str(name)))
    return [word.lower() for word in _NOT_LETTER.split(text) if word]


def detect_by_name(name: Any) -> NameMatch | None:
    """Return the sensitive category a column name points at, or ``None``.

    Among the terms that match, the surest mode wins, then the longest phrase (``ip_address``
    over ``ip``), then the earliest position. See the module docstring for the rules.
    """
    tokens = name_tokens(name)
    chinese = "".join(_CJK.findall(str(name)))
    candidates: list[tuple[float, int, int, str, str]] = []

    for start, word in enumerate(tokens):
        for term in _ENGLISH_INDEX.get(word, ()):
            end = start + len(term.words)
            if tuple(tokens[start:end]) != term.words:
                continue
            rest = tokens[:start] + tokens[end:]
            if _term_allowed(term.category, term.mode, rest, chinese):
                score = (CONFIDENCE[term.mode], len(term.words), -start)
                candidates.append((*score, term.category, " ".join(term.words)))

    for text, category, mode in _CHINESE:
        position = chinese.find(text)
        if position >= 0 and _term_allowed(category, mode, tokens, chinese):
            # A single character (病) is weaker evidence than a word of two or more.
            confidence = CONFIDENCE[mode] - (0.1 if len(text) == 1 else 0.0)
            candidates.append((confidence, len(text), -position, category, text))

    if not candidates:
        return None
    confidence, _, _, category, token = max(candidates)
    return NameMatch(category=category, token=token, confidence=confidence)


def _term_allowed(category: str, mode: Mode, rest: list[str], chinese: str) -> bool:
    """Apply the context rules to a matched term.

    ``rest`` are the English tokens outside the term and ``chinese`` all Chinese characters of
    the name (no Chinese term is itself a thing or derived word, so the whole text is searched).
    """
    if category == IDENTIFIER and (
        any(word in DERIVED_WORDS for word in rest)
        or any(word in chinese for word in CHINESE_DERIVED_WORDS)
    ):
        return False
    if mode == "context":
        return not (
            any(word in THING_WORDS for word in rest)
            or any(word in chinese for word in CHINESE_THING_WORDS)
        )
    if mode == "alone":
        return all(word in PERSON_WORDS for word in rest) and not chinese
    return True


# --- Validators -----------------------------------------------------------------------------

_DIGITS = re.compile(r"[0-9]+")
_CARD_SEPARATORS = re.compile(r"[ -]")
_CN_ID = re.compile(r"[1-9][0-9]{16}[0-9X]")
_CN_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CN_CHECK = "10X98765432"  # check character by (weighted sum mod 11), GB 11643 / ISO 7064
_CN_PROVINCES = _words(
    "11 12 13 14 15 21 22 23 31 32 33 34 35 36 37 41 42 43 44 45 46 50 51 52 53 54 61 62 63 "
    "64 65 71 81 82 83"
)
CN_ID_YEARS = (1900, 2099)  # birth years accepted; a check cannot read the clock
_SSN = re.compile(r"([0-9]{3})-([0-9]{2})-([0-9]{4})")


def luhn_valid(number: Any) -> bool:
    """Return whether a digit string (spaces and dashes allowed) passes the Luhn check.

    From the right, every second digit is doubled (minus 9 when above 9); the sum of all digits
    must be a multiple of 10. A random digit string passes one time in ten.
    """
    digits = _CARD_SEPARATORS.sub("", str(number).strip())
    if len(digits) < 2 or not _DIGITS.fullmatch(digits):
        return False
    total = 0
    for position, char in enumerate(reversed(digits)):
        digit = int(char)
        if position % 2 == 1:
            digit = digit * 2 - 9 if digit > 4 else digit * 2
        total += digit
    return total % 10 == 0


def cn_resident_id_valid(value: Any) -> bool:
    """Return whether ``value`` is a valid 18-character Chinese resident identity number.

    Checks the layout (17 digits and a digit or ``X``), the province code (first two digits),
    the birth date (characters 7 to 14, a real date in :data:`CN_ID_YEARS`) and the check
    character of GB 11643-1999 (ISO 7064 MOD 11-2): weights ``2**(17-i) mod 11`` over the first
    17 digits, check character ``10X98765432[sum mod 11]``.
    """
    text = str(value).strip().upper()
    if not _CN_ID.fullmatch(text) or text[:2] not in _CN_PROVINCES:
        return False
    year = int(text[6:10])
    if not CN_ID_YEARS[0] <= year <= CN_ID_YEARS[1]:
        return False
    try:
        date(year, int(text[10:12]), int(text[12:14]))
    except ValueError:
        return False
    total = sum(int(digit) * weight for digit, weight in zip(text[:17], _CN_WEIGHTS, strict=True))
    return _CN_CHECK[total % 11] == text[17]


def ssn_valid(value: Any) -> bool:
    """Return whether ``value`` is a US social security number in the form ``AAA-GG-SSSS``.

    The Social Security Administration never issues area 000, 666 or 900-999, group 00 or
    serial 0000; those are refused.
    """
    match = _SSN.fullmatch(str(value).strip())
    if match is None:
        return False
    area, group, serial = match.groups()
    return area not in ("000", "666") and area[0] != "9" and group != "00" and serial != "0000"


# Issuer prefixes (IIN ranges) and lengths of the major card schemes. Digit strings that pass
# Luhn but start like no card (ISBNs, IMEIs of 15 digits, order numbers) are not cards.
_CARD_SCHEMES: tuple[tuple[str, tuple[tuple[int, int], ...], frozenset[int]], ...] = (
    ("visa", ((4, 4),), frozenset({13, 16, 19})),
    ("mastercard", ((51, 55), (2221, 2720)), frozenset({16})),
    ("amex", ((34, 34), (37, 37)), frozenset({15})),
    ("discover", ((6011, 6011), (644, 649), (65, 65)), frozenset(range(16, 20))),
    ("jcb", ((3528, 3589),), frozenset(range(16, 20))),
    ("diners", ((300, 305), (36, 36), (38, 39)), frozenset(range(14, 20))),
    ("unionpay", ((62, 62),), frozenset(range(16, 20))),
)


def card_number_valid(value: Any) -> bool:
    """Return whether ``value`` is a payment card number: 13 to 19 digits, spaces or dashes
    allowed, a known issuer prefix and length (Visa, Mastercard, Amex, Discover, JCB, Diners,
    UnionPay), and the Luhn check digit."""
    text = str(value).strip()
    digits = _CARD_SEPARATORS.sub("", text)
    if not 13 <= len(digits) <= 19 or not _DIGITS.fullmatch(digits):
        return False
    if _scheme(digits) is None:
        return False
    return luhn_valid(digits)


def _scheme(digits: str) -> str | None:
    for scheme, ranges, lengths in _CARD_SCHEMES:
        if len(digits) not in lengths:
            continue
        for low, high in ranges:
            prefix = int(digits[: len(str(low))])
            if low <= prefix <= high:
                return scheme
    return None


_EMAIL = re.compile(
    r"[A-Za-z0-9._%+-]+@(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?\.)+[A-Za-z]{2,24}"
)
_CN_MOBILE = re.compile(r"(?:\+?86[ -]?)?1[3-9][0-9](?:[ -]?[0-9]{4}){2}")
_NANP = re.compile(
    r"(?:\+?1[ .-]?)?(?:\([2-9][0-9]{2}\) ?|[2-9][0-9]{2}[ .-])[2-9][0-9]{2}[ .-][0-9]{4}"
)
_NATIONAL = re.compile(r"\(?0[1-9][0-9]{1,4}\)?[ -][0-9]{3,4}[ -]?[0-9]{3,4}")
_DECIMAL = re.compile(r"[+-]?[0-9]*\.[0-9]+")
_INTERNATIONAL = re.compile(r"(?:\+|00)[1-9][0-9]{0,2}(?:[ .-]?\(?[0-9]{1,4}\)?){2,6}")


# IBAN length per country code, from the SWIFT IBAN registry (ISO 13616). A string is an IBAN
# only at its country's length, which keeps random letters and digits out better than the
# checksum alone (a random string passes mod 97 one time in 97).
IBAN_LENGTHS: dict[str, int] = {
    **dict.fromkeys(["NO"], 15),
    **dict.fromkeys(["BE"], 16),
    **dict.fromkeys(["DK", "FI", "FO", "GL", "NL", "SD"], 18),
    **dict.fromkeys(["MK", "SI"], 19),
    **dict.fromkeys(["AT", "BA", "EE", "KZ", "LT", "LU", "XK"], 20),
    **dict.fromkeys(["CH", "CR", "HR", "LI", "LV"], 21),
    **dict.fromkeys(["BG", "BH", "DE", "GB", "GE", "IE", "IQ", "ME", "RS", "VA"], 22),
    **dict.fromkeys(["AE", "GI", "IL", "OM", "TL"], 23),
    **dict.fromkeys(["AD", "CZ", "ES", "LY", "MD", "PK", "RO", "SA", "SE", "SK", "TN", "VG"], 24),
    **dict.fromkeys(["PT", "ST"], 25),
    **dict.fromkeys(["IS", "TR"], 26),
    **dict.fromkeys(["FR", "GR", "IT", "MC", "MR", "SM"], 27),
    **dict.fromkeys(["AL", "AZ", "BY", "CY", "DO", "GT", "HU", "LB", "PL", "SV"], 28),
    **dict.fromkeys(["BR", "EG", "PS", "QA", "UA"], 29),
    **dict.fromkeys(["JO", "KW", "MU"], 30),
    **dict.fromkeys(["MT", "SC"], 31),
    **dict.fromkeys(["LC"], 32),
    **dict.fromkeys(["RU"], 33),
}
_IBAN = re.compile(r"([A-Z]{2})([0-9]{2})([A-Z0-9]{11,30})")
_IBAN_SPACES = re.compile(r"[A-Z]{2}[0-9]{2}(?: [A-Z0-9]{4})+(?: [A-Z0-9]{1,3})?")
IBAN_MODULUS = 97
IBAN_HEAD = 4  # country code and check digits, moved to the end for the check
IBAN_DIGIT_BASE = 36  # letters read as 10 to 35, as digits of base 36
IBAN_KEPT = (2, 4)  # characters shown by the mask: the country code and the last four
IBAN_MIN_MASKED = 12  # shorter text is not an IBAN; it is masked like any other value


def iban_valid(value: Any) -> bool:
    """Return whether ``value`` is an IBAN (ISO 13616): a known country code, two check digits
    and the account (BBAN), at the country's length, written whole or in groups of four split
    by single spaces, upper case, and passing the mod-97 check: with the first four characters
    moved to the end and each letter read as 10 to 35, the number leaves 1 when divided by 97.
    """
    text = str(value).strip()
    if " " in text:
        if not _IBAN_SPACES.fullmatch(text):
            return False
        text = text.replace(" ", "")
    match = _IBAN.fullmatch(text)
    if match is None or IBAN_LENGTHS.get(match.group(1)) != len(text):
        return False
    rearranged = text[IBAN_HEAD:] + text[:IBAN_HEAD]
    number = "".join(str(int(char, IBAN_DIGIT_BASE)) for char in rearranged)
    return int(number) % IBAN_MODULUS == 1


# Phone numbers and IBANs inside free text. A candidate must stand apart: not glued to a letter,
# digit or underscore, nor to the dots, colons, slashes, plus signs and dashes of timestamps
# (``2026-12-05T07:16:08+00:00``), durations (``0:01:23.5``), version numbers (``1.26.4``),
# paths, UUIDs and hashes. Dotted separators are not searched for in free text, where they are
# more often decimals than phone numbers.
_APART_BEFORE = r"(?<![\w.:/+-])"
_APART_AFTER = r"(?![\w:/+-]|[.,][0-9])"
_PHONE_IN_TEXT = re.compile(
    _APART_BEFORE
    + "(?:"
    + r"(?:\+?86[ -]?)?1[3-9][0-9](?:[ -]?[0-9]{4}){2}"
    + r"|(?:\+?1[ -]?)?(?:\([2-9][0-9]{2}\) ?|[2-9][0-9]{2}[ -])[2-9][0-9]{2}[ -][0-9]{4}"
    + r"|\(?0[1-9][0-9]{1,4}\)?[ -][0-9]{3,4}[ -]?[0-9]{3,4}"
    + r"|(?:\+|00)[1-9][0-9]{0,2}(?:[ -]?(?:\(0\)|\(?[0-9]{1,4}\)?)){2,6}"
    + ")"
    + _APART_AFTER
)
_IBAN_IN_TEXT = re.compile(
    _APART_BEFORE
    + r"[A-Z]{2}[0-9]{2}(?:[A-Z0-9]{11,30}|(?: [A-Z0-9]{4}){2,7}(?: [A-Z0-9]{1,3})?)"
    + _APART_AFTER
)


def phone_in_text(text: Any) -> str | None:
    """Return the first phone number written inside ``text`` (as :func:`phone_valid` accepts
    it, standing apart from other words), or ``None``.

    Timestamps, durations, version numbers, hashes and identifiers that hold digits are not
    taken for phone numbers: a candidate glued to letters, digits, ``.``, ``:``, ``/``, ``+`` or
    ``-`` is skipped, and dotted groups are not searched for.
    """
    for match in _PHONE_IN_TEXT.finditer(str(text)):
        candidate = match.group(0).replace("(0)", "")
        if phone_valid(candidate):
            return match.group(0)
    return None


def iban_in_text(text: Any) -> str | None:
    """Return the first IBAN written inside ``text`` (see :func:`iban_valid`), or ``None``."""
    for match in _IBAN_IN_TEXT.finditer(str(text)):
        # A word after a spaced IBAN may look like one more group of it: drop groups until
        # the rest is valid.
        groups = match.group(0).split(" ")
        while groups:
            candidate = " ".join(groups)
            if iban_valid(candidate):
                return candidate
            groups.pop()
    return None


def email_valid(value: Any) -> bool:
    """Return whether ``value`` is an e-mail address ``local@domain.tld`` (a letter-only TLD)."""
    return _EMAIL.fullmatch(str(value).strip()) is not None


def phone_valid(value: Any) -> bool:
    """Return whether ``value`` is written like a phone number.

    Accepted: Chinese mobiles ``1[3-9]`` plus 9 digits (optionally ``+86``, spaces or dashes in
    3-4-4 groups); North American numbers with separators (``(415) 555-0134``, ``415-555-0134``);
    national numbers with a trunk ``0`` and separators (``020 7946 0958``, ``010-12345678``);
    international numbers ``+CC`` or ``00CC`` with 8 to 15 digits in all (E.164). A bare run of
    digits other than a Chinese mobile is refused: it is more often an order number than a phone;
    so is a decimal number with one point (``+1.23456789``).
    """
    text = str(value).strip()
    if _DECIMAL.fullmatch(text):
        return False  # a signed decimal such as a metric's change, +1.23456789
    if _CN_MOBILE.fullmatch(text) or _NANP.fullmatch(text) or _NATIONAL.fullmatch(text):
        return True
    if _INTERNATIONAL.fullmatch(text):
        n_digits = sum(char.isdigit() for char in text) - (2 if text.startswith("00") else 0)
        return 8 <= n_digits <= 15
    return False


def ip_valid(value: Any) -> bool:
    """Return whether ``value`` is an IPv4 or IPv6 address (parsed by :mod:`ipaddress`).

    Four-part version strings such as ``1.2.3.4`` or ``2.0.1.4`` parse as IPv4 too. An IPv4
    address is therefore accepted only when one of its parts is at least 32, or it is private or
    loopback (``10.0.0.5``), and never when it starts with ``0``. Public addresses made of small
    numbers only (``8.8.8.8``) are missed; four-part versions under ``10.`` are mistaken for IPs.
    """
    text = str(value).strip()
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return False
    if address.version == 6:
        return True
    parts = [int(part) for part in text.split(".")]
    if parts[0] == 0:
        return False
    return max(parts) >= 32 or address.is_private or address.is_loopback


# --- Masking --------------------------------------------------------------------------------

MASK_KINDS = ("email", "phone", "cn_resident_id", "ssn", "credit_card", "iban", "ip", "generic")


def mask(value: Any, kind: str) -> str:
    """Return ``value`` with all but a few characters replaced by ``*``, for reports.

    - ``email``: first character of the user and of the domain, and the top-level domain:
      ``j***@e***.com``;
    - ``phone``: the last 4 digits, and the first 3 when there are 11 or more: ``138****5678``;
    - ``credit_card``: the last 4 digits: ``****-****-****-1234``;
    - ``cn_resident_id``: the first 3 and last 4 characters: ``110***********123X``;
    - ``ssn``: the serial: ``***-**-6789``;
    - ``iban``: the country code and the last 4 characters: ``DE****************3000``;
    - ``ip``: the first part: ``192.*.*.*`` or ``2001:****``;
    - ``generic`` (and any value that does not fit its kind): the first character of a value of 4
      or more characters, then ``***`` (so the length is not told either).
    """
    if kind not in MASK_KINDS:
        raise ValidationError(
            f"unknown mask kind '{kind}'; expected one of {', '.join(MASK_KINDS)}"
        )
    text = str(value).strip()
    masked = _MASKERS[kind](text) if kind != "generic" else None
    return masked if masked is not None else _mask_generic(text)


def _mask_generic(text: str) -> str:
    return f"{text[0]}***" if len(text) >= 4 else "***"


def _mask_email(text: str) -> str | None:
    local, _, domain = text.rpartition("@")
    labels = domain.split(".")
    if not local or len(labels) < 2 or not all(labels):
        return None
    return f"{local[0]}***@{labels[0][0]}***.{labels[-1]}"


def _mask_phone(text: str) -> str | None:
    digits = re.sub(r"[^0-9]", "", text)
    if len(digits) < 7:
        return None
    plus = "+" if text.startswith("+") else ""
    head = digits[:3] if len(digits) >= 11 else ""
    return plus + head + "*" * (len(digits) - len(head) - 4) + digits[-4:]


def _mask_card(text: str) -> str | None:
    digits = _CARD_SEPARATORS.sub("", text)
    if len(digits) < 12 or not _DIGITS.fullmatch(digits):
        return None
    stars = "*" * (len(digits) - 4)
    groups = [stars[i : i + 4] for i in range(0, len(stars), 4)]
    return "-".join([*groups, digits[-4:]])


def _mask_cn_id(text: str) -> str | None:
    if len(text) != 18:
        return None
    return text[:3] + "*" * 11 + text[-4:].upper()


def _mask_ssn(text: str) -> str | None:
    digits = re.sub(r"[^0-9]", "", text)
    return f"***-**-{digits[-4:]}" if len(digits) == 9 else None


def _mask_iban(text: str) -> str | None:
    compact = text.replace(" ", "")
    if len(compact) < IBAN_MIN_MASKED:
        return None
    head, tail = IBAN_KEPT
    return compact[:head] + "*" * (len(compact) - head - tail) + compact[-tail:]


def _mask_ip(text: str) -> str | None:
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if address.version == 4:
        return text.split(".")[0] + ".*.*.*"
    return address.exploded.split(":")[0] + ":****"


_MASKERS: dict[str, Callable[[str], str | None]] = {
    "email": _mask_email,
    "phone": _mask_phone,
    "credit_card": _mask_card,
    "cn_resident_id": _mask_cn_id,
    "ssn": _mask_ssn,
    "iban": _mask_iban,
    "ip": _mask_ip,
}


# --- Content detection ----------------------------------------------------------------------

# Identifier kinds in order of precedence when two reach the same share: an 18-digit resident
# ID can pass the card check by chance, never the reverse.
IDENTIFIER_KINDS: dict[str, Callable[[Any], bool]] = {
    "cn_resident_id": cn_resident_id_valid,
    "ssn": ssn_valid,
    "email": email_valid,
    "ip": ip_valid,
    "credit_card": card_number_valid,
    "iban": iban_valid,
    "phone": phone_valid,
}
KIND_LABELS: dict[str, str] = {
    "cn_resident_id": "Chinese resident ID numbers",
    "ssn": "US social security numbers",
    "email": "e-mail addresses",
    "ip": "IP addresses",
    "credit_card": "payment card numbers",
    "iban": "IBANs (bank account numbers)",
    "phone": "phone numbers",
    "sex_values": "sex labels",
    "marital_values": "marital-status labels",
    "race_values": "ethnic-group labels",
    "religion_values": "religion labels",
}


@dataclass(frozen=True)
class _Vocabulary:
    """Labels that, when they are the only values of a column, reveal a sensitive category."""

    kind: str
    category: str
    words: frozenset[str]
    required: tuple[frozenset[str], ...]  # each set must have at least one value present
    min_distinct: int


_FILLERS = frozenset({"other", "others", "unknown", "u", "x", "n/a", "na", "none", "其他", "未知"})
_MALE = frozenset({"male", "m", "man", "men", "boy", "男", "男性"})
_FEMALE = frozenset({"female", "f", "woman", "women", "girl", "女", "女性"})
_MARRIED = _words(
    """married divorced widowed separated married-civ-spouse married-spouse-absent
    married-af-spouse 已婚 离异 离婚 丧偶 分居"""
)
_RACES = _words(
    """white black asian hispanic latino latina latinx african-american caucasian
    asian-pac-islander amer-indian-eskimo pacific-islander native-american multiracial mixed
    汉族 回族 藏族 维吾尔族 蒙古族 壮族 满族 苗族 彝族 土家族 布依族 朝鲜族 侗族 瑶族 白族 哈萨克族
    黎族 傣族 畲族"""
) | {"african american", "native american", "american indian", "pacific islander"}
_RELIGIONS = _words(
    """christian christianity catholic protestant orthodox muslim islam buddhist buddhism hindu
    hinduism jewish judaism sikh sikhism atheist agnostic taoist taoism 佛教 基督教 伊斯兰教 天主教
    道教 无宗教"""
)
VOCABULARIES: tuple[_Vocabulary, ...] = (
    _Vocabulary(
        "sex_values", "sex", _MALE | _FEMALE | {"non-binary", "nonbinary"}, (_MALE, _FEMALE), 2
    ),
    _Vocabulary(
        "marital_values",
        "marital_status",
        _MARRIED | {"single", "never-married", "never married", "unmarried", "未婚", "单身"},
        (_MARRIED,),
        2,
    ),
    _Vocabulary("race_values", "race", _RACES, (), 3),
    _Vocabulary("religion_values", "religion", _RELIGIONS, (), 3),
)


@dataclass(frozen=True)
class ContentMatch:
    """Values that look like one kind of personal data, with the share that do.

    ``share`` is ``n_matched / n_sampled`` over the sampled non-null values; ``examples`` are up
    to three matching values, masked.
    """

    kind: str
    category: str
    share: float
    n_sampled: int
    n_matched: int
    examples: tuple[str, ...]


def sample_texts(values: Any, sample_size: int = 1000, seed: int = 0) -> list[str]:
    """Return up to ``sample_size`` non-null values as trimmed text, in their original order.

    Larger columns are sampled without replacement with ``numpy.random.default_rng(seed)``, so
    the same column and seed always give the same sample. Whole floats are written without
    ``.0`` (a phone number read as float stays a phone number); empty strings count as null.
    Boolean and date-time columns give no text: they hold no identifiers.
    """
    _check_sample_size(sample_size)
    series = values if isinstance(values, pd.Series) else pd.Series(values)
    if pd.api.types.is_bool_dtype(series.dtype) or pd.api.types.is_datetime64_any_dtype(
        series.dtype
    ):
        return []
    present = series[series.notna()]
    if len(present) > sample_size:
        rng = np.random.default_rng(seed)
        picked = np.sort(rng.choice(len(present), size=int(sample_size), replace=False))
        present = present.iloc[picked]
    texts = (_as_text(value) for value in present.tolist())
    return [text for text in texts if text]


def _as_text(value: Any) -> str:
    if isinstance(value, float | np.floating) and np.isfinite(value) and float(value).is_integer():
        return str(int(value))
    return str(value).strip()


def detect_by_content(
    values: Any, sample_size: int = 1000, seed: int = 0, min_share: float = 0.5
) -> ContentMatch | None:
    """Return the kind of personal data most sampled values are, or ``None`` below ``min_share``.

    Identifier kinds come first: the one with the largest share wins, ties going to the earlier
    kind of :data:`IDENTIFIER_KINDS`. When no identifier kind reaches ``min_share``, a column
    whose every sampled value is a sex, marital-status, ethnic-group or religion label (with
    enough distinct labels, see :data:`VOCABULARIES`) is returned with share 1.0.
    """
    _check_share(min_share, "min_share")
    texts = sample_texts(values, sample_size, seed)
    best = _best_identifier(texts)
    if best is not None and best.share >= min_share:
        return best
    return _vocabulary_match(texts)


def _best_identifier(texts: list[str]) -> ContentMatch | None:
    """Return the identifier kind with the largest share of ``texts`` (even a small one)."""
    if not texts:
        return None
    best: ContentMatch | None = None
    for kind, valid in IDENTIFIER_KINDS.items():
        matched = [text for text in texts if valid(text)]
        if matched and (best is None or len(matched) > best.n_matched):
            examples = tuple(mask(text, kind) for text in matched[:MAX_EXAMPLES])
            best = ContentMatch(
                kind, IDENTIFIER, len(matched) / len(texts), len(texts), len(matched), examples
            )
    return best


def _vocabulary_match(texts: list[str]) -> ContentMatch | None:
    if not texts:
        return None
    labels = {text.lower() for text in texts}
    for vocabulary in VOCABULARIES:
        if not labels <= vocabulary.words | _FILLERS:
            continue
        if len(labels - _FILLERS) < vocabulary.min_distinct:
            continue
        if all(labels & required for required in vocabulary.required):
            examples = tuple(mask(text, "generic") for text in texts[:MAX_EXAMPLES])
            return ContentMatch(
                vocabulary.kind, vocabulary.category, 1.0, len(texts), len(texts), examples
            )
    return None


# --- Combining name and content -------------------------------------------------------------


@dataclass(frozen=True)
class Detection:
    """A column judged to hold sensitive personal data, and how it was found.

    ``source`` says which signal decided: ``name``, ``content``, or both agreeing. ``kind`` is
    the content kind (``email``, ``cn_resident_id``...) when the content matched. ``share`` is the
    largest share of sampled values of any identifier kind, even below the limit (0.0 when none
    matched), or 1.0 for a column of category labels. ``confidence`` is the name's confidence,
    the share for content alone, and the larger of both when they agree.
    """

    column: str
    category: str
    source: Source
    token: str | None
    kind: str | None
    confidence: float
    share: float
    n_sampled: int
    examples: tuple[str, ...]


FEW_LEVELS = 10
FEW_LEVELS_MIN_SAMPLE = 20


def classify_column(
    name: Any,
    values: Any,
    min_match_share: float = 0.5,
    sample_size: int = 1000,
    seed: int = 0,
) -> Detection | None:
    """Judge one column by its name and its values; ``None`` when neither signal finds anything.

    Content showing identifiers wins over the name; otherwise the name decides the category and
    content labels of the same category confirm it.
    """
    _check_share(min_match_share, "min_match_share")
    texts = sample_texts(values, sample_size, seed)
    by_name = detect_by_name(name)
    identifier = _best_identifier(texts)
    share = identifier.share if identifier is not None else 0.0
    content = identifier if share >= min_match_share else _vocabulary_match(texts)

    if content is not None and by_name is None and _only_codes(texts):
        return None
    if content is not None and (content.category == IDENTIFIER or by_name is None):
        return _detection(name, content.category, by_name, content, texts, share)
    if by_name is not None and by_name.category == IDENTIFIER and _few_levels(texts):
        return None
    if by_name is not None:
        return _detection(name, by_name.category, by_name, content, texts, share)
    return None


def _only_codes(texts: list[str]) -> bool:
    """Return whether every value is a one-letter Latin code, such as F/M.

    One-letter codes mean different things in different columns (F/M is also felony and
    misdemeanour), so they count as sex labels only when the column's name says so. Chinese
    男/女 are words, not codes, and still count.
    """
    return bool(texts) and all(len(text.strip()) <= 1 and text.isascii() for text in texts)


def _few_levels(texts: list[str]) -> bool:
    """Return whether a column has too few distinct values to hold identifiers.

    A column named for an identifier but holding a handful of levels (``telephone``: yes/no)
    records whether something exists, not the identifier itself.
    """
    return len(texts) >= FEW_LEVELS_MIN_SAMPLE and len(set(texts)) <= FEW_LEVELS


def _detection(
    name: Any,
    category: str,
    by_name: NameMatch | None,
    content: ContentMatch | None,
    texts: list[str],
    identifier_share: float,
) -> Detection:
    """Assemble a detection of ``category``, crediting each signal that agrees with it."""
    named = by_name if by_name is not None and by_name.category == category else None
    seen = content if content is not None and content.category == category else None
    source: Source = "name+content" if named and seen else "name" if named else "content"
    if seen is not None:
        examples = seen.examples
    else:
        examples = tuple(mask(text, "generic") for text in texts[:MAX_EXAMPLES])
    return Detection(
        column=str(name),
        category=category,
        source=source,
        token=named.token if named else None,
        kind=seen.kind if seen else None,
        confidence=max(named.confidence if named else 0.0, seen.share if seen else 0.0),
        share=seen.share if seen else identifier_share,
        n_sampled=len(texts),
        examples=examples,
    )


def scan_frame(
    frame: pd.DataFrame,
    min_match_share: float = 0.5,
    sample_size: int = 1000,
    seed: int = 0,
) -> list[Detection]:
    """Return one :class:`Detection` per column of ``frame`` that holds sensitive data."""
    detections = []
    for position, name in enumerate(frame.columns):
        column = frame.iloc[:, position]
        found = classify_column(name, column, min_match_share, sample_size, seed)
        if found is not None:
            detections.append(found)
    return detections


def _check_share(value: float, key: str) -> None:
    if not 0.0 < value <= 1.0:
        raise ValidationError(f"{key} must be in (0, 1]; got {value}")


def _check_sample_size(value: float) -> None:
    if value < 1 or float(value) != int(value):
        raise ValidationError(f"sample_size must be a whole number >= 1; got {value}")


# --- The check ------------------------------------------------------------------------------


def check_sensitive_data(inp: CheckInput, thresholds: Mapping[str, float]) -> CheckResult:
    """Find sensitive columns in ``inp.data`` and compare them with what the project declared.

    A detected column declared in ``inp.sensitive`` is information; one not declared warns; an
    identifier among ``inp.features`` fails, since a model keyed on who someone is learns
    nothing general and leaks who was in the training data.
    """
    limits = {**DEFAULTS, **thresholds}
    _check_share(limits["min_match_share"], "min_match_share")
    _check_sample_size(limits["sample_size"])
    detections = scan_frame(
        inp.data, limits["min_match_share"], int(limits["sample_size"]), inp.seed
    )
    declared = {str(name) for name in inp.sensitive}
    features = {str(name) for name in inp.features}

    rows = [_row(d, declared, features) for d in detections]
    findings = [_finding(d, row["status"]) for d, row in zip(detections, rows, strict=True)]
    findings += _declared_findings(declared, {d.column for d in detections}, inp.data)
    logger.info(
        "sensitive_data: %d columns scanned, %d detected", inp.data.shape[1], len(detections)
    )

    metrics: dict[str, float | int | str | None] = {
        "n_columns_scanned": int(inp.data.shape[1]),
        "n_detected": len(detections),
        "n_undeclared": sum(row["status"] == "warn" for row in rows),
        "n_identifier_features": sum(row["status"] == "fail" for row in rows),
    }
    metrics.update({f"{d.column}.match_share": d.share for d in detections})
    return CheckResult(
        check="sensitive_data",
        status=worst([f.severity for f in findings if f.severity != "info"]),
        summary=_summary(metrics),
        metrics=metrics,
        findings=findings,
        figures=[_figure(detections, limits["min_match_share"])] if detections else [],
        tables={"detections": rows},
    )


def _row(detection: Detection, declared: set[str], features: set[str]) -> dict[str, Any]:
    status: Severity = "info" if detection.column in declared else "warn"
    if detection.category == IDENTIFIER and detection.column in features:
        status = "fail"
    return {
        "column": detection.column,
        "category": detection.category,
        "source": detection.source,
        "token": detection.token,
        "kind": detection.kind,
        "confidence": detection.confidence,
        "match_share": detection.share,
        "n_sampled": detection.n_sampled,
        "examples": ", ".join(detection.examples),
        "declared": detection.column in declared,
        "feature": detection.column in features,
        "status": status,
    }


def _describe(detection: Detection) -> str:
    parts = [f"{detection.category} by {detection.source}"]
    if detection.token is not None:
        parts.append(f"name token '{detection.token}'")
    if detection.kind is not None:
        parts.append(
            f"{detection.share:.0%} of {detection.n_sampled} sampled values are "
            f"{KIND_LABELS[detection.kind]}"
        )
    if detection.examples:
        parts.append(f"masked examples: {', '.join(detection.examples)}")
    return "; ".join(parts)


def _finding(detection: Detection, status: Severity) -> Finding:
    what = _describe(detection)
    if status == "fail":
        message = (
            f"identifier column '{detection.column}' is a model feature ({what}); drop it from "
            "the features or replace it with a key that identifies nobody"
        )
    elif status == "warn":
        message = (
            f"undeclared sensitive column '{detection.column}' ({what}); declare it as a "
            "sensitive attribute, or drop it if the model does not need it"
        )
    else:
        message = f"declared sensitive attribute '{detection.column}' detected ({what})"
    return Finding(status, message, detection.column, detection.share)


def _declared_findings(
    declared: Iterable[str], detected: set[str], frame: pd.DataFrame
) -> list[Finding]:
    columns = {str(name) for name in frame.columns}
    findings = []
    for name in sorted(declared):
        if name not in columns:
            message = f"declared sensitive attribute '{name}' is not a column of the data"
            findings.append(Finding("info", message, name))
        elif name not in detected:
            message = (
                f"declared sensitive attribute '{name}' is not recognised by its name or values; "
                "kept as declared"
            )
            findings.append(Finding("info", message, name))
    return findings


def _summary(metrics: Mapping[str, float | int | str | None]) -> str:
    return (
        f"{metrics['n_columns_scanned']} columns scanned: {metrics['n_detected']} hold sensitive "
        f"personal data, {metrics['n_undeclared']} undeclared, "
        f"{metrics['n_identifier_features']} identifiers used as features"
    )


def _figure(detections: list[Detection], limit: float) -> Figure:
    return Figure(
        name="sensitive_data_match_share",
        title="Share of sampled values that match a personal-data pattern (limit as the line)",
        kind="bar",
        x_label="column",
        y_label="share of sampled non-null values",
        series=[
            Series("match share", [d.column for d in detections], [d.share for d in detections])
        ],
        threshold=limit,
    )


SPEC = CheckSpec(
    name="sensitive_data",
    title="Sensitive personal data",
    function=check_sensitive_data,
    needs_model=False,
    needs_reference=False,
    defaults=DEFAULTS,
    description=(
        "Finds columns holding sensitive personal data (sex, age, race, religion, health, "
        "nationality, marital status, sexual orientation, political opinion, identifiers) by "
        "their English or Chinese names and by their values (e-mail, phone, Chinese resident ID "
        "and US SSN with their checksums, Luhn-valid card numbers, IP addresses) on a sample of "
        "sample_size values, flagging a kind at min_match_share of them. Undeclared sensitive "
        "columns warn; identifiers used as model features fail. Reports show masked values only."
    ),
)
