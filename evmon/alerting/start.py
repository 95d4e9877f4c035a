"""The shell both start scripts share: each team's destinations from the environment, an unset one taken out.

A generated file marks the lines of one destination `# evmon-env VAR` and the lines of one team (its
route, its contact point) `# evmon-team NAME`. At start, `evmon_team NAME VAR "$VAR" ...` keeps a set
variable (handing its value to `evmon_keep`, which the script defines: Alertmanager writes it to a
file, Grafana reads it from its environment), deletes the lines of an unset one, and deletes the team's
lines when none is left, with one line on stderr: that team's alerts take the default route.
"""

from __future__ import annotations

import shlex
from collections.abc import Iterable, Mapping

TEAM_FUNCTION = """\
evmon_team() {  # TEAM, then VAR VALUE pairs; edits $evmon_file
    team=$1
    shift
    missing=""
    kept=0
    while [ $# -gt 1 ]; do
        if [ -n "$2" ]; then
            evmon_keep "$1" "$2"
            kept=$((kept + 1))
        else
            sed -i "/# evmon-env $1\\$/d" "$evmon_file"
            missing="$missing $1"
        fi
        shift 2
    done
    if [ -n "$missing" ] && [ "$kept" -eq 0 ]; then
        sed -i "/# evmon-team $team\\$/d" "$evmon_file"
        echo "evmon: team $team: not set:$missing; its alerts go to the default receiver (DEFAULT_ENV)" >&2
    elif [ -n "$missing" ]; then
        echo "evmon: team $team: not set:$missing; its alerts go to its other destinations" >&2
    fi
}
"""


def team_function(default_env: str) -> str:
    return TEAM_FUNCTION.replace("DEFAULT_ENV", default_env)


def team_calls(destinations: Mapping[str, Iterable[str]]) -> str:
    """One `evmon_team` line per team with destinations: team name -> its variables."""
    lines = []
    for name, variables in sorted(destinations.items()):
        pairs = " ".join(f'{env} "${{{env}:-}}"' for env in variables)
        if pairs:
            lines.append(f"evmon_team {shlex.quote(name)} {pairs}\n")
    return "".join(lines)
