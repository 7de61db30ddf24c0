"""What the model-based tests (test_wallet_model.py, test_bonus_model.py) share: the ids
their rules draw and the record of a bet the model was sent."""
from dataclasses import dataclass

import hypothesis.strategies as st

TRANSACTION_IDS = st.integers(0, 10**6).map(lambda i: f"t{i}")


def round_ids(count):
    """Round ids drawn from `count` rounds: few, so calls meet in the same round."""
    return st.integers(1, count).map(lambda i: f"r{i}")


@dataclass(kw_only=True)
class Bet:
    """A bet the model was sent: whether it was accepted, and refunded by a rollback since.
    Each model adds what its own rules need (kw_only: the additions may come in any order)."""
    round_id: str
    amount: int
    accepted: bool
    refunded: bool = False
