# shellcheck shell=bash
# apt-get that waits for another apt or dpkg (unattended-upgrades, a parallel install) instead
# of failing at once. Sourced by scripts/test.sh and .ci/run.
#
# `install` waits for the dpkg lock by itself with DPkg::Lock::Timeout (apt >= 1.9.11);
# `update` takes the package lists' lock, which that option does not cover, so apt_update
# retries while apt says the lock is held, for up to APT_LOCK_WAIT seconds (default 300).

apt_lock_wait=${APT_LOCK_WAIT:-300}

apt_update() {
  local waited=0 err
  until err=$(apt-get -o DPkg::Lock::Timeout="$apt_lock_wait" update -qq 2>&1 >/dev/null); do
    case "$err" in
      *"Could not get lock"* | *"Unable to lock"*) ;;
      *) printf '%s\n' "$err" >&2; return 1 ;;
    esac
    if [ "$waited" -ge "$apt_lock_wait" ]; then
      printf '%s\n' "$err" >&2
      return 1
    fi
    [ "$waited" -gt 0 ] || echo "apt-get update: waiting for another apt to finish" >&2
    sleep 5
    waited=$((waited + 5))
  done
}

apt_install() { # apt_install PACKAGE...
  DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout="$apt_lock_wait" \
    install -y -qq "$@" >/dev/null
}
