#!/usr/bin/env bash
# Run one namespace scenario by name and print its timeline (used by `./ztp run NAME` until the
# `lab` command exists). Names are the t_*.sh scripts with dashes: ha-learned -> t_ha_learned.sh.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
name=${1:-ha-learned}
script="$here/t_${name//-/_}.sh"
if [ ! -f "$script" ]; then
  echo "ztp: no scenario named '$name'; available:" >&2
  for f in "$here"/t_*.sh; do b=$(basename "$f" .sh); b=${b#t_}; echo "  ${b//_/-}" >&2; done
  exit 2
fi
export ZTP_BIN=${ZTP_BIN:-$(cd "$here/../.." && pwd)/build/bin}
export ZL_TIMELINE=1
# The terminal shows the onboarding events; the artifacts keep every line.
export ZL_TIMELINE_FILTER=${ZL_TIMELINE_FILTER:-'^(node\.(ready|stop)|dhcp\.exchange|dhcpc\.bound|proxy\.|ha\.peer\.)'}
exec bash "$script"
