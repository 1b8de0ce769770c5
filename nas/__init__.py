"""nas: the user-facing toolkit (budgets, data, training, search, reports) over `search_spaces`."""
from nas.budget import parse_budget
from nas.specs import load_spec

__all__ = ["load_spec", "parse_budget"]
