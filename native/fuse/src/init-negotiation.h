// INIT: the first request of a connection, where the kernel and the daemon
// settle the protocol version and features.
#pragma once

#include <cstdint>

#include "fuse-kernel.h"
#include "session.h"

namespace cachalot {

// Answers INIT and reports the outcome to JavaScript (kInit).
void AnswerInit(Session* s, uint64_t unique, const kernel::InitIn& in);

}  // namespace cachalot
