"""Browser play, by concern: who plays (``players``), starting and ending a
human episode (``starts``), the player's step (``steps``), what every
websocket connection is told (``viewers``), episode reads and facts
(``episodes``) and idle episodes (``idle``).

Views and consumers parse and reply; everything they decide is here. Steps go
through ``games.services`` (at most once per index, rebuilt by replay after a
restart), which this package never bypasses. Functions that write are
``do_*``; ``check_*`` validate. Texts returned are protocol messages already
encoded, built in a worker thread while the episode's state is pinned, so the
event loop only forwards text. Callers import this package (``from play
import services``); the names below are its interface.
"""

from play.services.episodes import (
    SAME_SEED_LIMIT,
    command_limits,
    end_facts,
    episode_facts,
    get_episode,
    same_seed_model_episodes,
    step_row_of,
)
from play.services.idle import do_close_idle_episodes
from play.services.players import (
    NICKNAME_MAX,
    SESSION_TOKEN_KEY,
    Forbidden,
    Player,
    anon_key,
    do_claim_anonymous_episodes,
    episodes_of,
    owns,
    player_from,
)
from play.services.starts import (
    RANDOM_SEED_BOUND,
    PlayRefused,
    SeedRefused,
    StartRequest,
    do_end_for_player,
    do_start_or_resume,
    live_episode_of,
    play_again_choices,
)
from play.services.steps import (
    SHARED_STEP_MESSAGES,
    Acked,
    FrameSink,
    SharedStepMessages,
    do_apply_player_action,
    shared_step_messages,
)
from play.services.viewers import (
    MAX_MISSED_STEPS,
    SNAPSHOT_TRIES,
    Opened,
    ViewerRefused,
    check_viewer_admitted,
    do_abandon,
    ended_message,
    observation_message,
    open_connection,
    resync,
    snapshot_message,
    step_message,
)

__all__ = [
    "MAX_MISSED_STEPS",
    "NICKNAME_MAX",
    "RANDOM_SEED_BOUND",
    "SAME_SEED_LIMIT",
    "SESSION_TOKEN_KEY",
    "SHARED_STEP_MESSAGES",
    "SNAPSHOT_TRIES",
    "Acked",
    "Forbidden",
    "FrameSink",
    "Opened",
    "PlayRefused",
    "Player",
    "SeedRefused",
    "SharedStepMessages",
    "StartRequest",
    "ViewerRefused",
    "anon_key",
    "check_viewer_admitted",
    "command_limits",
    "do_abandon",
    "do_apply_player_action",
    "do_claim_anonymous_episodes",
    "do_close_idle_episodes",
    "do_end_for_player",
    "do_start_or_resume",
    "end_facts",
    "ended_message",
    "episode_facts",
    "episodes_of",
    "get_episode",
    "live_episode_of",
    "observation_message",
    "open_connection",
    "owns",
    "play_again_choices",
    "player_from",
    "resync",
    "same_seed_model_episodes",
    "shared_step_messages",
    "snapshot_message",
    "step_message",
    "step_row_of",
]
