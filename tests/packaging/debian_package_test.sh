#!/usr/bin/env bash
# debian_package_test.sh BUILD_DIR SOURCE_DIR VERSION: the Debian package (packaging/), built by
# cpack from this build tree's binaries (those of the ctest run: the ASan build under
# `scripts/simkms.sh test`; `scripts/simkms.sh package` makes the release one the same way),
# then checked as dpkg and lintian see it and installed into a scratch root.
#
# Installing: `dpkg --root` into an empty directory with its own dpkg database, running the
# real postinst "chrootless" (--force-script-chrootless): dpkg sets DPKG_ROOT and postinst
# writes under it (systemd-sysusers --root, chown/chmod of $DPKG_ROOT/...). The scratch root
# has no libc or systemd packages, so --force-depends; the dependencies themselves are
# dpkg-shlibdeps' (control file) and lintian checks the rest. Running the scripts chrooted
# would need a whole Debian in the root (debootstrap: a download); extracting with
# dpkg-deb -x and imitating postinst would test an imitation.
#
# Needs root (postinst chowns to the simkms user). A missing tool fails the test, naming
# the package to install; nothing is skipped.
set -euo pipefail

BUILD=$1 SRC=$2 VERSION=$3
DEB_VERSION="$VERSION-1"   # packaging/CMakeLists.txt SIMKMS_DEB_REVISION

fail() { echo "FAIL: $*" >&2; exit 1; }
need() { command -v "$1" > /dev/null || fail "$1 is missing: apt-get install $2 (scripts/simkms.sh install)"; }
need cpack cmake
need dpkg dpkg
need dpkg-deb dpkg
need dpkg-shlibdeps dpkg-dev
need lintian lintian
need help2man help2man
need systemd-analyze systemd
need systemd-sysusers systemd
[ "$(id -u)" -eq 0 ] || fail "must run as root: the package's postinst chowns to the simkms user"

TMP=$(mktemp -d /tmp/simkms-deb-test.XXXXXX)
trap 'rm -rf "$TMP"' EXIT

echo "== cpack on $BUILD"
cpack --config "$BUILD/CPackConfig.cmake" -B "$TMP/out" > "$TMP/cpack.log" 2>&1 ||
  { cat "$TMP/cpack.log" >&2; fail "cpack failed"; }
DEB="$TMP/out/simkms_${DEB_VERSION}_amd64.deb"
[ -f "$DEB" ] || fail "cpack made no $(basename "$DEB"): $(ls "$TMP/out")"

echo "== lintian"
# Warnings count as failures: every tag lintian still reports must be fixed or overridden,
# with its reason, in packaging/lintian-overrides.
# -I: also the informational tags, among them unused-override: an override whose tag no
# longer fires (the reason went away) must go too.
lintian -I --fail-on error,warning "$DEB" > "$TMP/lintian.log" 2>&1 ||
  { cat "$TMP/lintian.log" >&2; fail "lintian reports tags (fix them or override them in packaging/lintian-overrides)"; }
if grep 'unused-override' "$TMP/lintian.log" >&2; then
  fail "packaging/lintian-overrides overrides tags lintian no longer reports: remove them"
fi

