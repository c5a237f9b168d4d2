"""Cross-field rules (placeholder while the rules land)."""
from amt.errors import FieldError
from amt.model import Spec


def check_rules(spec: Spec) -> list[FieldError]:
    return []
