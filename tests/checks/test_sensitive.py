"""Tests for sensitive-data detection: validators, name rules, content rules, masking, the check,
and precision and recall on the labelled set ``data/sensitive_labelled.csv``.

Print the precision/recall table of ``docs/sensitive-data.md`` with
``pytest tests/checks/test_sensitive.py -k labelled -s``.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mlgate.checks import sensitive as sd
from mlgate.checks.base import CheckInput
from mlgate.errors import ValidationError

LABELLED = Path(__file__).parent / "data" / "sensitive_labelled.csv"
VALID_CN_ID = "11010519491231002X"  # the worked example of GB 11643-1999


def cn_id_with_check(first17: str) -> str:
    total = sum(int(d) * (2 ** (17 - i) % 11) for i, d in enumerate(first17))
    return first17 + "10X98765432"[total % 11]


# --- Validators -------------------------------------------------------------------------------


def test_cn_resident_id_checksum_accepts_valid_and_rejects_one_changed_digit():
    built = cn_id_with_check("44030519900307123")

    assert sd.cn_resident_id_valid(VALID_CN_ID)
    assert sd.cn_resident_id_valid(VALID_CN_ID.lower())
    assert sd.cn_resident_id_valid(built)
    assert not sd.cn_resident_id_valid("11010519491231003X")  # one digit changed
    assert not sd.cn_resident_id_valid(built[:-1] + ("0" if built[-1] != "0" else "1"))


@pytest.mark.parametrize(
    ("first17", "why"),
    [
        ("11010519490231002", "February 31st"),
        ("11010518001231002", "born in 1800"),
        ("99010519491231002", "no province 99"),
        ("01010519491231002", "leading zero"),
    ],
)
def test_cn_resident_id_with_valid_checksum_but_bad_fields_is_rejected(first17, why):
    assert not sd.cn_resident_id_valid(cn_id_with_check(first17)), why


def test_random_18_digit_numbers_are_not_resident_ids():
    rng = np.random.default_rng(1)
    numbers = ["".join(map(str, rng.integers(0, 10, 18))) for _ in range(3000)]

    share = np.mean([sd.cn_resident_id_valid(n) for n in numbers])

    assert share < 0.005


def test_luhn_accepts_test_card_and_rejects_changed_digit():
    assert sd.luhn_valid("4111111111111111")
    assert sd.luhn_valid("4111-1111-1111-1111")
    assert sd.luhn_valid("4111 1111 1111 1111")
    assert not sd.luhn_valid("4111111111111112")
    assert not sd.luhn_valid("41111111111111a1")
    assert not sd.luhn_valid("")


def test_random_16_digit_numbers_mostly_fail_luhn_and_the_card_check():
    rng = np.random.default_rng(2)
    numbers = ["".join(map(str, rng.integers(0, 10, 16))) for _ in range(3000)]

    luhn_share = np.mean([sd.luhn_valid(n) for n in numbers])
    card_share = np.mean([sd.card_number_valid(n) for n in numbers])

    assert 0.08 < luhn_share < 0.12  # one in ten by construction of the check digit
    assert card_share < 0.05  # most random prefixes belong to no card scheme


@pytest.mark.parametrize(
    "number",
    ["4111111111111111", "5555 5555 5555 4444", "378282246310005", "6011111111111117",
     "3530111333300000", "6200000000000005", "30569309025904"],
)  # fmt: skip
def test_scheme_test_numbers_are_cards(number):
    assert sd.card_number_valid(number)


@pytest.mark.parametrize(
    "number", ["4111111111111112", "9783161484100", "1234567812345670", "411111111111"]
)
def test_non_cards_are_refused(number):
    # A Luhn-valid number of no scheme (1234...) and an ISBN are not cards either.
    assert not sd.card_number_valid(number)


@pytest.mark.parametrize(
    ("value", "valid"),
    [
        ("123-45-6789", True),
        ("078-05-1120", True),
        ("000-12-3456", False),
        ("666-12-3456", False),
        ("912-34-5678", False),
        ("123-00-4567", False),
        ("123-45-0000", False),
        ("123456789", False),
        ("12-345-6789", False),
    ],
)
def test_ssn_format_and_never_issued_ranges(value, valid):
    assert sd.ssn_valid(value) is valid


@pytest.mark.parametrize(
    ("value", "valid"),
    [
        ("alex.example@example.com", True),
        ("a+tag@mail.example.co.uk", True),
        ("user@localhost", False),
        ("pkg@1.2.3", False),
        ("git@github.com:org/repo.git", False),
        ("@handle", False),
    ],
)
def test_email_validator(value, valid):
    assert sd.email_valid(value) is valid


@pytest.mark.parametrize(
    ("value", "valid"),
    [
        ("13812345678", True),
        ("138-1234-5678", True),
        ("+86 13812345678", True),
        ("(415) 555-0134", True),
        ("415-555-0134", True),
        ("020 7946 0958", True),
        ("010-12345678", True),
        ("+44 20 7946 0958", True),
        ("4155550134", False),
        ("12812345678", False),
        ("2024-01-15", False),
        ("123-45-6789", False),
        ("+12", False),
        ("3.14159", False),
    ],
)
def test_phone_validator(value, valid):
    assert sd.phone_valid(value) is valid


@pytest.mark.parametrize(
    ("value", "valid"),
    [
        ("192.0.2.17", True),
        ("10.0.0.5", True),
        ("2001:db8::1", True),
        ("::1", True),
        ("1.2.3.4", False),  # reads as a version string
        ("2.0.1.4", False),
        ("0.9.1.200", False),
        ("256.1.1.1", False),
        ("12:30:45", False),
        ("00:1A:2B:3C:4D:5E", False),
    ],
)
def test_ip_validator(value, valid):
    assert sd.ip_valid(value) is valid


# --- Names ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "tokens"),
    [
        ("dateOfBirth", ["date", "of", "birth"]),
        ("IPAddress2", ["ip", "address"]),
        ("e-mail", ["e", "mail"]),
        ("customer_Name", ["customer", "name"]),
        ("客户age", ["age"]),
    ],
)
def test_name_tokens_split_case_and_punctuation(name, tokens):
    assert sd.name_tokens(name) == tokens


@pytest.mark.parametrize(
    ("name", "category", "token"),
    [
        ("gender", "sex", "gender"),
        ("applicant_sex", "sex", "sex"),
        ("customerAge", "age", "age"),
        ("date_of_birth", "age", "date of birth"),
        ("DOB", "age", "dob"),
        ("ethnicity", "race", "ethnicity"),
        ("religion", "religion", "religion"),
        ("diagnosis_code", "health", "diagnosis"),
        ("native-country", "nationality", "native country"),
        ("MaritalStatus", "marital_status", "marital"),
        ("sexual_orientation", "sexual_orientation", "sexual orientation"),
        ("political_party", "political_opinion", "political party"),
        ("customer_name", "identifier", "name"),
        ("ip_address", "identifier", "ip address"),
        ("SSN", "identifier", "ssn"),
        ("性别", "sex", "性别"),
        ("出生日期", "age", "出生日期"),
        ("民族", "race", "民族"),
        ("宗教信仰", "religion", "宗教"),
        ("既往病史", "health", "病史"),
        ("国籍", "nationality", "国籍"),
        ("婚姻状况", "marital_status", "婚姻"),
        ("政治面貌", "political_opinion", "政治面貌"),
        ("身份证号码", "identifier", "身份证"),
        ("客户姓名", "identifier", "姓名"),
        ("手机号", "identifier", "手机"),
    ],
)
def test_detect_by_name_finds_category_and_token(name, category, token):
    match = sd.detect_by_name(name)

    assert match is not None
    assert (match.category, match.token) == (category, token)
    assert 0.0 < match.confidence <= 1.0


@pytest.mark.parametrize(
    "name",
    [
        "usage", "agent", "stage", "page", "message", "image", "language", "percentage",
        "storage", "garage", "average", "mileage", "wage", "trace_id", "grace_period",
        "unisex_size", "product_name", "file_name", "hostname", "account_age_days",
        "vehicle_age", "battery_health", "phone_model", "PhoneService", "email_verified",
        "has_email", "n_emails", "company_address", "customer_id", "年份", "性能", "信用分",
        "手机型号", "公司地址", "产品名称", "病毒检测结果", "设备健康度",
    ],
)  # fmt: skip
def test_detect_by_name_hard_negatives(name):
    assert sd.detect_by_name(name) is None


# --- Content ----------------------------------------------------------------------------------


def emails(n: int) -> list[str]:
    return [f"person{i}@example.com" for i in range(n)]


def test_detect_by_content_emails_with_share_and_masked_examples():
    match = sd.detect_by_content(pd.Series(emails(40) + [None] * 10 + ["n/a"] * 10))

    assert match is not None
    assert (match.kind, match.category) == ("email", "identifier")
    assert match.n_sampled == 50
    assert match.share == pytest.approx(0.8)
    assert match.examples == ("p***@e***.com",) * 3


def test_detect_by_content_below_share_is_none_and_limit_is_adjustable():
    values = pd.Series(emails(40) + [f"note {i}" for i in range(60)])

    assert sd.detect_by_content(values) is None
    assert sd.detect_by_content(values, min_share=0.4).kind == "email"


def test_detect_by_content_resident_ids_and_not_random_18_digit_numbers():
    rng = np.random.default_rng(3)
    ids = [cn_id_with_check(f"3101011985{m:02d}15{k:03d}") for m in range(1, 13) for k in range(5)]
    random18 = ["".join(map(str, rng.integers(1, 10, 18))) for _ in range(60)]

    assert sd.detect_by_content(pd.Series(ids)).kind == "cn_resident_id"
    assert sd.detect_by_content(pd.Series(random18)) is None


def test_detect_by_content_cards_and_not_random_16_digit_numbers():
    rng = np.random.default_rng(4)
    random16 = ["".join(map(str, rng.integers(0, 10, 16))) for _ in range(200)]
    cards = ["4111 1111 1111 1111", "5555-5555-5555-4444", "378282246310005"] * 10

    assert sd.detect_by_content(pd.Series(cards)).kind == "credit_card"
    assert sd.detect_by_content(pd.Series(random16)) is None


def test_detect_by_content_reads_whole_floats_as_integers():
    phones = pd.Series([13812345678.0, 13987654321.0, np.nan, 15011112222.0])

    match = sd.detect_by_content(phones)

    assert match.kind == "phone"
    assert match.examples[0] == "138****5678"


def test_detect_by_content_samples_deterministically():
    values = pd.Series(emails(3000) + [f"x{i}" for i in range(2000)])

    first = sd.detect_by_content(values, sample_size=500, seed=7)
    again = sd.detect_by_content(values, sample_size=500, seed=7)

    assert first == again
    assert first.n_sampled == 500
    assert 0.5 < first.share < 0.7


def test_detect_by_content_category_labels():
    assert sd.detect_by_content(pd.Series(["M", "F", "F", "M"])).category == "sex"
    assert sd.detect_by_content(pd.Series(["男", "女", "未知"])).category == "sex"
    assert sd.detect_by_content(pd.Series(["已婚", "未婚", "离异"])).category == "marital_status"
    assert sd.detect_by_content(pd.Series(["汉族", "回族", "壮族"])).category == "race"
    assert sd.detect_by_content(pd.Series(["S", "M", "L", "XL"])) is None
    assert sd.detect_by_content(pd.Series(["white", "black"])) is None  # too few labels


def test_detect_by_content_bool_and_empty_columns_are_none():
    assert sd.detect_by_content(pd.Series([True, False, True])) is None
    assert sd.detect_by_content(pd.Series([None, None], dtype=object)) is None


def test_detect_by_content_bad_limits_raise():
    with pytest.raises(ValidationError, match=r"min_share must be in \(0, 1\]; got 1.5"):
        sd.detect_by_content(pd.Series(["a"]), min_share=1.5)
    with pytest.raises(ValidationError, match=r"sample_size must be a whole number >= 1; got 0"):
        sd.detect_by_content(pd.Series(["a"]), sample_size=0)


def test_classify_column_content_wins_for_identifiers():
    found = sd.classify_column("age", pd.Series(emails(20)))

    assert (found.category, found.source, found.kind, found.token) == (
        "identifier",
        "content",
        "email",
        None,
    )


def test_classify_column_name_and_content_agree():
    found = sd.classify_column("contact_email", pd.Series(emails(20)))

    assert (found.category, found.source, found.token) == ("identifier", "name+content", "email")
    assert found.share == 1.0


def test_classify_column_name_only_reports_the_small_identifier_share():
    found = sd.classify_column("phone", pd.Series(["415-555-0134", "unknown", "n/a", "none"]))

    assert (found.category, found.source, found.kind) == ("identifier", "name", None)
    assert found.share == pytest.approx(0.25)


def test_classify_column_nothing_found_is_none():
    assert sd.classify_column("amount", pd.Series([1.5, 2.5, 3.0])) is None


def test_scan_frame_lists_detected_columns_in_order():
    frame = pd.DataFrame(
        {
            "amount": [1.0, 2.0, 3.0],
            "contact": ["a@example.com", "b@example.org", "c@example.net"],
            "性别": ["男", "女", "男"],
            "stage": ["a", "b", "c"],
        }
    )

    found = sd.scan_frame(frame)

    assert [(d.column, d.category) for d in found] == [
        ("contact", "identifier"),
        ("性别", "sex"),
    ]


# --- Masking ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "kind", "masked", "hidden"),
    [
        ("john.doe@example.com", "email", "j***@e***.com", ["ohn.doe", "xample"]),
        ("13812345678", "phone", "138****5678", ["1234"]),
        ("+44 20 7946 0958", "phone", "+442*****0958", ["7946"]),
        ("4111 1111 2222 1234", "credit_card", "****-****-****-1234", ["2222", "4111"]),
        ("378282246310005", "credit_card", "****-****-***-0005", ["378282", "2463"]),
        ("11010519491231002X", "cn_resident_id", "110***********002X", ["19491231"]),
        ("123-45-6789", "ssn", "***-**-6789", ["123", "-45-"]),
        ("198.51.100.23", "ip", "198.*.*.*", ["51", "100", "23"]),
        ("2001:db8::8a2e:370:7334", "ip", "2001:****", ["db8", "7334"]),
        ("Alex Example", "generic", "A***", ["lex", "Example"]),
        ("F", "generic", "***", ["F"]),
        ("not-an-email", "email", "n***", ["ot-an"]),
    ],
)
def test_mask_keeps_only_a_few_characters(value, kind, masked, hidden):
    result = sd.mask(value, kind)

    assert result == masked
    for part in hidden:
        assert part not in result


def test_mask_unknown_kind_raises():
    with pytest.raises(ValidationError, match="unknown mask kind 'passport'; expected one of"):
        sd.mask("E12345678", "passport")


# --- The check --------------------------------------------------------------------------------


def people() -> pd.DataFrame:
    n = 60
    return pd.DataFrame(
        {
            "sex": ["f", "m"] * (n // 2),
            "age": list(range(20, 20 + n)),
            "email": [f"user{i}@example.com" for i in range(n)],
            "customer_phone": [f"1381234{i:04d}" for i in range(n)],
            "income": np.linspace(1000, 9000, n),
            "stage": ["a", "b", "c"] * (n // 3),
        }
    )


def run(frame: pd.DataFrame, **kwargs):
    thresholds = kwargs.pop("thresholds", {})
    return sd.check_sensitive_data(CheckInput(frame, **kwargs), thresholds)


def test_check_passes_when_no_column_is_sensitive():
    frame = pd.DataFrame({"income": [1.0, 2.0], "stage": ["a", "b"]})

    result = run(frame, features=["income", "stage"])

    assert result.status == "pass"
    assert result.metrics["n_columns_scanned"] == 2
    assert result.metrics["n_detected"] == 0
    assert result.figures == []


def test_check_declared_attributes_are_info_undeclared_warn():
    result = run(people(), sensitive=["sex", "age"], features=["income"])
    rows = {r["column"]: r for r in result.tables["detections"]}
    messages = [f.message for f in result.findings]

    assert result.status == "warn"
    assert set(rows) == {"sex", "age", "email", "customer_phone"}
    assert rows["sex"]["status"] == "info"
    assert rows["email"]["status"] == "warn"
    assert result.metrics["n_detected"] == 4
    assert result.metrics["n_undeclared"] == 2
    assert result.metrics["email.match_share"] == 1.0
    assert any(
        m.startswith("undeclared sensitive column 'email' (identifier by") for m in messages
    )
    assert any(m.startswith("declared sensitive attribute 'sex' detected (sex") for m in messages)


def test_check_identifier_used_as_feature_fails():
    result = run(people(), sensitive=["sex", "age"], features=["income", "customer_phone"])
    finding = next(f for f in result.findings if f.subject == "customer_phone")

    assert result.status == "fail"
    assert finding.severity == "fail"
    assert finding.message.startswith(
        "identifier column 'customer_phone' is a model feature (identifier by name+content"
    )
    assert "138****0000" in finding.message
    assert result.metrics["n_identifier_features"] == 1


def test_check_never_reports_found_values():
    frame = people()

    text = json.dumps(run(frame, sensitive=["sex"]).to_dict(), ensure_ascii=False)

    for value in frame["email"].tolist() + frame["customer_phone"].tolist():
        assert value not in text


def test_check_figure_and_declared_but_unrecognised_attribute():
    frame = people().assign(grp=["a", "b", "c"] * 20)

    result = run(frame, sensitive=["sex", "grp", "missing_col"])
    messages = [f.message for f in result.findings]

    figure = result.figures[0]
    assert figure.kind == "bar"
    assert figure.threshold == 0.5
    assert figure.series[0].x == ["sex", "age", "email", "customer_phone"]
    assert "declared sensitive attribute 'grp' is not recognised by its name or values; " in (
        " ".join(messages)
    )
    assert "declared sensitive attribute 'missing_col' is not a column of the data" in messages


def test_check_thresholds_change_the_verdict_and_are_validated():
    frame = pd.DataFrame({"contact": ["a@example.com", "b@example.org", "x", "y", "z"]})

    assert run(frame).metrics["n_detected"] == 0
    assert run(frame, thresholds={"min_match_share": 0.4}).metrics["n_detected"] == 1
    with pytest.raises(ValidationError, match=r"min_match_share must be in \(0, 1\]; got 0"):
        run(frame, thresholds={"min_match_share": 0})
    with pytest.raises(ValidationError, match=r"sample_size must be a whole number >= 1; got 2.5"):
        run(frame, thresholds={"sample_size": 2.5})


def test_spec_describes_the_check():
    assert sd.SPEC.name == "sensitive_data"
    assert not sd.SPEC.needs_model
    assert not sd.SPEC.needs_reference
    assert dict(sd.SPEC.defaults) == {"min_match_share": 0.5, "sample_size": 1000}


# --- Precision and recall on the labelled set -------------------------------------------------

# Floors set just below the values measured when the set was written (see the table in
# docs/sensitive-data.md); the "schemas" subset holds real schema names the rules were not tuned
# on, so its floors are lower.
OVERALL_FLOORS = {"all": (0.99, 0.95), "designed": (0.99, 0.975), "schemas": (0.95, 0.72)}
CATEGORY_FLOORS = {
    "sex": (1.0, 0.95),  # an unnamed column of F/M codes is not counted as sex
    "age": (1.0, 0.93),
    "race": (0.94, 1.0),
    "religion": (1.0, 1.0),
    "health": (1.0, 0.82),
    "nationality": (1.0, 1.0),
    "marital_status": (1.0, 0.94),
    "sexual_orientation": (1.0, 1.0),
    "political_opinion": (1.0, 1.0),
    "identifier": (0.98, 0.97),
}


def labelled_predictions() -> pd.DataFrame:
    frame = pd.read_csv(LABELLED, dtype=str, keep_default_na=False)
    predicted = []
    for name, values in zip(frame["column_name"], frame["sample_values"], strict=True):
        found = sd.classify_column(name, pd.Series(values.split("|")))
        predicted.append(found.category if found is not None else "none")
    return frame.assign(predicted=predicted)


def precision_recall(frame: pd.DataFrame, category: str | None = None) -> dict[str, float]:
    """Precision and recall of one category, or over all categories (a wrong category counts
    as both a false positive and a false negative)."""
    expected, predicted = frame["expected_category"], frame["predicted"]
    if category is None:
        tp = int(((predicted == expected) & (expected != "none")).sum())
        n_predicted = int((predicted != "none").sum())
        n_expected = int((expected != "none").sum())
    else:
        tp = int(((predicted == category) & (expected == category)).sum())
        n_predicted = int((predicted == category).sum())
        n_expected = int((expected == category).sum())
    return {
        "precision": tp / n_predicted if n_predicted else 1.0,
        "recall": tp / n_expected if n_expected else 1.0,
        "n_expected": n_expected,
    }


def test_labelled_set_is_large_and_bilingual():
    frame = pd.read_csv(LABELLED, dtype=str, keep_default_na=False)

    assert len(frame) >= 250
    assert frame["column_name"].str.contains(r"[\u4e00-\u9fff]").sum() >= 50
    assert set(frame["expected_category"]) == {*sd.CATEGORIES, "none"}
    assert (frame["expected_category"] == "none").sum() >= 100


def test_labelled_precision_and_recall_meet_floors():
    frame = labelled_predictions()
    lines = ["| category | n | precision | recall |", "| --- | ---: | ---: | ---: |"]
    for category in sd.CATEGORIES:
        score = precision_recall(frame, category)
        lines.append(
            f"| {category} | {score['n_expected']} | {score['precision']:.3f} "
            f"| {score['recall']:.3f} |"
        )
        floor_p, floor_r = CATEGORY_FLOORS[category]
        assert score["precision"] >= floor_p, (category, score)
        assert score["recall"] >= floor_r, (category, score)
    subsets = {"all": frame, **dict(tuple(frame.groupby("subset")))}
    for subset, rows in subsets.items():
        score = precision_recall(rows)
        lines.append(
            f"| **overall ({subset}, {len(rows)} rows)** | {score['n_expected']} "
            f"| {score['precision']:.3f} | {score['recall']:.3f} |"
        )
        floor_p, floor_r = OVERALL_FLOORS[subset]
        assert score["precision"] >= floor_p, (subset, score)
        assert score["recall"] >= floor_r, (subset, score)
    misses = frame[frame["predicted"] != frame["expected_category"]]
    print("\n" + "\n".join(lines))
    print(misses[["column_name", "expected_category", "predicted", "subset"]].to_string())


def test_yes_no_column_named_for_an_identifier_is_not_one():
    values = pd.Series(["yes", "no"] * 50)
    assert sd.classify_column("telephone", values) is None
    numbers = pd.Series([f"+44 20 7946 {i:04d}" for i in range(100)])
    assert sd.classify_column("telephone", numbers).category == "identifier"


def test_one_letter_codes_are_sex_only_when_the_name_says_so():
    codes = pd.Series(["F", "M"] * 50)
    assert sd.classify_column("c_charge_degree", codes) is None
    assert sd.classify_column("gender", codes).category == "sex"
    assert sd.classify_column("applicant", pd.Series(["female", "male"] * 50)).category == ("sex")


@pytest.mark.parametrize(
    "iban",
    [
        "DE89370400440532013000",
        "GB82WEST12345698765432",
        "NL91ABNA0417164300",
        "FR1420041010050500013M02606",
        "NO9386011117947",
        "DE89 3704 0044 0532 0130 00",
    ],
)
def test_iban_valid_accepts_registry_examples(iban):
    assert sd.iban_valid(iban)


@pytest.mark.parametrize(
    "text",
    [
        "DE89370400440532013001",  # check digits do not match
        "DE8937040044053201300",  # one character short for Germany
        "XX89370400440532013000",  # no such country
        "de89370400440532013000",  # lower case
        "DE89 3704 0044 0532 013000",  # groups not of four
        "DE89-3704-0044-0532-0130-00",
    ],
)
def test_iban_valid_refuses_near_misses(text):
    assert not sd.iban_valid(text)


def test_iban_valid_catches_every_mistyped_or_swapped_digit():
    iban = "GB82WEST12345698765432"
    digits = [i for i in range(2, len(iban)) if iban[i].isdigit()]
    mistyped = [iban[:i] + d + iban[i + 1 :] for i in digits for d in "0123456789" if d != iban[i]]
    swapped = [
        iban[:i] + iban[i + 1] + iban[i] + iban[i + 2 :]
        for i in digits
        if i + 1 in digits and iban[i] != iban[i + 1]
    ]
    assert len(mistyped) == 9 * 16
    assert not any(sd.iban_valid(text) for text in [*mistyped, *swapped])


def test_random_upper_case_and_digit_strings_are_not_ibans():
    rng = np.random.default_rng(0)
    alphabet = np.array(list("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"))
    texts = ["".join(rng.choice(alphabet, size=rng.integers(15, 35))) for _ in range(20000)]
    assert sum(sd.iban_valid(text) for text in texts) == 0


def test_ibans_are_masked_and_found_in_a_column():
    assert sd.mask("DE89 3704 0044 0532 0130 00", "iban") == "DE****************3000"
    match = sd.detect_by_content(pd.Series(["DE89370400440532013000", "GB82WEST12345698765432"]))
    assert match is not None
    assert (match.kind, match.share) == ("iban", 1.0)


@pytest.mark.parametrize("text", ["+1.23456789", "-0.0123456789", "+12.3456789012"])
def test_signed_decimals_are_not_phone_numbers(text):
    assert not sd.phone_valid(text)


@pytest.mark.parametrize("text", ["+33 1 23 45 67 89", "+33.1.23.45.67.89", "+8613812345678"])
def test_international_numbers_with_or_without_separators_stay_phone_numbers(text):
    assert sd.phone_valid(text)
