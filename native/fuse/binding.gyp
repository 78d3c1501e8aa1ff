{
  "targets": [
    {
      "target_name": "cachalot_fuse",
      "sources": ["src/addon.cc", "src/napi-util.cc", "src/session.cc", "src/requests.cc", "src/init-negotiation.cc", "src/reply-writer.cc", "src/replies.cc", "src/passthrough.cc"],
      "cflags_cc": ["-std=c++17", "-O2", "-Wall", "-Wextra", "-Wno-unused-parameter", "<!@(pkg-config --cflags fuse3)"],
      "libraries": ["<!@(pkg-config --libs fuse3)"],
      "defines": ["FUSE_USE_VERSION=35", "NAPI_VERSION=8"]
    }
  ]
}
