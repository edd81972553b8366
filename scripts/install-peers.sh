#!/bin/sh
# Install the real peers the tests talk to (Prometheus, Alertmanager) from Debian packages.
#
# Idempotent: does nothing when both binaries are present. Never fails the build: when apt
# is missing or the install fails it says why and exits 0; the tests then skip with the
# reason, or fail when VIGIL_REQUIRE_SERVICES=1.
#
# The packages' postinst would start daemons on the fixed ports 9090/9093 (the harness in
# vigil.testing.promstack uses free ports, but a stray daemon still wastes memory), so a
# temporary policy-rc.d forbids service starts while apt runs, unless one already exists.

set -u

PROMETHEUS=/usr/bin/prometheus
ALERTMANAGER=/usr/bin/prometheus-alertmanager
PACKAGES="prometheus prometheus-alertmanager"
POLICY=/usr/sbin/policy-rc.d

if [ -x "$PROMETHEUS" ] && [ -x "$ALERTMANAGER" ]; then
    exit 0
fi

if ! command -v apt-get >/dev/null 2>&1; then
    echo "install-peers: apt-get not found; not installing $PACKAGES (tests needing them skip)"
    exit 0
fi

if [ "$(id -u)" -eq 0 ]; then
    SUDO=""
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    SUDO="sudo -n"
else
    echo "install-peers: not root and no password-less sudo; not installing $PACKAGES"
    exit 0
fi

if [ ! -e "$POLICY" ]; then
    # Exit code 101 = "action forbidden": invoke-rc.d and deb-systemd-invoke start nothing.
    trap '$SUDO rm -f "$POLICY"' EXIT
    trap 'exit 130' INT TERM
    printf '#!/bin/sh\nexit 101\n' | $SUDO tee "$POLICY" >/dev/null && $SUDO chmod 755 "$POLICY"
fi

status=0
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -qq || status=$?
if [ "$status" -eq 0 ]; then
    $SUDO env DEBIAN_FRONTEND=noninteractive \
        apt-get install -y -qq --no-install-recommends $PACKAGES || status=$?
fi

if [ "$status" -ne 0 ]; then
    echo "install-peers: apt-get failed (exit $status); $PACKAGES not installed"
    exit 0
fi
echo "install-peers: installed $PACKAGES"
exit 0
