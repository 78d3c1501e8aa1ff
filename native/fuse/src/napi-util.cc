#include "napi-util.h"

#include <vector>

namespace cachalot {

napi_value Throw(napi_env env, const std::string& message) {
  napi_throw_error(env, "FuseError", message.c_str());
  return nullptr;
}

double NumberArg(napi_env env, napi_value value, bool& ok) {
  double out = 0;
  if (ok && napi_get_value_double(env, value, &out) != napi_ok) {
    Throw(env, "expected a number");
    ok = false;
  }
  return out;
}

std::string StringArg(napi_env env, napi_value value, bool& ok) {
  if (!ok) return {};
  size_t length = 0;
  if (napi_get_value_string_utf8(env, value, nullptr, 0, &length) != napi_ok) {
    Throw(env, "expected a string");
    ok = false;
    return {};
  }
  std::vector<char> buffer(length + 1);
  napi_get_value_string_utf8(env, value, buffer.data(), buffer.size(), &length);
  return std::string(buffer.data(), length);
}

void Export(napi_env env, napi_value exports, const char* name, napi_callback fn) {
  napi_value f;
  napi_create_function(env, name, NAPI_AUTO_LENGTH, fn, nullptr, &f);
  napi_set_named_property(env, exports, name, f);
}

}  // namespace cachalot
