#ifndef NNRT_CPROTOBUFC_SHIM_H
#define NNRT_CPROTOBUFC_SHIM_H
#include <protobuf-c/protobuf-c.h>
#endif
