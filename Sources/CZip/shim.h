#ifndef GRAFT_CZIP_SHIM_H
#define GRAFT_CZIP_SHIM_H
#include <zip.h>
#endif
