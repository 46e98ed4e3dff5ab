"""Write ``sensitive_labelled.csv``: column names, synthetic values and the expected category.

Run ``python tests/checks/data/make_sensitive_labelled.py`` to rebuild the file; the output is
deterministic (a fixed seed). Every value is synthetic: e-mail addresses use the reserved
``example.*`` domains, North American and British phone numbers the ranges set aside for fiction
(555-01xx, 07700 900xxx, 020 7946 0xxx), card numbers the test prefixes of the card schemes, IP
addresses the documentation ranges (192.0.2.0/24, 198.51.100.0/24, 203.0.113.0/24, 2001:db8::/32)
and private ranges; Chinese mobile and resident ID numbers and US social security numbers are
drawn at random with valid check digits and belong to nobody known. Names are placeholders.

The check digits are computed here independently of ``mlgate.checks.sensitive``, so the
evaluation does not grade the detector with its own code.

Each row is ``column_name, sample_values, expected_category, subset``: ``sample_values`` joins
a few values with ``|``, ``expected_category`` is one of the categories or ``none``, and
``subset`` is ``designed`` (cases written alongside the detector) or ``schemas`` (real schemas).
Rows marked below as "hard" are cases a lexicon or a pattern can plausibly get wrong; some are
expected to be missed (for instance ``trestbps``, resting blood pressure, whose name holds no
health word).
"""

from __future__ import annotations

import csv
import random
from collections.abc import Callable
from pathlib import Path

OUT = Path(__file__).with_name("sensitive_labelled.csv")
RNG = random.Random(20240611)

# --- Synthetic value makers -------------------------------------------------------------------

FIRST = ["Alex", "Sam", "Jordan", "Taylor", "Casey", "Robin", "Jamie", "Morgan", "Avery", "Riley"]
LAST = ["Example", "Sample", "Testperson", "Placeholder", "Doe", "Roe", "Fictional", "Demo"]
CN_NAMES = ["张三", "李四", "王五", "赵六", "钱七", "孙八", "周九", "吴十"]
CN_PROVINCE_PREFIX = ["110105", "310101", "440305", "510107", "330106", "420102", "370202"]


def cn_check_char(first17: str) -> str:
    total = sum(int(d) * pow(2, 17 - i, 11) for i, d in enumerate(first17))
    return "10X98765432"[total % 11]


def cn_id() -> str:
    year = RNG.randint(1950, 2004)
    body = (
        f"{RNG.choice(CN_PROVINCE_PREFIX)}{year}{RNG.randint(1, 12):02d}{RNG.randint(1, 28):02d}"
    )
    body += f"{RNG.randint(0, 999):03d}"
    return body + cn_check_char(body)


def cn_id_wrong() -> str:
    valid = cn_id()
    wrong = RNG.choice([c for c in "0123456789X" if c != valid[-1]])
    return valid[:-1] + wrong


def luhn_digit(partial: str) -> str:
    # The check digit makes the doubled-alternate sum a multiple of 10.
    total = 0
    for i, ch in enumerate(reversed(partial)):
        d = int(ch)
        if i % 2 == 0:
            d = d * 2
            d = d - 9 if d > 9 else d
        total += d
    return str((10 - total % 10) % 10)


def card() -> str:
    prefix, length = RNG.choice([("411111", 16), ("555555", 16), ("378282", 15), ("601111", 16)])
    partial = prefix + "".join(str(RNG.randint(0, 9)) for _ in range(length - len(prefix) - 1))
    number = partial + luhn_digit(partial)
    if RNG.random() < 0.5 and length == 16:
        return " ".join(number[i : i + 4] for i in range(0, 16, 4))
    return number


def not_luhn16() -> str:
    partial = "4" + "".join(str(RNG.randint(0, 9)) for _ in range(14))
    good = luhn_digit(partial)
    return partial + RNG.choice([d for d in "0123456789" if d != good])


def digits(n: int, first: str = "123456789") -> str:
    return RNG.choice(first) + "".join(str(RNG.randint(0, 9)) for _ in range(n - 1))


def order18() -> str:
    while True:
        value = digits(18)
        if cn_check_char(value[:17]) != value[17]:
            return value


