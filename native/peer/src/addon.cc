// cachalot_peer: the asker's native receive path for the peer service
// (native/README.md, src/cluster/peer-client.ts).
#include <node_api.h>

#include <string>
#include <vector>

#include "h2-client.h"

namespace {

using cachalot::CallResult;
using cachalot::H2Client;

struct Handle {
  H2Client* client = nullptr;
  napi_threadsafe_function done = nullptr;
  bool closed = false;
};

napi_value Throw(napi_env env, const std::string& message) {
  napi_throw_error(env, "PeerNativeError", message.c_str());
  return nullptr;
}

void Set(napi_env env, napi_value object, const char* name, napi_value value) {
  napi_set_named_property(env, object, name, value);
}

napi_value String(napi_env env, const std::string& text) {
  napi_value value;
  napi_create_string_utf8(env, text.data(), text.size(), &value);
  return value;
}

napi_value Number(napi_env env, double number) {
  napi_value value;
  napi_create_double(env, number, &value);
  return value;
}

// On the JavaScript thread: one call's end, as an object, to the onDone given to open().
void CallDone(napi_env env, napi_value onDone, void*, void* data) {
  auto* result = static_cast<CallResult*>(data);
  if (env && onDone) {
    napi_value outcome, undefined;
    napi_create_object(env, &outcome);
    Set(env, outcome, "id", Number(env, static_cast<double>(result->id)));
    Set(env, outcome, "end", Number(env, static_cast<double>(result->end)));
    Set(env, outcome, "code", String(env, result->code));
    Set(env, outcome, "message", String(env, result->message));
    Set(env, outcome, "grpcStatus", String(env, result->grpcStatus));
    Set(env, outcome, "grpcMessage", String(env, result->grpcMessage));
    Set(env, outcome, "crc32c", Number(env, result->crc32c));
    Set(env, outcome, "encoding", Number(env, static_cast<double>(result->encoding)));
    Set(env, outcome, "wireBytes", Number(env, static_cast<double>(result->wireBytes)));
    napi_get_undefined(env, &undefined);
    napi_call_function(env, undefined, onDone, 1, &outcome, nullptr);
  }
  delete result;
}

void CloseHandle(napi_env env, Handle* handle) {
  if (handle->closed) return;
  handle->closed = true;
  // Joins the client's thread: no target is written after this; the calls it ended are queued to onDone.
  handle->client->Close();
  napi_release_threadsafe_function(handle->done, napi_tsfn_release);
}

void Finalize(napi_env env, void* data, void*) {
  auto* handle = static_cast<Handle*>(data);
  CloseHandle(env, handle);
  delete handle->client;
  delete handle;
}

// The arguments of a call on a client, its handle first; null (and a JS error saying `usage`) when they are not.
Handle* HandleCall(napi_env env, napi_callback_info info, size_t count, napi_value* argv, const char* usage) {
  size_t argc = count;
  napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr);
  void* data = nullptr;
  if (argc != count || napi_get_value_external(env, argv[0], &data) != napi_ok || !data) {
    Throw(env, usage);
    return nullptr;
  }
  return static_cast<Handle*>(data);
}

bool StringOf(napi_env env, napi_value value, std::string& text) {
  size_t length = 0;
  if (napi_get_value_string_utf8(env, value, nullptr, 0, &length) != napi_ok) return false;
  text.resize(length);
  return napi_get_value_string_utf8(env, value, text.data(), length + 1, &length) == napi_ok;
}

// The PEM text of tls[name] (a Buffer), empty when it is not there.
bool PemOf(napi_env env, napi_value tls, const char* name, std::string& pem) {
  bool has = false;
  if (napi_has_named_property(env, tls, name, &has) != napi_ok) return false;
  if (!has) return true;
  napi_value value;
  void* data = nullptr;
  size_t size = 0;
  napi_get_named_property(env, tls, name, &value);
  napi_valuetype type;
  napi_typeof(env, value, &type);
  if (type == napi_undefined) return true;
  if (napi_get_buffer_info(env, value, &data, &size) != napi_ok) return false;
  pem.assign(static_cast<const char*>(data), size);
  return true;
}

