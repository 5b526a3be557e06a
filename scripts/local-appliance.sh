# Sourced by scripts/demo.sh and scripts/bench.sh: the pieces both need to run
# an appliance on this machine (a throwaway SoftHSM token under a state folder,
# ICCID check digits, free loopback ports). Not a command of its own.

# Points SoftHSM and kmsctl/kmsd at a token and DB under $1 (made by the caller,
# with umask 077), with random PINs in owner-only files: never on a command line.
# Needs SOFTHSM_MODULE.
local_token_state() {
  local state="$1"
  mkdir -p "$state/tokens"
  export SOFTHSM2_CONF="$state/softhsm2.conf"
  printf 'directories.tokendir = %s\nobjectstore.backend = file\nlog.level = ERROR\nslots.removable = false\n' \
    "$state/tokens" > "$SOFTHSM2_CONF"
  head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$state/user.pin"
  head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$state/so.pin"
  export SIMKMS_MODULE="$SOFTHSM_MODULE" SIMKMS_PIN_FILE="$state/user.pin" SIMKMS_DB="$state/db"
  export SIMKMS_TOKEN="pkcs11:token=simkms"
}

# Luhn check digit of an ICCID body (ITU-T E.118).
luhn() {
  local body="$1" sum=0 i d pos
  for ((i = ${#body} - 1, pos = 0; i >= 0; i--, pos++)); do
    d=${body:i:1}
    if ((pos % 2 == 0)); then d=$((d * 2)); ((d > 9)) && d=$((d - 9)); fi
    sum=$((sum + d))
  done
  echo $(((10 - sum % 10) % 10))
}

# A loopback port nobody listens on (nothing answers a connect).
free_port() {
  local p
  while :; do
    p=$((20000 + RANDOM % 40000))
    (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null || { echo "$p"; return; }
  done
}