def email() -> str:
    user = f"{RNG.choice(FIRST).lower()}.{RNG.choice(LAST).lower()}{RNG.randint(1, 99)}"
    return f"{user}@{RNG.choice(['example.com', 'example.org', 'example.net'])}"


def cn_mobile() -> str:
    number = "1" + RNG.choice("3456789") + digits(9, "0123456789")
    return RNG.choice([number, f"{number[:3]}-{number[3:7]}-{number[7:]}", f"+86 {number}"])


def us_phone() -> str:
    area = RNG.choice(["212", "415", "312", "617"])
    return RNG.choice(
        [f"({area}) 555-01{RNG.randint(0, 99):02d}", f"{area}-555-01{RNG.randint(0, 99):02d}"]
    )


def uk_phone() -> str:
    return RNG.choice(
        [f"07700 900{RNG.randint(0, 999):03d}", f"020 7946 0{RNG.randint(0, 999):03d}"]
    )


def intl_phone() -> str:
    return RNG.choice(
        [f"+44 7700 900{RNG.randint(0, 999):03d}", f"+1 415 555 01{RNG.randint(0, 99):02d}"]
    )


def ssn() -> str:
    area = RNG.choice([a for a in range(1, 900) if a != 666])
    return f"{area:03d}-{RNG.randint(1, 99):02d}-{RNG.randint(1, 9999):04d}"


def ipv4() -> str:
    net = RNG.choice(["192.0.2", "198.51.100", "203.0.113", "10.20.30", "192.168.1"])
    return f"{net}.{RNG.randint(1, 254)}"


def ipv6() -> str:
    return f"2001:db8:{RNG.randint(0, 0xFFFF):x}::{RNG.randint(1, 0xFFFF):x}"


def pick(*options: str) -> Callable[[], str]:
    return lambda: RNG.choice(options)


