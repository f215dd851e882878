#!/bin/sh
# After installing or upgrading: the screenpop user, its state directory
# and, on systemd machines, the unit.
set -e

if ! getent group screenpop >/dev/null; then
	groupadd --system screenpop
fi
if ! getent passwd screenpop >/dev/null; then
	useradd --system --gid screenpop --home-dir /var/lib/screenpop --no-create-home \
		--shell /usr/sbin/nologin --comment "screenpop daemon" screenpop
fi
install -d -o screenpop -g screenpop -m 0750 /var/lib/screenpop
# The config may hold passwords: readable by root and the daemon only.
chown root:screenpop /etc/screenpop /etc/screenpop/screenpop.yaml
chmod 0750 /etc/screenpop
chmod 0640 /etc/screenpop/screenpop.yaml

if [ -d /run/systemd/system ]; then
	systemctl daemon-reload >/dev/null || true
	if [ "$1" = "configure" ] && [ -n "$2" ]; then
		# An upgrade: the running daemon is replaced by the new one.
		systemctl try-restart screenpop.service >/dev/null || true
	fi
fi
