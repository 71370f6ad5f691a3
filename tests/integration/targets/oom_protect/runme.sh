#!/usr/bin/env bash
# The collection has a role named oom_protect too: a target run as a role of
# that name would run the collection's role. Run the tasks from a playbook.
set -eux
ansible-playbook -i ../../inventory runme.yml "$@"
