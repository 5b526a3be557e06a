// Loopback TCP ports for the servers a test starts (kmsd's listeners, PostgreSQL, etcd,
// Patroni, a witness receiver).
#pragma once

#include <cstdint>

namespace simkms::testing {

// A loopback port that no listener holds, that this process has never returned before, and
// that no other test process on the machine holds at the same time.
//
// Why not "bind to port 0 and close": the kernel may give the same port again on the next
// call (a kmsd config once got one port for two listeners and refused to start), and a
// port from the ephemeral range can be taken by any outgoing connection's source port
// before the server binds it. So the ports come from below the ephemeral range
// (net.ipv4.ip_local_port_range), a process never hands one out twice, and each is claimed
// with an flock on a file under $TMPDIR/simkms-test-ports that this process keeps until it
// exits (the kernel drops the lock with the process, however it ends), so two tests run
// in parallel by ctest never pick the same one.
uint16_t FreePort();

}  // namespace simkms::testing
