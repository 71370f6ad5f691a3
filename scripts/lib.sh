# shellcheck shell=bash
# Shared by scripts/diagnose and scripts/test: find interpreters, keep the
# virtualenvs (built once per machine, reused while their requirements do not
# change) and lay the collection out as ansible_collections/memops/linux.
#
# Environment:
#   MEMOPS_CACHE    per-machine cache (venvs); default ~/.cache/memops-linux
#   MEMOPS_WORK     per-checkout scratch space; default $TMPDIR/memops-linux-<id>
#   MEMOPS_REFRESH  1 = rebuild the virtualenvs even when they look valid

MEMOPS_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)"
MEMOPS_CACHE="${MEMOPS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/memops-linux}"
MEMOPS_WORK="${MEMOPS_WORK:-${TMPDIR:-/tmp}/memops-linux-$(printf '%s' "$MEMOPS_ROOT" | sha256sum | cut -c1-12)}"

log() { printf '==> %s\n' "$*" >&2; }
die() {
    printf 'error: %s\n' "$*" >&2
    exit 1
}

# Print the path of a working pythonX.Y: PATH first (pyenv shims only count
# when they run), then pyenv's versions directory, then /usr/bin.
find_python() {
    local version="$1" candidate
    local pyenv_root="${PYENV_ROOT:-$HOME/.pyenv}"
    for candidate in "$(command -v "python$version" 2>/dev/null || true)" \
        $(compgen -G "$pyenv_root/versions/$version.*/bin/python$version" | sort -V -r) \
        "/usr/bin/python$version"; do
        if [[ -n "$candidate" && -x "$candidate" ]] && "$candidate" -c 'import ensurepip, venv' 2>/dev/null; then
            printf '%s\n' "$candidate"
            return 0
        fi
    done
    return 1
}

# ensure_venv NAME PYTHON REQUIREMENTS...: print the path of a virtualenv
# holding REQUIREMENTS. Reused while the interpreter and the requirement files
# are unchanged and it still imports ansible; rebuilt otherwise.
ensure_venv() {
    local name="$1" python="$2"
    shift 2
    local venv="$MEMOPS_CACHE/venvs/$name" stamp
    stamp="$({ "$python" -VV; readlink -f "$python"; cat "$@"; } | sha256sum | cut -d' ' -f1)"
    mkdir -p "$MEMOPS_CACHE/venvs"
    (
        flock 9
        if [[ "${MEMOPS_REFRESH:-0}" != 1 && -x "$venv/bin/python" ]] &&
            [[ "$(cat "$venv/.memops-stamp" 2>/dev/null)" == "$stamp" ]] &&
            "$venv/bin/python" -c 'import ansible' 2>/dev/null; then
            exit 0
        fi
        log "virtualenv $name: installing $(printf '%s ' "${@#"$MEMOPS_ROOT/"}")with $("$python" -V 2>&1)"
        rm -rf "$venv"
        "$python" -m venv "$venv"
        local requirement_args=()
        local file
        for file in "$@"; do requirement_args+=(-r "$file"); done
        "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "${requirement_args[@]}"
        printf '%s\n' "$stamp" >"$venv/.memops-stamp"
    ) 9>"$venv.lock" >&2 || die "virtualenv $name could not be built (see pip's message above)"
    printf '%s\n' "$venv"
}

# Run a command with a virtualenv's bin/ first on PATH, as `activate` would.
in_venv() {
    local venv="$1"
    shift
    VIRTUAL_ENV="$venv" PATH="$venv/bin:$PATH" "$@"
}

# Print a collections root in which ansible_collections/memops/linux is this
# checkout: the checkout's own ancestors when it is laid out that way, else a
# symlink under MEMOPS_WORK.
link_collection() {
    local parent
    parent="$(dirname "$MEMOPS_ROOT")"
    if [[ "$MEMOPS_ROOT" == */ansible_collections/memops/linux ]]; then
        dirname "$(dirname "$parent")"
        return 0
    fi
    local root="$MEMOPS_WORK/link"
    mkdir -p "$root/ansible_collections/memops"
    ln -sfn "$MEMOPS_ROOT" "$root/ansible_collections/memops/linux"
    printf '%s\n' "$root"
}

# Print a collections root holding a fresh copy of the checkout's files (those
# git tracks or would track) at ansible_collections/memops/linux. ansible-test
# resolves symlinks, so it needs a real directory of that name.
copy_collection() {
    local root="$MEMOPS_WORK/tree"
    local dest="$root/ansible_collections/memops/linux"
    rm -rf "$dest"
    mkdir -p "$dest"
    if git -C "$MEMOPS_ROOT" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
        git -C "$MEMOPS_ROOT" ls-files -z --cached --others --exclude-standard |
            while IFS= read -r -d '' path; do
                [[ -e "$MEMOPS_ROOT/$path" || -L "$MEMOPS_ROOT/$path" ]] && printf '%s\0' "$path"
            done |
            tar -C "$MEMOPS_ROOT" --null --no-recursion -T - -cf - | tar -C "$dest" -xf -
    else
        tar -C "$MEMOPS_ROOT" --exclude=./tests/output --exclude=./.cache --exclude=./.venv -cf - . |
            tar -C "$dest" -xf -
    fi
    printf '%s\n' "$root"
}

# run_diagnose VENV COLLECTIONS_ROOT [ansible-playbook args...]: run
# playbooks/diagnose.yml; against localhost unless the arguments name an
# inventory.
run_diagnose() {
    local venv="$1" collections_root="$2"
    shift 2
    local arg inventory_given=0
    for arg in "$@"; do
        case "$arg" in
            -i | -i?* | --inventory | --inventory=* | --inventory-file | --inventory-file=*) inventory_given=1 ;;
        esac
    done
    local default_inventory=()
    if [[ "$inventory_given" == 0 ]]; then
        mkdir -p "$MEMOPS_WORK"
        # The controller's own interpreter: discovery may pick a pyenv shim
        # that does not run.
        printf '%s\n' 'localhost ansible_connection=local ansible_python_interpreter="{{ ansible_playbook_python }}"' \
            >"$MEMOPS_WORK/localhost.ini"
        default_inventory=(-i "$MEMOPS_WORK/localhost.ini")
    fi
    ANSIBLE_COLLECTIONS_PATH="$collections_root${ANSIBLE_COLLECTIONS_PATH:+:$ANSIBLE_COLLECTIONS_PATH}" \
        in_venv "$venv" ansible-playbook "${default_inventory[@]}" \
        "$collections_root/ansible_collections/memops/linux/playbooks/diagnose.yml" "$@"
}
