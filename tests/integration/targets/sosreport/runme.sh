#!/usr/bin/env bash
# A real sosreport of this host, diagnosed by mem_facts (its totals against the live host's, read right
# before and after it was made) and by playbooks/diagnose_captures.yml (a fleet report naming it).
set -eux

# every play runs on the controller (ansible-test's placeholder interpreter is not one)
export ANSIBLE_PYTHON_INTERPRETER=auto_silent
python_of_ansible='ansible_python_interpreter={{ ansible_playbook_python }}'
work="$(mktemp -d)"
mkdir "$work/captures"
trap 'rm -rf "$work"' EXIT

ansible-playbook -i localhost, -c local make_and_compare.yml -e "work=$work" -e "$python_of_ansible" "$@"
ansible-playbook -i localhost, -c local memops.linux.diagnose_captures -e "captures_dir=$work/captures" \
    -e "diagnose_report_dir=$work/report" -e "$python_of_ansible" "$@"
ansible-playbook -i localhost, -c local check_report.yml -e "work=$work" -e "$python_of_ansible" "$@"
