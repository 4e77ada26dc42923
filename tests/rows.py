"""A valid request row for the churn sample's model, shared by the serving tests."""

CHURN_ROW = {
    "age": 42,
    "plan": "pro",
    "region": "north",
    "monthly charges": 70.5,
    "tenure months": 12,
    "support calls": 3,
    "has partner": "no",
    "signup date": "2024-03-01",
}
