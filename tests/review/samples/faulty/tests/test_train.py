from churn.train import load_rows, same_customer, score_customers, summarise_calls


def test_score_customers_flags_frequent_callers():
    rows = [{"id": 1, "calls": 9, "months": 2}, {"id": 2, "calls": 1, "months": 9}]
    assert score_customers(rows) == [1]


def test_load_rows_of_missing_file_is_empty(tmp_path):
    assert load_rows(tmp_path / "missing.csv") == []


def test_same_customer_compares_ids():
    assert same_customer({"id": 1}, {"id": 1})


def test_summarise_calls_sums_and_averages():
    assert summarise_calls([{"calls": 2}, {"calls": 4}]) == (6, 3)
