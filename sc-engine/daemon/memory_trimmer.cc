#include "sc-engine/daemon/memory_trimmer.h"

#include <malloc.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>

namespace simkms::daemon {

struct MemoryTrimmer::Rep : std::enable_shared_from_this<MemoryTrimmer::Rep> {
  Rep(boost::asio::io_context& io, std::chrono::milliseconds p) : timer(boost::asio::make_strand(io)), period(p) {}
  boost::asio::steady_timer timer;  // on its own strand: Stop may come from any I/O thread
  const std::chrono::milliseconds period;
  bool stopped = false;  // on the strand

  void Arm() {
    timer.expires_after(period);
    timer.async_wait([self = shared_from_this()](const boost::system::error_code& ec) {
      if (ec || self->stopped) return;  // cancelled: kmsd is stopping
      malloc_trim(0);
      self->Arm();
    });
  }
};

std::unique_ptr<MemoryTrimmer> MemoryTrimmer::Start(boost::asio::io_context& io, std::chrono::milliseconds period) {
  auto rep = std::make_shared<Rep>(io, period);
  boost::asio::post(rep->timer.get_executor(), [rep] { rep->Arm(); });
  return std::unique_ptr<MemoryTrimmer>(new MemoryTrimmer(std::move(rep)));
}

MemoryTrimmer::MemoryTrimmer(std::shared_ptr<Rep> rep) : rep_(std::move(rep)) {}

MemoryTrimmer::~MemoryTrimmer() { Stop(); }

void MemoryTrimmer::Stop() {
  boost::asio::post(rep_->timer.get_executor(), [rep = rep_] {
    rep->stopped = true;
    rep->timer.cancel();
  });
}

}  // namespace simkms::daemon
