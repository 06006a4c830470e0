"""JSON that a user typed or uploaded: parsed with every way it can fail turned into one clear error."""
from __future__ import annotations

import json
from typing import Any


def loads(text: str, what: str, error: type[Exception]) -> Any:
    """json.loads(text), raising error("<what>: ...") for bad syntax, nesting too deep for the
    parser, or numbers Python refuses (an integer of more than 4300 digits)."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        raise error(f"{what}: not valid JSON ({e.msg} at line {e.lineno}, column {e.colno})") from None
    except RecursionError:
        raise error(f"{what}: JSON nested too deeply") from None
    except ValueError as e:
        raise error(f"{what}: not usable JSON ({str(e)[:80]})") from None