MAKERS: dict[str, Callable[[], str]] = {
    "sex": pick("M", "F"),
    "sex_word": pick("male", "female", "Female", "Male"),
    "sex_cn": pick("男", "女"),
    "age": lambda: str(RNG.randint(18, 85)),
    "age_band": pick("18-24", "25-34", "35-44", "45-54", "55+"),
    "dob": lambda: f"{RNG.randint(1950, 2004)}-{RNG.randint(1, 12):02d}-{RNG.randint(1, 28):02d}",
    "year": lambda: str(RNG.randint(1950, 2004)),
    "yesno": pick("Yes", "No"),
    "binary": pick("0", "1"),
    "race": pick("White", "Black", "Asian", "Hispanic", "Other"),
    "race_cn": pick("汉族", "回族", "壮族", "满族", "苗族"),
    "religion": pick("Christian", "Muslim", "Buddhist", "Hindu", "Jewish", "None"),
    "religion_cn": pick("佛教", "基督教", "道教", "无"),
    "health": pick("diabetes", "none", "hypertension", "asthma"),
    "icd": pick("E11.9", "I10", "J45.909", "F32.A"),
    "bmi": lambda: f"{RNG.uniform(17, 40):.1f}",
    "bp": lambda: str(RNG.randint(90, 180)),
    "nationality": pick("Chinese", "American", "Mexican", "Indian", "German"),
    "country": pick("United-States", "Mexico", "India", "Germany", "China"),
    "country_code": pick("US", "CN", "DE", "FR", "IN"),
    "marital": pick("Married", "Single", "Divorced", "Widowed"),
    "marital_cn": pick("已婚", "未婚", "离异"),
    "relationship": pick("Husband", "Wife", "Own-child", "Not-in-family", "Unmarried"),
    "orientation": pick("heterosexual", "gay", "bisexual", "prefer not to say"),
    "party": pick("Democrat", "Republican", "Independent"),
    "party_cn": pick("群众", "中共党员", "共青团员"),
    "name": lambda: f"{RNG.choice(FIRST)} {RNG.choice(LAST)}",
    "first": pick(*FIRST),
    "last": pick(*LAST),
    "name_cn": pick(*CN_NAMES),
    "username": lambda: f"{RNG.choice(FIRST).lower()}{RNG.randint(1, 999)}",
    "email": email,
    "cn_mobile": cn_mobile,
    "us_phone": us_phone,
    "uk_phone": uk_phone,
    "intl_phone": intl_phone,
    "cn_id": cn_id,
    "ssn": ssn,
    "card": card,
    "ipv4": ipv4,
    "ipv6": ipv6,
    "passport": lambda: RNG.choice("EGP") + digits(8, "0123456789"),
    "iban": lambda: "GB82WEST1234" + digits(8, "0123456789"),
    "license": lambda: "D" + digits(7, "0123456789"),
    "address": lambda: f"{RNG.randint(1, 999)} Example Street, Springfield",
    "address_cn": lambda: f"示例市示例区示例路{RNG.randint(1, 99)}号",
    "mac": lambda: ":".join(f"{RNG.randint(0, 255):02X}" for _ in range(6)),
    "hostname": lambda: f"db-{RNG.randint(1, 20):02d}.internal",
    # Hard negatives for the content detectors.
    "order18": order18,
    "cn_id_wrong": cn_id_wrong,
    "not_luhn16": not_luhn16,
    "digits11": lambda: digits(11, "123456789"),
    "digits10": lambda: digits(10),
    "ts_ms": lambda: "17" + digits(11, "0123456789"),
    "sku": lambda: f"SKU-{RNG.randint(1000, 9999)}-{RNG.choice(['AB', 'CD', 'XZ'])}",
    "version3": lambda: f"{RNG.randint(0, 5)}.{RNG.randint(0, 20)}.{RNG.randint(0, 9)}",
    "version4": lambda: ".".join(str(RNG.randint(0, 9)) for _ in range(4)),
    "decimal": lambda: f"{RNG.uniform(-1000, 1000):.2f}",
    "ratio": lambda: f"{RNG.random():.3f}",
    "int": lambda: str(RNG.randint(0, 500)),
    "money": lambda: f"{RNG.uniform(10, 5000):.2f}",
    "date": lambda: f"2024-{RNG.randint(1, 12):02d}-{RNG.randint(1, 28):02d}",
    "datetime": lambda: f"2024-03-{RNG.randint(1, 28):02d} {RNG.randint(0, 23):02d}:30:00",
    "time": lambda: f"{RNG.randint(0, 23):02d}:{RNG.randint(0, 59):02d}:{RNG.randint(0, 59):02d}",
    "uuid": lambda: "-".join(
        "".join(RNG.choice("0123456789abcdef") for _ in range(n)) for n in (8, 4, 4, 4, 12)
    ),
    "sha": lambda: "".join(RNG.choice("0123456789abcdef") for _ in range(40)),
    "url": lambda: f"https://example.com/item/{RNG.randint(1, 9999)}",
    "path": lambda: f"/data/raw/part-{RNG.randint(0, 99):05d}.parquet",
    "text": pick("ok", "thanks for the quick reply", "see attached", "will call back"),
    "word": pick("alpha", "beta", "gamma", "delta"),
    "lang": pick("en", "zh", "fr", "de"),
    "currency": pick("USD", "CNY", "EUR"),
    "city": pick("Springfield", "Shelbyville", "Ogdenville"),
    "city_cn": pick("北京", "上海", "深圳"),
    "zip": lambda: digits(5, "123456789"),
    "imei": lambda: (lambda p: p + luhn_digit(p))("35" + digits(12, "0123456789")),
    "isbn": pick("978-3-16-148410-0", "978-0-306-40615-7"),
    "tracking": lambda: "1Z999AA1" + digits(10, "0123456789"),
    "product": pick("Widget A", "Gadget B", "Gizmo C"),
    "product_cn": pick("示例商品甲", "示例商品乙"),
    "status": pick("active", "inactive", "pending"),
    "bool": pick("true", "false"),
    "education": pick("Bachelors", "HS-grad", "Masters", "Some-college"),
    "job": pick("admin.", "technician", "services", "management"),
    "phone_model": pick("Model X1", "Model Y2", "Model Z3"),
    "device_health": pick("ok", "degraded", "failed"),
    "grade": pick("A", "B", "C", "D"),
    "size": pick("S", "M", "L", "XL"),
}

# --- The labelled rows: (column name, maker, expected category) ---------------------------------

