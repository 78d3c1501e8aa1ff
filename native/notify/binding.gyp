{
  "targets": [
    {
      "target_name": "cachalot_notify",
      "sources": ["src/notify.cc"],
      "cflags_cc": ["-std=c++17", "-O2", "-Wall", "-Wextra"],
      "defines": ["NAPI_VERSION=8"]
    }
  ]
}
