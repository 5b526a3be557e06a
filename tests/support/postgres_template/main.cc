// The postgres_template ctest fixture: initdb once per ctest run into the directory
// given, which every PostgresServer of the run copies (tests/support/postgres_server.h).
#include <iostream>

#include "tests/support/postgres_server.h"

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: simkms_postgres_template DIR\n";
    return 2;
  }
  simkms::testing::PostgresServer::MakeTemplate(argv[1]);
  return 0;
}