POSITIVES: list[tuple[str, str, str]] = [
    # sex
    ("sex", "sex", "sex"), ("Sex", "sex_word", "sex"), ("gender", "sex_word", "sex"),
    ("Gender", "sex", "sex"), ("GENDER", "sex", "sex"), ("customer_gender", "sex", "sex"),
    ("applicant_sex", "sex", "sex"), ("genderIdentity", "sex_word", "sex"),
    ("is_female", "binary", "sex"), ("personal_status_sex", "sex_word", "sex"),
    ("gender_cd", "sex", "sex"), ("emp-gender", "sex", "sex"), ("性别", "sex_cn", "sex"),
    ("客户性别", "sex_cn", "sex"), ("员工性别", "sex_cn", "sex"), ("患者性别", "sex_cn", "sex"),
    ("col_3", "sex", "sex"), ("x7", "sex_cn", "sex"), ("attr_b", "sex_word", "sex"),
    # age
    ("age", "age", "age"), ("Age", "age", "age"), ("AGE", "age", "age"),
    ("applicant_age", "age", "age"), ("customerAge", "age", "age"), ("age_years", "age", "age"),
    ("age_group", "age_band", "age"), ("age_band", "age_band", "age"),
    ("patient_age", "age", "age"), ("dob", "dob", "age"), ("DOB", "dob", "age"),
    ("date_of_birth", "dob", "age"), ("dateOfBirth", "dob", "age"), ("birth_date", "dob", "age"),
    ("BirthDate", "dob", "age"), ("birthday", "dob", "age"), ("birth_year", "year", "age"),
    ("yearOfBirth", "year", "age"), ("SeniorCitizen", "binary", "age"), ("年龄", "age", "age"),
    ("客户年龄", "age", "age"), ("年龄段", "age_band", "age"), ("出生日期", "dob", "age"),
    ("出生年月", "dob", "age"), ("生日", "dob", "age"), ("岁数", "age", "age"),
    ("出生年份", "year", "age"),
    # race
    ("race", "race", "race"), ("Race", "race", "race"), ("ethnicity", "race", "race"),
    ("Ethnicity", "race", "race"), ("ethnic_group", "race", "race"),
    ("applicant_race", "race", "race"), ("race_ethnicity", "race", "race"),
    ("racial_group", "race", "race"), ("skin_color", "race", "race"), ("民族", "race_cn", "race"),
    ("种族", "race", "race"), ("族裔", "race", "race"), ("客户民族", "race_cn", "race"),
    ("grp", "race", "race"), ("类别", "race_cn", "race"),
    # religion
    ("religion", "religion", "religion"), ("Religion", "religion", "religion"),
    ("religious_affiliation", "religion", "religion"), ("faith", "religion", "religion"),
    ("religion_code", "int", "religion"), ("religiousPreference", "religion", "religion"),
    ("宗教", "religion_cn", "religion"), ("宗教信仰", "religion_cn", "religion"),
    ("信仰", "religion_cn", "religion"), ("belief_group", "religion", "religion"),
    # health
    ("health_status", "health", "health"), ("HealthCondition", "health", "health"),
    ("disease", "health", "health"), ("diagnosis", "health", "health"),
    ("diagnosis_code", "icd", "health"), ("icd10_code", "icd", "health"),
    ("disability", "yesno", "health"), ("disability_status", "yesno", "health"),
    ("medical_history", "health", "health"), ("medication", "word", "health"),
    ("is_pregnant", "binary", "health"), ("Pregnancies", "int", "health"),
    ("BMI", "bmi", "health"), ("blood_pressure", "bp", "health"),
    ("BloodPressure", "bp", "health"), ("Glucose", "int", "health"), ("Insulin", "int", "health"),
    ("cholesterol", "int", "health"), ("heart_disease", "binary", "health"),
    ("has_diabetes", "binary", "health"), ("mental_health", "health", "health"),
    ("hiv_status", "yesno", "health"), ("symptoms", "health", "health"),
    ("健康状况", "health", "health"), ("疾病", "health", "health"), ("病史", "health", "health"),
    ("诊断结果", "health", "health"), ("残疾等级", "int", "health"), ("病历号", "int", "health"),
    ("是否怀孕", "yesno", "health"), ("既往病史", "health", "health"),
    ("trestbps", "bp", "health"), ("chol", "int", "health"), ("thalach", "int", "health"),
    # nationality
    ("nationality", "nationality", "nationality"), ("Nationality", "nationality", "nationality"),
    ("citizenship", "country_code", "nationality"), ("native_country", "country", "nationality"),
    ("native-country", "country", "nationality"), ("country_of_birth", "country", "nationality"),
    ("birthCountry", "country", "nationality"), ("place_of_birth", "country", "nationality"),
    ("foreign_worker", "yesno", "nationality"),
    ("immigration_status", "status", "nationality"), ("is_citizen", "yesno", "nationality"),
    ("国籍", "country_code", "nationality"), ("客户国籍", "country_code", "nationality"),
    ("出生国", "country_code", "nationality"),
    # marital status
    ("marital", "marital", "marital_status"), ("marital_status", "marital", "marital_status"),
    ("MaritalStatus", "marital", "marital_status"),
    ("marital-status", "marital", "marital_status"), ("married", "yesno", "marital_status"),
    ("is_married", "binary", "marital_status"), ("civil_status", "marital", "marital_status"),
    ("marriage_status", "marital", "marital_status"),
    ("relationship_status", "marital", "marital_status"),
    ("婚姻状况", "marital_cn", "marital_status"), ("婚否", "yesno", "marital_status"),
    ("婚姻状态", "marital_cn", "marital_status"), ("是否已婚", "yesno", "marital_status"),
    ("status2", "marital", "marital_status"), ("c9", "marital_cn", "marital_status"),
    ("relationship", "relationship", "marital_status"),
    # sexual orientation
    ("sexual_orientation", "orientation", "sexual_orientation"),
    ("SexualOrientation", "orientation", "sexual_orientation"),
    ("sexuality", "orientation", "sexual_orientation"),
    ("lgbtq_status", "yesno", "sexual_orientation"),
    ("sexual_pref", "orientation", "sexual_orientation"),
    ("性取向", "orientation", "sexual_orientation"),
    ("性倾向", "orientation", "sexual_orientation"),
    # political opinion
    ("political_party", "party", "political_opinion"),
    ("politicalAffiliation", "party", "political_opinion"),
    ("party_affiliation", "party", "political_opinion"),
    ("political_view", "party", "political_opinion"), ("politics", "party", "political_opinion"),
    ("ideology", "party", "political_opinion"),
    ("voting_intention", "party", "political_opinion"),
    ("政治面貌", "party_cn", "political_opinion"), ("党派", "party_cn", "political_opinion"),
    ("是否党员", "yesno", "political_opinion"), ("政治倾向", "party", "political_opinion"),
    # identifiers by name
    ("name", "name", "identifier"), ("Name", "name", "identifier"),
    ("full_name", "name", "identifier"), ("first_name", "first", "identifier"),
    ("lastName", "last", "identifier"), ("FirstName", "first", "identifier"),
    ("customer_name", "name", "identifier"), ("surname", "last", "identifier"),
    ("username", "username", "identifier"), ("user_name", "username", "identifier"),
    ("email", "email", "identifier"), ("Email", "email", "identifier"),
    ("e-mail", "email", "identifier"), ("email_address", "email", "identifier"),
    ("EmailAddress", "email", "identifier"), ("contact_email", "email", "identifier"),
    ("phone", "us_phone", "identifier"), ("phone_number", "cn_mobile", "identifier"),
    ("PhoneNumber", "us_phone", "identifier"), ("mobile", "cn_mobile", "identifier"),
    ("telephone", "uk_phone", "identifier"), ("tel", "cn_mobile", "identifier"),
    ("cell_phone", "us_phone", "identifier"), ("home_phone", "uk_phone", "identifier"),
    ("ssn", "ssn", "identifier"), ("SSN", "ssn", "identifier"),
    ("social_security_number", "ssn", "identifier"), ("passport_no", "passport", "identifier"),
    ("passportNumber", "passport", "identifier"), ("id_number", "cn_id", "identifier"),
    ("national_id", "cn_id", "identifier"), ("id_card_no", "cn_id", "identifier"),
    ("driver_license", "license", "identifier"), ("credit_card_number", "card", "identifier"),
    ("card_number", "card", "identifier"), ("iban", "iban", "identifier"),
    ("address", "address", "identifier"), ("home_address", "address", "identifier"),
    ("street_address", "address", "identifier"), ("billing_address", "address", "identifier"),
    ("ip", "ipv4", "identifier"), ("ip_address", "ipv4", "identifier"),
    ("IPAddress", "ipv6", "identifier"), ("client_ip", "ipv4", "identifier"),
    ("src_ipv4", "ipv4", "identifier"), ("mac_address", "mac", "identifier"),
    ("姓名", "name_cn", "identifier"), ("客户姓名", "name_cn", "identifier"),
    ("真实姓名", "name_cn", "identifier"), ("身份证号", "cn_id", "identifier"),
    ("身份证号码", "cn_id", "identifier"), ("证件号码", "cn_id", "identifier"),
    ("手机号", "cn_mobile", "identifier"), ("手机号码", "cn_mobile", "identifier"),
    ("联系电话", "cn_mobile", "identifier"), ("电话", "cn_mobile", "identifier"),
    ("邮箱", "email", "identifier"), ("电子邮箱", "email", "identifier"),
    ("家庭住址", "address_cn", "identifier"), ("地址", "address_cn", "identifier"),
    ("护照号", "passport", "identifier"), ("银行卡号", "card", "identifier"),
    ("用户名", "username", "identifier"),
    # identifiers by content, behind names that say nothing
    ("col_1", "email", "identifier"), ("field_a", "cn_mobile", "identifier"),
    ("contact", "us_phone", "identifier"), ("value", "intl_phone", "identifier"),
    ("备注", "email", "identifier"), ("字段1", "cn_id", "identifier"),
    ("c12", "ssn", "identifier"), ("payment_ref", "card", "identifier"),
    ("ref_no", "cn_id", "identifier"), ("src", "ipv4", "identifier"),
    ("peer", "ipv6", "identifier"), ("info", "uk_phone", "identifier"),
    ("data", "card", "identifier"), ("x", "ipv4", "identifier"),
    ("联系方式", "cn_mobile", "identifier"), ("账号", "email", "identifier"),
    ("login", "email", "identifier"), ("recipient", "email", "identifier"),
    ("col_22", "ssn", "identifier"), ("key", "cn_id", "identifier"),
]  # fmt: skip

