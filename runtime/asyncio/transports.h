// asyncio.transports: the Transport interface (BaseTransport + ReadTransport + WriteTransport).
// Methods a transport does not support raise NotImplementedError, as in CPython. The concrete
// TCP transport is selector_events.h's SelectorSocketTransport.
#pragma once

#include <cstddef>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "runtime/asyncio/protocols.h"
#include "runtime/asyncio/sockets.h"
#include "runtime/pylang/bytes.h"
#include "runtime/pylang/exceptions.h"
#include "runtime/pylang/pyformat.h"

namespace aio {

// A value of transport.get_extra_info(name): None, an address ('peername', 'sockname') or the
// socket ('socket'), or a default given by the caller (an int or a str). repr()/str() print it
// like Python; std::get<SockAddr>(v) takes it apart.
using ExtraInfo = std::variant<NoneType, SockAddr, TransportSocket, int, std::string>;

class Transport : public std::enable_shared_from_this<Transport> {
 public:
  virtual ~Transport() = default;

  // --- BaseTransport
  ExtraInfo get_extra_info(std::string_view name, ExtraInfo default_value = None) const {
    auto it = extra_.find(std::string(name));
    return it == extra_.end() ? default_value : it->second;
  }
  virtual bool is_closing() const { throw NotImplementedError(); }
  virtual void close() { throw NotImplementedError(); }
  virtual void set_protocol(ProtocolPtr /*protocol*/) { throw NotImplementedError(); }
  virtual ProtocolPtr get_protocol() const { throw NotImplementedError(); }

  // --- ReadTransport
  virtual bool is_reading() const { throw NotImplementedError(); }
  virtual void pause_reading() { throw NotImplementedError(); }
  virtual void resume_reading() { throw NotImplementedError(); }

  // --- WriteTransport
  // set_write_buffer_limits(high=None, low=None)
  virtual void set_write_buffer_limits(std::optional<std::size_t> /*high*/ = std::nullopt,
                                       std::optional<std::size_t> /*low*/ = std::nullopt) {
    throw NotImplementedError();
  }
  virtual std::size_t get_write_buffer_size() const { throw NotImplementedError(); }
  // (low, high)
  virtual std::pair<std::size_t, std::size_t> get_write_buffer_limits() const {
    throw NotImplementedError();
  }
  virtual void write(std::string_view /*data*/) { throw NotImplementedError(); }
  // WriteTransport.writelines: write(b''.join(list_of_data)) unless the transport overrides it.
  virtual void writelines(const std::vector<Bytes>& list_of_data) {
    std::string data;
    for (const auto& d : list_of_data) data += d;
    write(data);
  }
  virtual void write_eof() { throw NotImplementedError(); }
  virtual bool can_write_eof() const { throw NotImplementedError(); }
  virtual void abort() { throw NotImplementedError(); }

  virtual std::string repr() const { return "<Transport>"; }

 protected:
  std::map<std::string, ExtraInfo> extra_;
};

}  // namespace aio
