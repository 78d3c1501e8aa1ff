// The functions of the cachalot_io addon, one file each; addon.cc exports them.
#pragma once
#include <node_api.h>

napi_value AlignedBufferFunction(napi_env env);
napi_value Crc32cFunction(napi_env env);
napi_value Crc32cOfRangeFunction(napi_env env);
napi_value PunchHoleFunction(napi_env env);
napi_value ReadAheadFunction(napi_env env);
napi_value TryLockFunction(napi_env env);