NEGATIVES: list[tuple[str, str]] = [
    # words that contain a sensitive word but are not it (hard)
    ("usage", "int"), ("agent", "word"), ("agent_id", "int"), ("stage", "word"),
    ("page", "int"), ("page_views", "int"), ("message", "text"), ("image", "path"),
    ("image_url", "url"), ("language", "lang"), ("percentage", "ratio"), ("storage", "int"),
    ("garage", "yesno"), ("average", "decimal"), ("mileage", "int"), ("voltage", "decimal"),
    ("package", "word"), ("mortgage", "money"), ("leverage", "ratio"), ("coverage", "ratio"),
    ("wage", "money"), ("hourly_wage", "money"), ("passage", "text"), ("vintage", "year"),
    ("grace_period", "int"), ("trace_id", "uuid"), ("racecar", "word"), ("unisex_size", "size"),
    ("essex_region", "word"), ("sextant", "decimal"), ("manage_flag", "bool"),
    ("diagnostics_url", "url"), ("nameplate", "word"), ("renamed", "bool"),
    # a thing's age, health or name (hard)
    ("account_age_days", "int"), ("vehicle_age", "int"), ("house_age", "int"),
    ("battery_health", "device_health"), ("system_health", "device_health"),
    ("server_health_score", "ratio"), ("product_name", "product"), ("file_name", "path"),
    ("company_name", "product"), ("hostname", "hostname"), ("host_name", "hostname"),
    ("column_name", "word"), ("model_name", "word"), ("city_name", "city"),
    ("brand_name", "product"), ("race_time", "decimal"),
    # derived from an identifier, not the identifier (hard)
    ("phone_model", "phone_model"), ("PhoneService", "yesno"), ("MultipleLines", "yesno"),
    ("email_opt_in", "bool"), ("email_verified", "bool"), ("has_email", "bool"),
    ("email_domain", "word"), ("n_emails", "int"), ("email_count", "int"),
    ("phone_type", "word"), ("address_type", "word"), ("company_address", "address"),
    ("server_address", "hostname"), ("ip_count", "int"),
    # identifier-like values that are not personal (hard)
    ("order_no", "order18"), ("ref", "cn_id_wrong"), ("transaction_id", "not_luhn16"),
    ("txn_ref", "not_luhn16"), ("serial", "digits11"), ("batch_no", "digits10"),
    ("event_ms", "ts_ms"), ("sku", "sku"), ("product_code", "sku"), ("version", "version3"),
    ("build", "version4"), ("app_version", "version4"), ("isbn", "isbn"),
    ("tracking_number", "tracking"), ("uuid", "uuid"), ("sha", "sha"), ("checksum", "sha"),
    ("time_of_day", "time"),
    # ordinary columns
    ("price", "money"), ("amount", "decimal"), ("quantity", "int"), ("order_id", "int"),
    ("created_at", "datetime"), ("timestamp", "datetime"), ("date", "date"), ("url", "url"),
    ("path", "path"), ("country", "country_code"), ("country_code", "country_code"),
    ("currency", "currency"), ("city", "city"), ("region", "word"), ("zip_code", "zip"),
    ("postal_code", "zip"), ("income", "money"), ("salary", "money"),
    ("credit_score", "int"), ("loan_amount", "money"), ("balance", "decimal"),
    ("tenure", "int"), ("education", "education"), ("occupation", "job"),
    ("workclass", "word"), ("fnlwgt", "int"), ("education-num", "int"),
    ("capital-gain", "int"), ("hours-per-week", "int"), ("job", "job"), ("housing", "yesno"),
    ("loan", "yesno"), ("duration", "int"), ("campaign", "int"), ("pdays", "int"),
    ("poutcome", "word"), ("Pclass", "int"), ("Survived", "binary"), ("SibSp", "int"),
    ("Parch", "int"), ("Ticket", "sku"), ("Fare", "money"), ("Cabin", "word"),
    ("Embarked", "word"), ("PassengerId", "int"), ("customerID", "uuid"), ("Partner", "yesno"),
    ("Dependents", "yesno"), ("Contract", "word"), ("PaperlessBilling", "yesno"),
    ("PaymentMethod", "word"), ("MonthlyCharges", "money"), ("TotalCharges", "money"),
    ("Churn", "yesno"), ("score", "ratio"), ("rating", "int"), ("temperature", "decimal"),
    ("status", "status"), ("category", "word"), ("label", "binary"), ("target", "binary"),
    ("comment", "text"), ("notes", "text"), ("grade", "grade"), ("size", "size"),
    ("ratio", "ratio"), ("count", "int"), ("is_active", "bool"),
    # Chinese negatives (some hard)
    ("年份", "year"), ("性能", "ratio"), ("页面", "int"), ("用户数", "int"), ("信用分", "int"),
    ("国家", "country_code"), ("城市", "city_cn"), ("产品名称", "product_cn"),
    ("文件名", "path"), ("公司地址", "address_cn"), ("手机型号", "phone_model"),
    ("订单号", "order18"), ("交易金额", "money"), ("商品编号", "sku"), ("版本号", "version4"),
    ("信息", "text"), ("性质", "word"), ("日期", "date"), ("病毒检测结果", "word"),
    ("设备健康度", "device_health"), ("系统健康状态", "device_health"), ("手机品牌", "product"),
    ("邮箱验证状态", "bool"), ("通话次数", "int"), ("年度", "year"), ("信用等级", "grade"),
    ("民用", "bool"), ("名称", "product_cn"),
]  # fmt: skip