// open(onDone, receiveWindow, tls?): a client and its thread; onDone(outcome)
// hears of each call; tls {ca?, cert?, key?} (PEM Buffers): every peer is
// called over TLS, as src/rpc/types.ts describes.
napi_value Open(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr);
  int32_t window = 0;
  if (argc < 2 || napi_get_value_int32(env, argv[1], &window) != napi_ok || window <= 0) return Throw(env, "open(onDone, receiveWindow, tls?)");
  std::unique_ptr<cachalot::TlsContext> tls;
  napi_valuetype tlsType = napi_undefined;
  if (argc > 2) napi_typeof(env, argv[2], &tlsType);
  if (tlsType == napi_object) {
    cachalot::TlsFiles files;
    if (!PemOf(env, argv[2], "ca", files.ca) || !PemOf(env, argv[2], "cert", files.cert) || !PemOf(env, argv[2], "key", files.key)) {
      return Throw(env, "open: tls.ca, tls.cert and tls.key must be Buffers");
    }
    std::string error;
    tls = cachalot::TlsContext::Make(files, error);
    if (!tls) return Throw(env, "TLS: " + error);
  }
  auto* handle = new Handle();
  napi_value name = String(env, "cachalot peer client");
  if (napi_create_threadsafe_function(env, argv[0], nullptr, name, 0, 1, nullptr, nullptr, nullptr, CallDone, &handle->done) != napi_ok) {
    delete handle;
    return Throw(env, "open: onDone must be a function");
  }
  // An idle client never keeps the process alive; the calls' own promises are what callers wait on.
  napi_unref_threadsafe_function(env, handle->done);
  napi_threadsafe_function done = handle->done;
  handle->client = new H2Client(window, std::move(tls), [done](CallResult result) {
    auto* copy = new CallResult(std::move(result));
    if (napi_call_threadsafe_function(done, copy, napi_tsfn_nonblocking) != napi_ok) delete copy;
  });
  napi_value external;
  napi_create_external(env, handle, Finalize, nullptr, &external);
  return external;
}

// fetch(handle, id, address, headers: [name, value, ...], body, target, timeoutMs)
napi_value Fetch(napi_env env, napi_callback_info info) {
  napi_value argv[7];
  Handle* handle = HandleCall(env, info, 7, argv, "fetch(handle, id, address, headers, body, target, timeoutMs)");
  if (!handle) return nullptr;
  if (handle->closed) return Throw(env, "fetch: the client is closed");
  cachalot::Call call;
  double id = 0, timeout = 0;
  napi_get_value_double(env, argv[1], &id);
  napi_get_value_double(env, argv[6], &timeout);
  call.id = static_cast<uint64_t>(id);
  call.timeoutMs = static_cast<int64_t>(timeout);
  if (!StringOf(env, argv[2], call.address)) return Throw(env, "fetch: address must be a string");
  uint32_t count = 0;
  napi_get_array_length(env, argv[3], &count);
  std::vector<std::string> texts(count);
  for (uint32_t i = 0; i < count; i++) {
    napi_value item;
    napi_get_element(env, argv[3], i, &item);
    if (!StringOf(env, item, texts[i])) return Throw(env, "fetch: headers must be strings");
  }
  for (uint32_t i = 0; i + 1 < count; i += 2) call.headers.emplace_back(std::move(texts[i]), std::move(texts[i + 1]));
  void* data = nullptr;
  size_t size = 0;
  if (napi_get_buffer_info(env, argv[4], &data, &size) != napi_ok) return Throw(env, "fetch: body must be a Buffer");
  call.body.assign(static_cast<const char*>(data), size);
  if (napi_get_buffer_info(env, argv[5], &data, &size) != napi_ok) return Throw(env, "fetch: target must be a Buffer");
  call.target = static_cast<uint8_t*>(data);
  call.length = size;
  handle->client->Submit(std::move(call));
  return nullptr;
}

// close(handle): the calls still running end (outcome "closing"); nothing writes their targets after it returns.
napi_value Close(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  Handle* handle = HandleCall(env, info, 1, argv, "close(handle)");
  if (handle) CloseHandle(env, handle);
  return nullptr;
}

napi_value Init(napi_env env, napi_value exports) {
  napi_property_descriptor functions[] = {
      {"open", nullptr, Open, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"fetch", nullptr, Fetch, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"close", nullptr, Close, nullptr, nullptr, nullptr, napi_default, nullptr},
  };
  napi_define_properties(env, exports, 3, functions);
  return exports;
}

}  // namespace

NAPI_MODULE(NODE_GYP_MODULE_NAME, Init)