echo "== dpkg-deb -c: every file, its mode and owner"
# "mode owner path", one a line, as dpkg-deb -c lists them (path without the leading ".").
dpkg-deb -c "$DEB" | awk '{ p = $6; sub(/^\./, "", p); print $1, $2, p }' | sort > "$TMP/contents"
{
  for d in /etc/ /lib/ /lib/systemd/ /lib/systemd/system/ /usr/ /usr/bin/ /usr/lib/ /usr/lib/sysusers.d/ \
           /usr/sbin/ /usr/share/ /usr/share/doc/ /usr/share/doc/simkms/ /usr/share/doc/simkms/docs/ \
           /usr/share/lintian/ /usr/share/lintian/overrides/ /usr/share/man/ /usr/share/man/man1/ \
           /usr/share/man/man8/ /usr/share/simkms/ /usr/share/simkms/monitoring/ /var/ /var/lib/; do
    echo "drwxr-xr-x root/root $d"
  done
  # Root and the simkms group only (postinst gives them to the group; the .deb cannot).
  echo "drwxr-x--- root/root /etc/simkms/"
  echo "-rw-r----- root/root /etc/simkms/kmsd.json"
  echo "drwxr-x--- root/root /var/lib/simkms/"
  echo "-rwxr-xr-x root/root /usr/sbin/kmsd"
  for t in kmsctl simkms-mfr chipsim simkms-gsup; do
    echo "-rwxr-xr-x root/root /usr/bin/$t"
    echo "-rw-r--r-- root/root /usr/share/man/man1/$t.1.gz"
  done
  echo "-rw-r--r-- root/root /usr/share/man/man8/kmsd.8.gz"
  for f in /lib/systemd/system/simkms.service /usr/lib/sysusers.d/simkms.conf /usr/share/doc/simkms/README.md \
           /usr/share/doc/simkms/changelog.Debian.gz /usr/share/doc/simkms/copyright \
           /usr/share/lintian/overrides/simkms; do
    echo "-rw-r--r-- root/root $f"
  done
  for f in prometheus.yml simkms-alerts.yml grafana-simkms.json; do
    echo "-rw-r--r-- root/root /usr/share/simkms/monitoring/$f"
  done
  for f in "$SRC"/docs/*.md; do echo "-rw-r--r-- root/root /usr/share/doc/simkms/docs/$(basename "$f")"; done
  # The benchmark charts docs/performance.md shows (tools/bench/bench_report.py draws them).
  if compgen -G "$SRC/docs/perf/*.svg" > /dev/null; then
    echo "drwxr-xr-x root/root /usr/share/doc/simkms/docs/perf/"
    for f in "$SRC"/docs/perf/*.svg; do echo "-rw-r--r-- root/root /usr/share/doc/simkms/docs/perf/$(basename "$f")"; done
  fi
} | sort > "$TMP/expected"
diff -u "$TMP/expected" "$TMP/contents" || fail "the package's files, modes or owners differ (- expected, + in the .deb)"

echo "== control: conffiles, version"
dpkg-deb -e "$DEB" "$TMP/control"
[ "$(cat "$TMP/control/conffiles")" = /etc/simkms/kmsd.json ] ||
  fail "conffiles lists '$(cat "$TMP/control/conffiles")', not /etc/simkms/kmsd.json"
[ "$(dpkg-deb -f "$DEB" Version)" = "$DEB_VERSION" ] || fail "Version is $(dpkg-deb -f "$DEB" Version), not $DEB_VERSION"

echo "== the unit docs/operations.md shows is the one the package ships"
# The ```ini block under "## A systemd unit".
awk '/^## A systemd unit/ { s = 1 } s == 1 && /^```ini/ { s = 2; next } s == 2 && /^```/ { exit } s == 2' \
  "$SRC/docs/operations.md" > "$TMP/doc.service"
diff -u "$SRC/packaging/simkms.service" "$TMP/doc.service" ||
  fail "docs/operations.md \"A systemd unit\" differs from packaging/simkms.service (- shipped, + doc)"

echo "== dpkg --root: install into a scratch root"
R="$TMP/root"
mkdir -p "$R/var/lib/dpkg/info" "$R/var/lib/dpkg/updates" "$R/etc"
touch "$R/var/lib/dpkg/status"
printf 'root:x:0:0:root:/root:/bin/sh\n' > "$R/etc/passwd"
printf 'root:x:0:\n' > "$R/etc/group"
dpkg --root="$R" --force-script-chrootless --force-depends --log=/dev/null -i "$DEB" > "$TMP/dpkg.log" 2>&1 ||
  { cat "$TMP/dpkg.log" >&2; fail "dpkg -i into the scratch root failed"; }
[ "$(dpkg-query --root="$R" -W -f='${Status}' simkms)" = "install ok installed" ] ||
  fail "simkms is not 'install ok installed' in the scratch root: $(dpkg-query --root="$R" -W -f='${Status}' simkms)"
dpkg-query --root="$R" -W -f='${Conffiles}\n' simkms | grep -q '^ /etc/simkms/kmsd.json [0-9a-f]\{32\}$' ||
  fail "dpkg did not record /etc/simkms/kmsd.json as a conffile: $(dpkg-query --root="$R" -W -f='${Conffiles}' simkms)"

echo "== postinst: the simkms system user and the owners"
IFS=: read -r _ _ uid gid _ home shell < <(grep '^simkms:' "$R/etc/passwd") || fail "postinst created no simkms user"
grep -q "^simkms:x:$gid:" "$R/etc/group" || fail "no simkms group with the user's gid $gid"
if [ "$uid" -lt 1 ] || [ "$uid" -gt 999 ]; then fail "simkms has uid $uid, not a system uid (1..999)"; fi
[ "$shell" = /usr/sbin/nologin ] || fail "simkms's shell is $shell, not /usr/sbin/nologin"
[ "$home" = /var/lib/simkms ] || fail "simkms's home is $home, not /var/lib/simkms"
check_stat() {  # path "mode uid gid"
  local got
  got=$(stat -c '%a %u %g' "$R$1")
  [ "$got" = "$2" ] || fail "$1 is '$got' (mode uid gid), expected '$2'"
}
check_stat /etc/simkms "750 0 $gid"
check_stat /etc/simkms/kmsd.json "640 0 $gid"
check_stat /var/lib/simkms "750 $uid $gid"
check_stat /usr/sbin/kmsd "755 0 0"

echo "== reinstalling (postinst configures again): one user, dpkg-statoverride honoured"
dpkg-statoverride --root "$R" --update --add root root 0700 /var/lib/simkms
dpkg --root="$R" --force-script-chrootless --force-depends --log=/dev/null -i "$DEB" > "$TMP/dpkg.log" 2>&1 ||
  { cat "$TMP/dpkg.log" >&2; fail "reinstalling into the scratch root failed"; }
[ "$(grep -c '^simkms:' "$R/etc/passwd")" -eq 1 ] || fail "a second configure added another simkms user"
check_stat /var/lib/simkms "700 0 0"
check_stat /etc/simkms "750 0 $gid"
dpkg-statoverride --root "$R" --remove /var/lib/simkms

echo "== the example configuration parses (kmsd --check-config)"
# The packaged kmsd on the packaged file: it must parse and be safe but for the secrets the
# operator creates (PIN file, TLS CA, certificate and key), which kmsd names. Its /etc/simkms
# paths are pointed into the scratch root, so that a host with simkms installed (and its
# secrets in /etc/simkms) checks the same.
rc=0
sed "s|/etc/simkms/|$R/etc/simkms/|g" "$R/etc/simkms/kmsd.json" > "$TMP/kmsd.json"
"$R/usr/sbin/kmsd" --check-config --config "$TMP/kmsd.json" > "$TMP/check.raw" 2>&1 || rc=$?
sed "s|$R||g" "$TMP/check.raw" > "$TMP/check.log"
cat > "$TMP/check.expected" <<'END'
kmsd: FAILED_PRECONDITION: unsafe configuration, refusing to start:
  - token.pin_file /etc/simkms/user.pin does not exist
  - tls.ca /etc/simkms/ca.crt cannot be read
  - tls.cert /etc/simkms/kmsd.crt cannot be read
  - tls.key /etc/simkms/kmsd.key does not exist
END
[ "$rc" -eq 1 ] || fail "kmsd --check-config exited $rc, expected 1 (the missing secrets): $(cat "$TMP/check.log")"
diff -u "$TMP/check.expected" "$TMP/check.log" ||
  fail "kmsd --check-config on the example says more than that its secrets are missing"

echo "== systemd-analyze verify --root"
# systemd needs its own targets (sysinit.target, ...) to build the unit's start job: the host's,
# copied into the root after the file checks. Documentation=man:kmsd(8) is looked up with
# man on the root's pages.
for t in /lib/systemd/system/*.target; do
  [ -e "$R/lib/systemd/system/$(basename "$t")" ] || cp -P "$t" "$R/lib/systemd/system/"
done
MANPATH="$R/usr/share/man" systemd-analyze verify --root="$R" /lib/systemd/system/simkms.service \
  > "$TMP/verify.log" 2>&1 || { cat "$TMP/verify.log" >&2; fail "systemd-analyze verify rejects simkms.service"; }
[ ! -s "$TMP/verify.log" ] || { cat "$TMP/verify.log" >&2; fail "systemd-analyze verify warns about simkms.service"; }

echo "PASS: $(basename "$DEB")"
