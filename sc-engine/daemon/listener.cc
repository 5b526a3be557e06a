#include "sc-engine/daemon/listener_internal.h"

#include <sys/stat.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <iostream>
#include <set>
#include <type_traits>

#include "sc-engine/daemon/metrics.h"

namespace simkms::daemon {
namespace {

namespace asio = boost::asio;
constexpr std::chrono::milliseconds kFirstBackoff{50};
constexpr std::chrono::milliseconds kMaxBackoff{1000};
const char kRefused[] = "simkms_connections_refused_total";

// Out of descriptors (process or system) or of kernel memory: nothing this
// listener does will make the next accept succeed sooner; time might.
bool IsResourceExhaustion(const boost::system::error_code& ec) {
  if (ec.category() != boost::system::system_category()) return false;
  const int e = ec.value();
  return e == EMFILE || e == ENFILE || e == ENOBUFS || e == ENOMEM;
}

template <class Protocol>
constexpr bool kIsUnix = std::is_same_v<Protocol, asio::local::stream_protocol>;

}  // namespace

template <class Protocol>
struct Listener<Protocol>::Loop : std::enable_shared_from_this<Loop> {
  using Acceptor = typename Protocol::acceptor;

  Loop(asio::io_context& io, std::string listener_name, std::size_t max_connections, Metrics& m, OnAccept accept)
      : io(io),
        strand(asio::make_strand(io)),
        acceptor(strand),
        backoff_timer(strand),
        name(std::move(listener_name)),
        metrics(m),
        on_accept(std::move(accept)),
        connections(std::make_shared<ConnectionCounter>(name, max_connections, m)) {
    // At 0 from the start, so that an alert on refusals sees the first one as an increase.
    for (const char* reason : {"cap", "fd_exhausted", "accept_error"}) {
      metrics.Declare(kRefused, {{"listener", name}, {"reason", reason}});
    }
  }

  void Accept() {
    acceptor.async_accept(asio::make_strand(io), [self = this->shared_from_this()](auto ec, Socket socket) {
      self->OnAccepted(ec, std::move(socket));
    });
  }

  void OnAccepted(const boost::system::error_code& ec, Socket socket) {
    if (ec == asio::error::operation_aborted || stopped) return;
    if (ec) return BackOff(ec);
    backoff = std::chrono::milliseconds(0);
    if (std::optional<ConnectionSlot> slot = connections->TryTake()) {
      on_accept(std::move(socket), std::move(*slot));
    } else {
      // At the cap: closed at once (the socket's destructor would too; said here).
      metrics.Count(kRefused, {{"listener", name}, {"reason", "cap"}});
      boost::system::error_code ignored;
      socket.close(ignored);
    }
    Accept();
  }

  void BackOff(const boost::system::error_code& ec) {
    const bool exhausted = IsResourceExhaustion(ec);
    metrics.Count(kRefused, {{"listener", name}, {"reason", exhausted ? "fd_exhausted" : "accept_error"}});
    if (logged.insert(ec.value()).second) {
      std::cerr << "kmsd: " << name << " listener: accept failed: " << ec.message()
                << " (backing off up to 1 s; logged once, counted in " << kRefused << ")\n";
    }
    backoff = std::clamp(backoff * 2, kFirstBackoff, kMaxBackoff);
    backoff_timer.expires_after(backoff);
    backoff_timer.async_wait([self = this->shared_from_this()](auto wait_ec) {
      if (wait_ec || self->stopped) return;
      self->Accept();
    });
  }

  // On the strand, or when the io_context no longer runs (destruction).
  void Close() {
    if (stopped) return;
    stopped = true;
    boost::system::error_code ignored;
    backoff_timer.cancel();
    if constexpr (kIsUnix<Protocol>) {
      const auto path = acceptor.local_endpoint(ignored).path();
      if (!ignored && !path.empty()) ::unlink(path.c_str());
    }
    acceptor.close(ignored);
  }

  asio::io_context& io;
  asio::strand<asio::io_context::executor_type> strand;  // the acceptor's and the timer's handlers
  Acceptor acceptor;
  asio::steady_timer backoff_timer;
  const std::string name;
  Metrics& metrics;
  const OnAccept on_accept;
  const std::shared_ptr<ConnectionCounter> connections;
  std::chrono::milliseconds backoff{0};
  std::set<int> logged;  // error values already logged
  bool stopped = false;
};

template <class Protocol>
StatusOr<std::unique_ptr<Listener<Protocol>>> Listener<Protocol>::Start(asio::io_context& io, const Endpoint& endpoint,
                                                                        const std::string& name,
                                                                        std::size_t max_connections, Metrics& metrics,
                                                                        OnAccept on_accept) {
  auto loop = std::make_shared<Loop>(io, name, max_connections, metrics, std::move(on_accept));
  boost::system::error_code ec;
  loop->acceptor.open(endpoint.protocol(), ec);
  if constexpr (kIsUnix<Protocol>) {
    ::unlink(endpoint.path().c_str());  // a stale socket from a crash
    const mode_t old_mask = umask(0077);  // the socket file is created 0600
    if (!ec) loop->acceptor.bind(endpoint, ec);
    umask(old_mask);
  } else {
    if (!ec) loop->acceptor.set_option(asio::socket_base::reuse_address(true), ec);
    if (!ec) loop->acceptor.bind(endpoint, ec);
  }
  if (!ec) loop->acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    std::string where;
    if constexpr (kIsUnix<Protocol>) {
      where = endpoint.path();
    } else {
      where = endpoint.address().to_string() + ":" + std::to_string(endpoint.port());
    }
    return UnavailableError(name + " cannot listen on " + where + ": " + ec.message());
  }
  loop->Accept();
  return std::unique_ptr<Listener>(new Listener(std::move(loop)));
}

template <class Protocol>
Listener<Protocol>::~Listener() {
  // The io_context has stopped by now (the Daemon destroys listeners after
  // Run), so nothing else runs on the strand: close here, not by a post.
  loop_->Close();
}

template <class Protocol>
void Listener<Protocol>::Stop() {
  asio::dispatch(loop_->strand, [loop = loop_] { loop->Close(); });
}

template <class Protocol>
typename Listener<Protocol>::Endpoint Listener<Protocol>::local_endpoint() const {
  boost::system::error_code ignored;
  return loop_->acceptor.local_endpoint(ignored);
}

template class Listener<asio::ip::tcp>;
template class Listener<asio::local::stream_protocol>;

StatusOr<std::unique_ptr<TcpListener>> StartTcpListener(asio::io_context& io, const ListenerConfig& config,
                                                        Metrics& metrics, TcpListener::OnAccept on_accept) {
  boost::system::error_code ec;
  const asio::ip::address address = asio::ip::make_address(config.address, ec);
  if (ec) return InvalidArgumentError(config.name + " address " + config.address + ": " + ec.message());
  return TcpListener::Start(io, asio::ip::tcp::endpoint(address, config.port), config.name, config.max_connections,
                            metrics, std::move(on_accept));
}

}  // namespace simkms::daemon
