#!/usr/bin/env bash
# Make a filesystem on loop devices backed by sparse images in WORK and mount it.
#   make_fs.sh WORK NAME TYPE SIZE [DEVICES [MOUNT_OPTIONS]]
# Mounts at WORK/mnt/NAME; DEVICES > 1 (btrfs only) spreads it over that many images.
set -euo pipefail
work="$1" name="$2" type="$3" size="$4" count="${5:-1}" options="${6:-defaults}"
devices=()
for index in $(seq "$count"); do
    image="$work/$name-$index.img"
    truncate -s "$size" "$image"
    devices+=("$(losetup --find --show "$image")")
done
case "$type" in
    ext4) mkfs.ext4 -q -F "${devices[0]}" ;;
    xfs) mkfs.xfs -q -f "${devices[0]}" ;;
    btrfs) mkfs.btrfs -q -f -d single -m single "${devices[@]}" >/dev/null ;;
    *) echo "make_fs.sh: unknown type $type" >&2; exit 2 ;;
esac
mkdir -p "$work/mnt/$name"
mount -o "$options" "${devices[0]}" "$work/mnt/$name"
echo "${devices[0]}"
