// The postgres_shared ctest fixture: `start DIR` starts the server that the tests
// requiring the fixture share (each makes databases of its own on it), `stop DIR`
// stops it (tests/support/postgres_server.h, PostgresServer::StartShared).
#include <unistd.h>

#include <iostream>
#include <string>

#include "tests/support/postgres_server.h"

int main(int argc, char** argv) {
  const std::string command = argc == 3 ? argv[1] : "";
  if (command == "start") {
    // Our parent is ctest: the server goes when the run does, even if `stop` never runs.
    simkms::testing::PostgresServer::StartShared(argv[2], getppid());
    return 0;
  }
  if (command == "stop") {
    simkms::testing::PostgresServer::StopShared(argv[2]);
    return 0;
  }
  std::cerr << "usage: simkms_postgres_shared start|stop DIR\n";
  return 2;
}
