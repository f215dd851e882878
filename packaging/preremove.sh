#!/bin/sh
# Before removing (not before an upgrade): stop the service. The store in
# /var/lib/screenpop, the config and the user stay; purge removes the
# config only.
set -e
if [ "$1" = "remove" ] && [ -d /run/systemd/system ]; then
	systemctl disable --now screenpop.service >/dev/null || true
fi
