// Small helpers over the N-API C interface.
#pragma once

#include <node_api.h>

#include <string>

namespace cachalot {

// Throws a JS Error (code "FuseError") and returns nullptr, for `return Throw(...)`.
napi_value Throw(napi_env env, const std::string& message);

// Reads argument i as a number / string; sets ok to false (and throws) on a wrong type.
double NumberArg(napi_env env, napi_value value, bool& ok);
std::string StringArg(napi_env env, napi_value value, bool& ok);

// Defines a function property on exports.
void Export(napi_env env, napi_value exports, const char* name, napi_callback fn);

}  // namespace cachalot