# Column names copied from well-known public data schemas (UCI Adult, German and Taiwan credit,
# IBM HR attrition, Home Credit, the stroke and insurance sets, HMDA, COMPAS, MIMIC-IV, Lending
# Club), labelled by what the column holds and added after the lexicon was written, without
# tuning the lexicon to them afterwards: the "schemas" subset estimates how the name rules do on
# names nobody chose for this test.
SCHEMAS: list[tuple[str, str, str]] = [
    ("Age", "age", "age"), ("Attrition", "yesno", "none"), ("BusinessTravel", "word", "none"),
    ("DailyRate", "int", "none"), ("Department", "word", "none"),
    ("DistanceFromHome", "int", "none"), ("EducationField", "word", "none"),
    ("EmployeeCount", "int", "none"), ("EmployeeNumber", "int", "none"),
    ("EnvironmentSatisfaction", "int", "none"), ("Gender", "sex_word", "sex"),
    ("JobRole", "job", "none"), ("MaritalStatus", "marital", "marital_status"),
    ("MonthlyIncome", "money", "none"), ("NumCompaniesWorked", "int", "none"),
    ("Over18", "yesno", "age"), ("OverTime", "yesno", "none"),
    ("RelationshipSatisfaction", "int", "none"), ("WorkLifeBalance", "int", "none"),
    ("YearsWithCurrManager", "int", "none"), ("CODE_GENDER", "sex", "sex"),
    ("DAYS_BIRTH", "int", "age"), ("NAME_FAMILY_STATUS", "marital", "marital_status"),
    ("NAME_CONTRACT_TYPE", "word", "none"), ("NAME_INCOME_TYPE", "word", "none"),
    ("NAME_TYPE_SUITE", "word", "none"), ("FLAG_MOBIL", "binary", "none"),
    ("FLAG_EMAIL", "binary", "none"), ("FLAG_WORK_PHONE", "binary", "none"),
    ("OWN_CAR_AGE", "int", "none"), ("CNT_CHILDREN", "int", "none"),
    ("DAYS_ID_PUBLISH", "int", "none"), ("DAYS_LAST_PHONE_CHANGE", "int", "none"),
    ("OCCUPATION_TYPE", "job", "none"), ("REGION_RATING_CLIENT", "int", "none"),
    ("id", "int", "none"), ("gender", "sex_word", "sex"), ("age", "age", "age"),
    ("hypertension", "binary", "health"), ("heart_disease", "binary", "health"),
    ("ever_married", "yesno", "marital_status"), ("work_type", "word", "none"),
    ("Residence_type", "word", "none"), ("avg_glucose_level", "decimal", "health"),
    ("bmi", "bmi", "health"), ("smoking_status", "word", "health"),
    ("stroke", "binary", "health"), ("sex", "sex_word", "sex"), ("children", "int", "none"),
    ("smoker", "yesno", "health"), ("region", "word", "none"), ("charges", "money", "none"),
    ("applicant_ethnicity", "race", "race"), ("applicant_race_1", "race", "race"),
    ("co_applicant_sex", "sex", "sex"), ("derived_race", "race", "race"),
    ("loan_purpose", "word", "none"), ("property_value", "money", "none"),
    ("first", "first", "identifier"), ("last", "last", "identifier"),
    ("age_cat", "age_band", "age"), ("juv_fel_count", "int", "none"),
    ("decile_score", "int", "none"), ("priors_count", "int", "none"),
    ("c_charge_degree", "word", "none"), ("two_year_recid", "binary", "none"),
    ("subject_id", "int", "none"), ("anchor_age", "age", "age"),
    ("admission_type", "word", "none"), ("insurance", "word", "none"),
    ("icd_code", "icd", "health"), ("emp_title", "job", "none"),
    ("emp_length", "int", "none"), ("home_ownership", "word", "none"),
    ("annual_inc", "money", "none"), ("addr_state", "country_code", "none"),
    ("dti", "ratio", "none"), ("LIMIT_BAL", "money", "none"), ("SEX", "binary", "sex"),
    ("MARRIAGE", "int", "marital_status"), ("PAY_0", "int", "none"),
    ("BILL_AMT1", "money", "none"), ("personal_status", "word", "none"),
    ("foreign_worker", "yesno", "nationality"), ("credit_history", "word", "none"),
]  # fmt: skip


def values_for(maker: str, n: int = 5) -> str:
    return "|".join(MAKERS[maker]() for _ in range(n))


def main() -> None:
    rows = [(n, values_for(m), expected, "designed") for n, m, expected in POSITIVES]
    rows += [(n, values_for(m), "none", "designed") for n, m in NEGATIVES]
    rows += [(n, values_for(m), expected, "schemas") for n, m, expected in SCHEMAS]
    with OUT.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(["column_name", "sample_values", "expected_category", "subset"])
        writer.writerows(rows)
    print(f"wrote {len(rows)} rows to {OUT}")


if __name__ == "__main__":
    main()
