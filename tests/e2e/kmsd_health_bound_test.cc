// /healthz answers within limits.health_timeout_ms whatever the database does
// (sc-engine/daemon/health_check_internal.h): a load balancer must hear "unhealthy"
// from a node whose primary stopped answering, not nothing. The case here is the one
// no libpq timeout bounds: the server keeps its connections open and answers nothing
// (every PostgreSQL process SIGSTOPped, as a network cut without a TCP reset looks).
#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include "tests/e2e/cluster_fixture.h"

namespace simkms::e2e {
namespace {

class KmsdHealthBoundTest : public ClusterFixture {
 protected:
  KmsdHealthBoundTest() { node_count_ = 1; }
};

TEST_F(KmsdHealthBoundTest, HealthzAnswers503InTimeWhileThePrimaryAnswersNothing) {
  ASSERT_EQ(Http(1, "GET", "/healthz").status, 200);

  primary_->Freeze();
  // The fixture's nodes run with the default limits.health_timeout_ms (1500 ms); the
  // client waits 5 s. The first request starts a check that hangs in its database read.
  const HttpResult first = Http(1, "GET", "/healthz");
  // A second one while that check still hangs: it waits for the same check (none is
  // queued behind it) and gets its own answer in time too.
  const HttpResult second = Http(1, "GET", "/healthz");
  primary_->Thaw();

  EXPECT_EQ(first.status, 503) << first.body << NodeLog(1);
  EXPECT_NE(first.body.find("health check did not finish within 1500 ms"), std::string::npos) << first.body;
  EXPECT_EQ(second.status, 503) << second.body;

  // The hung check completes once the server answers again, and so do new ones.
  HttpResult healthy;
  for (int i = 0; i < 100 && healthy.status != 200; ++i) {
    if (i > 0) std::this_thread::sleep_for(std::chrono::milliseconds(100));
    healthy = Http(1, "GET", "/healthz");
  }
  EXPECT_EQ(healthy.status, 200) << healthy.body << NodeLog(1);
}

}  // namespace
}  // namespace simkms::e2e
