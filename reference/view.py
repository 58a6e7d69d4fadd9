"""The model's view of a game's current state, as a person can look at it.

On the reference protocol it is the reference's current-observation
message (``Current Observation:``, the short-term text, the long-term text,
after an invalid answer the feedback line first), without the strategy's
format instruction: exactly what a model playing this state is shown. On
the other protocol it is the adapter's text as before.
"""

from __future__ import annotations

from games.base import GameAdapter
from games.registry import PROTOCOL_BALROG, protocol_of
from reference.prompts import feedback_prefix, observation_message


def model_view(adapter: GameAdapter) -> str:
    observation = adapter.observation()
    if protocol_of(adapter.options) != PROTOCOL_BALROG:
        return observation.text
    action, valid = adapter.last_step
    long_term = ("" if valid else feedback_prefix(action)) + observation.long_term
    return observation_message(current=True, short_term=observation.short_term, long_term=long_term)
