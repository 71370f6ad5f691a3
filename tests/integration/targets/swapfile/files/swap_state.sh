#!/usr/bin/env bash
# The state of a swap file as the standard tools see it (stat, swapon,
# grep), independent of the module, as one JSON object:
#   swap_state.sh PATH FSTAB
# exists, mode, size, allocated (bytes of blocks), inode, active, priority,
# used, fstab_line (ours), fstab_sha256 (the whole file), directory (every
# entry of PATH's directory: name inode size mode, so that a second file or a
# rewritten one shows), data_sha256 (of PATH when it is a small regular file).
set -u
path="$1" fstab="$2"
json() { if [[ -z "$1" ]]; then printf null; else printf '"%s"' "$1"; fi; }
if [[ -e "$path" || -L "$path" ]]; then
    read -r mode size blocks inode < <(stat -c '%a %s %b %i' "$path")
    exists=true
else
    mode="" size=null blocks=0 inode=null exists=false
fi
active=false priority=null used=null
while read -r name _ _ used_bytes prio; do
    if [[ "$name" == "$path" ]]; then active=true priority="$prio" used="$used_bytes"; fi
done < <(swapon --show=NAME,TYPE,SIZE,USED,PRIO --bytes --raw --noheadings 2>/dev/null)
line="$(awk -v p="$path" '$1 == p' "$fstab" 2>/dev/null | tr -d '\r' | head -n 1)"
fstab_sum="$(sha256sum "$fstab" 2>/dev/null | cut -d' ' -f1)"
directory=""
case "$(dirname "$path")" in
    /dev | /dev/*) ;; # device nodes come and go with other users of the machine
    *) directory="$(cd "$(dirname "$path")" 2>/dev/null && stat -c '%n %i %s %a' -- .[!.]* * 2>/dev/null | tr '\n' ';')" ;;
esac
data=""
if [[ -f "$path" && ! -L "$path" && "$size" != null && "$size" -lt 1048576 ]]; then
    data="$(sha256sum "$path" | cut -d' ' -f1)"
fi
printf '{"exists": %s, "mode": %s, "size": %s, "allocated": %s, "inode": %s, "active": %s, "priority": %s, ' \
    "$exists" "$(json "$mode")" "$size" "$((blocks * 512))" "$inode" "$active" "$priority"
printf '"used": %s, "fstab_line": %s, "fstab_sha256": %s, "directory": %s, "data_sha256": %s}\n' \
    "$used" "$(json "$line")" "$(json "$fstab_sum")" "$(json "$directory")" "$(json "$data")"
