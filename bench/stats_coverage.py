"""Coverage of the leaderboard's intervals, measured by simulation.

    .venv/bin/python bench/stats_coverage.py [--datasets 1000] [--seed 23] [--no-bca]

For each case it draws ``--datasets`` data sets from a distribution whose mean
is known, builds each method's "95 %" interval and prints how often the
interval holds the true mean (coverage; a missing interval counts as a miss),
its mean width, and how many data sets got no interval or a zero-width one.

- one mean (``mean``): normal, Beta(2, 5), success/fail (p = 0.3) and a
  zero-heavy progression (0 with probability 0.6, else Beta(2, 3)), at
  n = 5, 10, 30; methods: the old percentile bootstrap (``old``), scipy's BCa
  bootstrap (``bca``, for comparison) and ``leaderboard.stats.mean_interval``
  (``new``: Wilson for success/fail, Wilson with an effective sample size for
  other scores in [0, 1], Student's t beyond);
- the paired model-vs-human comparison (``paired``): games share a
  difficulty (both sides move with it), the model's edge varies by game
  around 0.10 (the true mean difference); 5 and 10 games with a few model
  and human episodes each; old: every model x human pair bootstrapped as if
  independent; new: ``leaderboard.pairing.paired_difference``;
- the overall (``overall``): six envs of a BALROG-like mix (success/fail,
  zero-heavy and continuous scores, 5-12 episodes each); old: the stratified
  percentile bootstrap the board used, new: ``leaderboard.stats.overall_estimate``;
- ranks: two entries on that mix, how often they are ranked apart when
  their true overall scores are equal (should be at most 5 %) and when one
  is 0.05 or 0.10 higher on every env (the power to tell them apart).

The output is the table in docs/statistics.md. The same functions back the
fast coverage tests (tests/leaderboard/test_stats_coverage.py).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "balrogweb.settings")

from tests.support.stats_simulation import all_rows, rank_rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--datasets", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=23)
    parser.add_argument("--no-bca", action="store_true", help="skip scipy's BCa bootstrap (the slowest column)")
    args = parser.parse_args()
    import django

    django.setup()
    started = time.perf_counter()
    print(f"{args.datasets} data sets per row, seed {args.seed}; nominal level 0.95")
    print("| case | method | coverage | mean width | no interval | zero-width |")
    print("|---|---|---|---|---|---|")
    for row in all_rows(args.datasets, args.seed, not args.no_bca):
        print(row.line(), flush=True)
    print()
    print("| two entries on the overall mix | old: no overlap | new: confident_ranks |")
    print("|---|---|---|")
    for line in rank_rows(args.datasets, args.seed):
        print(line, flush=True)
    print(f"({time.perf_counter() - started:.0f} s)")


if __name__ == "__main__":
    main()
