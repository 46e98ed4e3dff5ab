"""Credit scoring: train a logistic regression on credit applications and score new ones."""
